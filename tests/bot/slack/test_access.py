"""Real signed requests into `POST /slack/events` of the real ASGI app, Slack faked on a local port."""

from __future__ import annotations

import json
import threading
import time
from urllib.parse import urlencode

from starlette.testclient import TestClient

from bot.runtime import Runtime, build_runtime
from bot.web import create_app
from storage.leads import activities_of, notes_of
from tests.bot.conftest import dispatcher, slack_settings
from tests.bot.fake_slack import FakeSlack, wait_until
from tests.bot.slack_helpers import (
    click,
    drain_listeners,
    get,
    make_lead,
    post_event,
    post_interaction,
    post_signed,
    sample,
    signed_headers,
    submit,
)


def test_forged_and_stale_signatures_are_refused(http: TestClient, slack_runtime: Runtime) -> None:
    lead_id = make_lead(slack_runtime.store)
    body = urlencode({"payload": json.dumps(click("lead_claim", lead_id, user="U1"))}).encode()
    form = "application/x-www-form-urlencoded"
    forged = post_signed(http, body, form, secret="not-the-secret")
    stale = post_signed(http, body, form, timestamp=int(time.time()) - 301)
    unsigned = http.post("/slack/events", content=body, headers={"Content-Type": form})
    assert [forged.status_code, stale.status_code, unsigned.status_code] == [401, 401, 401]
    # A signed body that was altered after signing is refused too.
    headers = signed_headers(body, form)
    tampered = http.post("/slack/events", content=body.replace(b"U1", b"U2"), headers=headers)
    assert tampered.status_code == 401
    drain_listeners(slack_runtime)
    assert get(slack_runtime.store, lead_id).status == "announced"


def test_url_verification_echoes_the_challenge(http: TestClient) -> None:
    body = json.dumps(sample("events_url_verification__event_body.json")).encode()
    resp = post_signed(http, body, "application/json")
    assert resp.status_code == 200
    assert (
        resp.json()["challenge"] == sample("events_url_verification__event_body.json")["challenge"]
    )


def test_without_signing_secret_the_endpoint_is_closed(store, fake_slack: FakeSlack) -> None:  # type: ignore[no-untyped-def]
    settings = slack_settings(store.url, fake_slack, SLACK_SIGNING_SECRET=None)
    with TestClient(create_app(build_runtime(settings, store=store))) as client:
        resp = post_signed(client, b"{}", "application/json")
    assert resp.status_code == 503 and "SLACK_SIGNING_SECRET" in resp.json()["error"]


def test_claim_updates_the_card_in_place(
    http: TestClient, slack_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    lead_id = make_lead(slack_runtime.store)
    dispatcher(slack_runtime).run_once()
    started = time.monotonic()
    resp = post_interaction(http, click("lead_claim", lead_id, user="U1"))
    assert resp.status_code == 200 and time.monotonic() - started < 3
    wait_until(lambda: get(slack_runtime.store, lead_id).status == "claimed")
    assert get(slack_runtime.store, lead_id).owner == "U1"
    dispatcher(slack_runtime).run_once()
    [update] = fake_slack.to("chat.update")
    assert (update.args["channel"], update.args["ts"]) == ("CHOT", "1700000000.000001")
    buttons = [
        e["text"]["text"]
        for b in update.args["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
    ]
    assert buttons == ["Add note", "Back to nurturing", "Won", "Lost"]
    assert "*Claimed by <@U1>*" in json.dumps(update.args["blocks"])


def test_concurrent_claims_have_exactly_one_winner(
    http: TestClient, slack_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    lead_id = make_lead(slack_runtime.store)
    dispatcher(slack_runtime).run_once()
    users = [f"U{i}" for i in range(1, 9)]
    barrier = threading.Barrier(len(users))
    codes: list[int] = []

    def claim(user: str) -> None:
        barrier.wait()
        codes.append(post_interaction(http, click("lead_claim", lead_id, user=user)).status_code)

    threads = [threading.Thread(target=claim, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == [200] * len(users)
    losers = fake_slack.wait_for("chat.postEphemeral", count=len(users) - 1)
    winner = get(slack_runtime.store, lead_id).owner
    assert winner in users
    assert sorted(c.args["user"] for c in losers) == sorted(u for u in users if u != winner)
    assert all(c.args["text"] == f"<@{winner}> has already claimed this lead." for c in losers)
    with slack_runtime.store.session() as s:
        assert [a.actor for a in activities_of(s, lead_id) if a.kind == "claimed"] == [winner]


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


def test_add_note_modal_stores_and_threads_the_note(
    http: TestClient, slack_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    lead_id = make_lead(slack_runtime.store)
    dispatcher(slack_runtime).run_once()
    post_interaction(http, click("lead_note", lead_id, user="U1"))
    [opened] = fake_slack.wait_for("views.open")
    assert opened.args["trigger_id"] == "trigger-U1-lead_note"
    view = opened.args["view"]
    empty = post_interaction(http, submit(view, "", user="U1"))
    assert empty.json()["response_action"] == "errors"
    note = "Called them <!channel> — demo on Friday & pricing <http://evil.example|our site>"
    resp = post_interaction(http, submit(view, note, user="U1"))
    assert resp.status_code == 200
    wait_until(lambda: _notes(slack_runtime, lead_id))
    assert _notes(slack_runtime, lead_id) == [("U1", note)]
    dispatcher(slack_runtime).run_once()
    reply = fake_slack.to("chat.postMessage")[-1]
    assert reply.args["thread_ts"] == "1700000000.000001"
    text = json.dumps(reply.args["blocks"])
    assert (
        "&lt;!channel&gt;" in text and "&amp; pricing &lt;http://evil.example|our site&gt;" in text
    )
    assert "<!channel>" not in text and "<http" not in text


def _notes(runtime: Runtime, lead_id: int) -> list[tuple[str, str]]:
    with runtime.store.session() as s:
        return [(n.author, n.text) for n in notes_of(s, lead_id)]


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


def test_won_and_lost(http: TestClient, slack_runtime: Runtime, fake_slack: FakeSlack) -> None:
    store = slack_runtime.store
    a, b = make_lead(store, "a@a.example"), make_lead(store, "b@b.example")
    dispatcher(slack_runtime).run_once()
    for lead_id in (a, b):
        post_interaction(http, click("lead_claim", lead_id, user="U1"))
    wait_until(lambda: get(store, a).owner == get(store, b).owner == "U1")
    post_interaction(http, click("lead_won", a, user="U1"))
    wait_until(lambda: get(store, a).status == "won")
    post_interaction(http, click("lead_lost", b, user="U1"))
    [opened] = fake_slack.wait_for("views.open")
    assert opened.args["view"]["callback_id"] == "lead_lost_modal"
    post_interaction(http, submit(opened.args["view"], "Went with a competitor", user="U1"))
    wait_until(lambda: get(store, b).status == "lost")
    assert get(store, b).status_reason == "Went with a competitor"
    dispatcher(slack_runtime).run_once()
    replies = [c.args["text"] for c in fake_slack.to("chat.postMessage") if c.args.get("thread_ts")]
    assert ":trophy: Won by <@U1>" in replies
    assert ":x: Lost by <@U1>: Went with a competitor" in replies


def test_event_retries_are_handled_once(
    http: TestClient, slack_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    event = {
        "type": "app_home_opened",
        "user": "U1",
        "channel": "D1",
        "tab": "home",
        "event_ts": "1.1",
    }
    assert post_event_ok(http, event, None)
    drain_listeners(slack_runtime)
    dispatcher(slack_runtime).run_once()
    [published] = fake_slack.to("views.publish")
    assert published.args["user_id"] == "U1" and published.args["view"]["type"] == "home"
    # Slack's retries arrive after the first delivery was handled and its refresh sent: a retry
    # handled again would queue a second refresh (a pending one would have absorbed it).
    for retry in (1, 2):
        assert post_event_ok(http, event, retry)
    drain_listeners(slack_runtime)
    dispatcher(slack_runtime).run_once()
    assert fake_slack.to("views.publish") == [published]


def post_event_ok(http: TestClient, event: dict[str, object], retry: int | None) -> bool:
    from tests.bot.slack_helpers import post_event

    return bool(post_event(http, event, event_id="Ev0001", retry=retry).status_code == 200)


def test_app_home_is_refreshed_for_everyone_who_opened_it_when_a_lead_changes(
    http: TestClient, slack_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    lead_id = make_lead(slack_runtime.store)
    dispatcher(slack_runtime).run_once()  # the announcement
    for n, user in enumerate(("U1", "U2")):
        event = {"type": "app_home_opened", "user": user, "channel": "D1", "tab": "home"}
        assert post_event(http, event, event_id=f"EvHome{n}").status_code == 200
    wait_until(
        lambda: (
            dispatcher(slack_runtime).run_once() >= 0
            and {c.args["user_id"] for c in fake_slack.to("views.publish")} == {"U1", "U2"}
        )
    )
    opened = len(fake_slack.to("views.publish"))

    def home_text(user: str) -> str:
        [*_, last] = [c for c in fake_slack.to("views.publish") if c.args["user_id"] == user]
        return json.dumps(last.args["view"])

    assert "Jane Doe" in home_text("U1") and "You have no claimed leads." in home_text("U2")
    # U2 claims: both Homes are published again, without either of them opening it.
    assert post_interaction(http, click("lead_claim", lead_id, user="U2")).status_code == 200
    wait_until(lambda: get(slack_runtime.store, lead_id).status == "claimed")
    wait_until(
        lambda: (
            dispatcher(slack_runtime).run_once() >= 0
            and len(fake_slack.to("views.publish")) >= opened + 2
        )
    )
    mine, theirs = home_text("U2"), home_text("U1")
    assert "You have no claimed leads." not in mine and "Jane Doe" in mine
    assert "Nothing is waiting for a rep." in theirs and "Jane Doe" not in theirs
