"""Who may act on a lead in Slack: allowed users, a user group, channel members, owner or manager;
everyone else is told privately and changes nothing."""

from __future__ import annotations

from starlette.testclient import TestClient

from bot.runtime import build_runtime
from bot.web import create_app
from tests.bot.conftest import dispatcher, slack_settings
from tests.bot.fake_slack import FakeSlack, wait_until
from tests.bot.slack_helpers import (
    click,
    get,
    make_lead,
    post_command,
    post_interaction,
    submit,
    typed_value,
)


def test_people_not_allowed_are_told_privately(store, fake_slack: FakeSlack) -> None:  # type: ignore[no-untyped-def]
    settings = slack_settings(
        store.url, fake_slack, slack_allowed_users="UALLOWED", slack_allowed_usergroup="SREPS"
    )
    fake_slack.usergroups["SREPS"] = ["UREP"]
    runtime = build_runtime(settings, store=store)
    lead_id = make_lead(store)
    with TestClient(create_app(runtime)) as client:
        post_interaction(client, click("lead_claim", lead_id, user="USTRANGER"))
        [told] = fake_slack.wait_for("chat.postEphemeral")
        assert told.args["user"] == "USTRANGER" and "not allowed" in told.args["text"]
        assert get(store, lead_id).status == "announced"
        post_interaction(client, click("lead_claim", lead_id, user="UREP"))  # via the user group
        wait_until(lambda: get(store, lead_id).owner == "UREP")


def test_channel_members_may_act_when_configured(store, fake_slack: FakeSlack) -> None:  # type: ignore[no-untyped-def]
    settings = slack_settings(store.url, fake_slack, slack_allow_channel_members=True)
    fake_slack.channel_members["CHOT"] = ["UMEMBER"]
    runtime = build_runtime(settings, store=store)
    lead_id = make_lead(store)
    with TestClient(create_app(runtime)) as client:
        post_interaction(client, click("lead_claim", lead_id, user="UOUTSIDER"))
        fake_slack.wait_for("chat.postEphemeral")
        post_interaction(client, click("lead_claim", lead_id, user="UMEMBER"))
        wait_until(lambda: get(store, lead_id).owner == "UMEMBER")
    assert len(fake_slack.to("conversations.members")) == 1  # cached between the two clicks


def test_only_owner_or_manager_may_nurture_or_close(store, fake_slack: FakeSlack) -> None:  # type: ignore[no-untyped-def]
    runtime = build_runtime(
        slack_settings(store.url, fake_slack, slack_managers="UBOSS"), store=store
    )
    lead_id = make_lead(store)
    with TestClient(create_app(runtime)) as client:
        post_interaction(client, click("lead_claim", lead_id, user="UOWNER"))
        wait_until(lambda: get(store, lead_id).owner == "UOWNER")
        post_interaction(client, click("lead_won", lead_id, user="UOTHER"))
        post_interaction(client, click("lead_nurture", lead_id, user="UOTHER"))
        told = fake_slack.wait_for("chat.postEphemeral", count=2)
        assert all(
            "<@UOWNER>" in c.args["text"] and "owner or a manager" in c.args["text"] for c in told
        )
        assert not fake_slack.to("views.open") and get(store, lead_id).status == "claimed"
        # The manager may: Back to nurturing asks for a reason in a modal.
        post_interaction(client, click("lead_nurture", lead_id, user="UBOSS"))
        [opened] = fake_slack.wait_for("views.open")
        resp = post_interaction(client, submit(opened.args["view"], None, user="UBOSS"))
        assert resp.json() == {
            "response_action": "errors",
            "errors": {"text_block": "A reason is required."},
        }
        post_interaction(client, submit(opened.args["view"], "Budget next quarter", user="UBOSS"))
        wait_until(lambda: get(store, lead_id).status == "nurturing")
    lead = get(store, lead_id)
    assert (lead.owner, lead.status_reason) == (None, "Budget next quarter")


def test_people_not_allowed_change_nothing(store, fake_slack: FakeSlack) -> None:  # type: ignore[no-untyped-def]
    settings = slack_settings(store.url, fake_slack, slack_allowed_users="UREP,UREP2",
                              slack_managers="UBOSS")  # fmt: skip
    runtime = build_runtime(settings, store=store)
    lead_id = make_lead(store)
    with TestClient(create_app(runtime)) as client:
        dispatcher(runtime).run_once()
        for action in ("lead_claim", "lead_won", "lead_lost", "lead_nurture", "lead_note"):
            post_interaction(client, click(action, lead_id, user="USTRANGER"))
        told = fake_slack.wait_for("chat.postEphemeral", count=5)
        assert {c.args["user"] for c in told} == {"USTRANGER"}
        assert all("not allowed" in c.args["text"] for c in told)
        denied = post_command(client, "/lead", "jane", user="USTRANGER").json()
        assert "not allowed" in denied["text"] and "blocks" not in denied
        # The owner nurtures with an empty reason: the modal says so.
        post_interaction(client, click("lead_claim", lead_id, user="UREP"))
        wait_until(lambda: get(store, lead_id).owner == "UREP")
        post_interaction(client, click("lead_nurture", lead_id, user="UREP"))
        [opened] = fake_slack.wait_for("views.open")
        errors = post_interaction(client, submit(opened.args["view"], " ", user="UREP")).json()
        assert errors["response_action"] == "errors"
        # A forged submission of that modal by a stranger changes nothing.
        post_interaction(client, submit(opened.args["view"], "forged", user="USTRANGER"))
        fake_slack.wait_for("chat.postEphemeral", count=6)
        assert get(store, lead_id).status == "claimed"
        # Another rep may not close it; a manager may.
        post_interaction(client, click("lead_won", lead_id, user="UREP2"))
        fake_slack.wait_for("chat.postEphemeral", count=7)
        assert get(store, lead_id).status == "claimed"
        post_interaction(client, click("lead_won", lead_id, user="UBOSS"))
        won = fake_slack.wait_for("views.open", count=2)[1].args["view"]
        post_interaction(client, submit(won, None, user="UBOSS", state=typed_value(None)))
        wait_until(lambda: get(store, lead_id).status == "won")
        dispatcher(runtime).run_once()
    cards = [c for c in fake_slack.to("chat.postMessage") if not c.args.get("thread_ts")]
    threads = [c.args["text"] for c in fake_slack.to("chat.postMessage") if c.args.get("thread_ts")]
    assert len(cards) == 1 and threads == [":trophy: Won by <@UBOSS>"]
