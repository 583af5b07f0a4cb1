"""The rest of a lead's life from Slack, through the real signed endpoint and the Web API stand-in:
Reassign, Disqualify, Edit details, Full text, Reopen, and a closed lead that writes again.
Won with a value and Lost with a reason are in test_actions.py; who may act in test_access.py."""

from __future__ import annotations

import json
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

import pytest
from starlette.testclient import TestClient

from bot.jobs.sla import slack_tick
from bot.runtime import Runtime, build_runtime
from bot.web import create_app
from storage import lifecycle
from storage.leads import activities_of
from storage.models import Activity, utcnow
from tests.bot.conftest import dispatcher, slack_settings
from tests.bot.fake_slack import FakeSlack, wait_until
from tests.bot.slack_helpers import (
    T0,
    choose,
    chosen_user,
    click,
    drain_listeners,
    fields_typed,
    get,
    make_lead,
    picked,
    post_interaction,
    submit,
)


def opened(fake: FakeSlack, count: int) -> dict[str, Any]:
    return dict(fake.wait_for("views.open", count=count)[count - 1].args["view"])


def threads(fake: FakeSlack) -> list[str]:
    return [c.args["text"] for c in fake.to("chat.postMessage") if c.args.get("thread_ts")]


def dms(fake: FakeSlack, user: str) -> list[str]:
    return [c.args["text"] for c in fake.to("chat.postMessage") if c.args["channel"] == user]


def acts(runtime: Runtime, lead_id: int, kind: str) -> list[Activity]:
    with runtime.store.session() as s:
        return [a for a in activities_of(s, lead_id) if a.kind == kind]


def claimed(http: TestClient, runtime: Runtime, user: str = "U1") -> int:
    lead_id = make_lead(runtime.store)
    dispatcher(runtime).run_once()
    post_interaction(http, click("lead_claim", lead_id, user=user))
    wait_until(lambda: get(runtime.store, lead_id).owner == user)
    return lead_id


def test_reassign_by_the_owner_tells_the_new_owner(
    http: TestClient, slack_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    store = slack_runtime.store
    lead_id = claimed(http, slack_runtime)
    post_interaction(http, choose("reassign", lead_id, user="U1"))
    view = opened(fake_slack, 1)
    assert view["callback_id"] == "lead_reassign_modal"
    [picker] = [b for b in view["blocks"] if b.get("block_id") == "user_block"]
    assert picker["element"]["type"] == "users_select"
    for state, problem in ((chosen_user(None), "Pick"), (chosen_user("U1"), "yours already")):
        resp = post_interaction(http, submit(view, None, user="U1", state=state)).json()
        assert resp["response_action"] == "errors" and problem in resp["errors"]["user_block"]
    post_interaction(http, submit(view, "You know them", user="U1", state=chosen_user("U2")))
    wait_until(lambda: get(store, lead_id).owner == "U2")
    assert get(store, lead_id).status == "claimed"
    [change] = acts(slack_runtime, lead_id, "reassigned")
    assert (change.actor, change.data, change.detail) == (
        "U1", {"from": "U1", "to": "U2"}, "You know them"
    )  # fmt: skip
    dispatcher(slack_runtime).run_once()
    assert ":busts_in_silhouette: <@U1> assigned it to <@U2> (was <@U1>'s): You know them" in (
        threads(fake_slack)
    )
    [dm] = dms(fake_slack, "U2")
    assert dm.startswith(":busts_in_silhouette: <@U1> assigned you *Jane Doe* (Acme).")
    assert "<https://leadbot-test.slack.com/archives/CHOT/p1700000000000001|Open the card>" in dm
    [update] = fake_slack.to("chat.update")[-1:]
    assert "*Claimed by <@U2>*" in json.dumps(update.args["blocks"])
    # The former owner may no longer reassign it; the menu answers them privately.
    post_interaction(http, choose("reassign", lead_id, user="U1"))
    [told] = fake_slack.wait_for("chat.postEphemeral")
    assert told.args["user"] == "U1" and "<@U2> owns this lead" in told.args["text"]


def test_reassign_rules(store, fake_slack: FakeSlack) -> None:  # type: ignore[no-untyped-def]
    """An unclaimed lead can be given to anyone allowed by anyone allowed; a claimed one only by
    its owner or a manager; nobody can be given a lead who may not act on leads."""
    settings = slack_settings(store.url, fake_slack, slack_allowed_users="U1,U2,U3",
                              slack_managers="UBOSS")  # fmt: skip
    runtime = build_runtime(settings, store=store)
    lead_id = make_lead(store)
    with TestClient(create_app(runtime)) as client:
        dispatcher(runtime).run_once()
        post_interaction(client, choose("reassign", lead_id, user="U3"))
        view = opened(fake_slack, 1)
        resp = post_interaction(client, submit(view, None, user="U3", state=chosen_user("UOUT")))
        assert "not allowed" in resp.json()["errors"]["user_block"]
        post_interaction(client, submit(view, None, user="U3", state=chosen_user("U1")))
        wait_until(lambda: get(store, lead_id).owner == "U1")
        # A forged submission of U3's old modal by U3 again: U1 has it now, U3 may not move it.
        post_interaction(client, submit(view, "again", user="U3", state=chosen_user("U2")))
        [told] = fake_slack.wait_for("chat.postEphemeral")
        assert "<@U1> owns this lead" in told.args["text"]
        post_interaction(client, choose("reassign", lead_id, user="UBOSS"))
        boss = opened(fake_slack, 2)
        post_interaction(client, submit(boss, None, user="UBOSS", state=chosen_user("U2")))
        wait_until(lambda: get(store, lead_id).owner == "U2")
    assert [a.data for a in acts(runtime, lead_id, "reassigned")] == [
        {"from": None, "to": "U1"},
        {"from": "U1", "to": "U2"},
    ]
    assert get(store, lead_id).claimed_at is not None


def test_disqualify_with_a_configured_reason(store, fake_slack: FakeSlack) -> None:  # type: ignore[no-untyped-def]
    settings = slack_settings(store.url, fake_slack, disqualify_reasons="spam, job seeker ,other")
    runtime = build_runtime(settings, store=store)
    lead_id = make_lead(store)
    with TestClient(create_app(runtime)) as client:
        dispatcher(runtime).run_once()
        post_interaction(client, choose("disqualify", lead_id, user="U1"))
        view = opened(fake_slack, 1)
        [menu] = [b for b in view["blocks"] if b.get("block_id") == "reason_block"]
        assert [o["value"] for o in menu["element"]["options"]] == ["spam", "job seeker", "other"]
        resp = post_interaction(client, submit(view, "", user="U1", state=picked("other")))
        assert resp.json()["errors"] == {"text_block": "Say why in a few words."}
        post_interaction(client, submit(view, None, user="U1", state=picked("job seeker")))
        wait_until(lambda: get(store, lead_id).status == "disqualified")
        dispatcher(runtime).run_once()
    lead = get(store, lead_id)
    assert (lead.reason_code, lead.status_reason, lead.owner) == ("job seeker", "job seeker", None)
    [change] = acts(runtime, lead_id, "disqualified")
    assert (change.actor, change.data) == ("U1", {"code": "job seeker"})
    assert ":no_entry_sign: Disqualified by <@U1>: job seeker" in threads(fake_slack)
    card = fake_slack.to("chat.update")[-1].args
    assert card["blocks"][0]["text"]["text"].startswith(":no_entry_sign: Disqualified: Jane Doe")
    buttons = [e.get("action_id") for b in card["blocks"] if b["type"] == "actions"
               for e in b["elements"]]  # fmt: skip
    assert buttons == ["lead_reopen", "lead_note", "lead_more"]


def test_edit_fields_are_kept_against_later_mail(
    http: TestClient, slack_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    store = slack_runtime.store
    lead_id = claimed(http, slack_runtime)
    post_interaction(http, choose("edit", lead_id, user="U1"))
    view = opened(fake_slack, 1)
    initial = {
        b["block_id"]: b["element"].get("initial_value")
        for b in view["blocks"]
        if b["type"] == "input"
    }
    assert initial == {"field_name": "Jane Doe", "field_company": "Acme", "field_title": "CTO",
                       "field_phone": None, "field_country": None}  # fmt: skip
    bad = fields_typed(name="Jane Doe", company="Acme", title="CTO", phone="call me", country="XX")
    errors = post_interaction(http, submit(view, None, user="U1", state=bad)).json()["errors"]
    assert set(errors) == {"field_phone", "field_country"}
    good = fields_typed(name="Jane  Doe", company="Acme Robotics", title="", phone="030 1234567",
                        country="de")  # fmt: skip
    before = get(store, lead_id).score
    post_interaction(http, submit(view, None, user="U1", state=good))
    wait_until(lambda: get(store, lead_id).company == "Acme Robotics")
    lead = get(store, lead_id)
    assert (lead.name, lead.title, lead.phone, lead.country) == (
        "Jane Doe",
        None,
        "+49301234567",
        "DE",
    )
    assert sorted(lead.edited_fields) == ["company", "country", "phone", "title"]
    assert lead.score != before  # scored again at once: the CTO title no longer counts
    [edit] = acts(slack_runtime, lead_id, "edited")
    assert edit.actor == "U1" and edit.data["changes"]["title"] == {"from": "CTO", "to": None}
    assert "name" not in edit.data["changes"]  # the same name with two spaces is no change
    dispatcher(slack_runtime).run_once()
    assert any(
        t.startswith(":pencil2: <@U1> corrected company Acme → Acme Robotics")
        for t in threads(fake_slack)
    )
    # Later mail with another company, a title and a phone changes none of the edited fields.
    later = email(
        "Jane Doe <jane@acme.example>", "More questions",
        "Hello,\n\nwhat about SSO?\n\nJane Doe\nVP Sales, Other Corp\n+1 415 555 0100\n",
        when=T0 + timedelta(hours=1),
    )  # fmt: skip
    slack_runtime.pipeline.process(slack_runtime.pipeline.accept(later)[0])
    lead = get(store, lead_id)
    assert (lead.company, lead.title, lead.phone, lead.country) == (
        "Acme Robotics", None, "+49301234567", "DE"
    )  # fmt: skip
    assert len(acts(slack_runtime, lead_id, "email_inquiry")) == 2  # the mail was recorded


def email(sender: str, subject: str, body: str, *, when: Any, msgid: str | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, "leads@leads.example.com", subject
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = msgid or f"<{when.timestamp()}@acme.example>"
    msg.set_content(body)
    return msg.as_bytes()


def test_details_shows_the_full_text(
    http: TestClient, slack_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    long = "First paragraph.\n\n" + "\n".join(f"Line {i} of the inquiry." for i in range(300))
    lead_id = make_lead(slack_runtime.store, text=long)
    dispatcher(slack_runtime).run_once()
    [card] = fake_slack.to("chat.postMessage")
    assert "Line 299" not in json.dumps(card.args["blocks"])  # the card shows the opening only
    post_interaction(http, choose("details", lead_id, user="U1"))
    view = opened(fake_slack, 1)
    assert view["callback_id"] == "lead_details_modal" and "submit" not in view
    text = json.dumps(view["blocks"])
    assert "Line 299 of the inquiry." in text and "*Email:* jane@acme.example" in text


@pytest.mark.parametrize("closed", ["won", "lost"])
def test_reopen_gives_a_closed_lead_back_to_its_owner(
    closed: str,
    store,
    fake_slack: FakeSlack,  # type: ignore[no-untyped-def]
) -> None:
    runtime = build_runtime(
        slack_settings(store.url, fake_slack, slack_managers="UBOSS"), store=store
    )
    with TestClient(create_app(runtime)) as client:
        lead_id = claimed(client, runtime)
        with store.session() as s:
            if closed == "won":
                lifecycle.win(s, lead_id=lead_id, actor="U1", value=900.0)
            else:
                lifecycle.lose(s, lead_id=lead_id, actor="U1", reason="price", code="price")
        post_interaction(client, click("lead_reopen", lead_id, user="U2"))  # not theirs
        [told] = fake_slack.wait_for("chat.postEphemeral")
        assert told.args["text"] == "<@U1> had this lead: only they or a manager can reopen it."
        assert get(store, lead_id).status == closed
        post_interaction(client, click("lead_reopen", lead_id, user="UBOSS"))
        wait_until(lambda: get(store, lead_id).status == "claimed")
        dispatcher(runtime).run_once()
    lead = get(store, lead_id)
    assert (lead.owner, lead.closed_at, lead.deal_value, lead.reason_code) == (
        "U1",
        None,
        None,
        None,
    )
    [change] = acts(runtime, lead_id, "reopened")
    assert (change.actor, change.data) == ("UBOSS", {"from": closed, "to": "claimed"})
    assert ":repeat: Reopened by <@UBOSS>: back with <@U1>" in threads(fake_slack)
    assert "*Claimed by <@U1>*" in json.dumps(fake_slack.to("chat.update")[-1].args["blocks"])


def test_reopen_a_disqualified_lead_opens_it_again(
    http: TestClient, slack_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    store = slack_runtime.store
    carded = make_lead(store, "a@a.example")
    dispatcher(slack_runtime).run_once()  # a's card is posted
    never = make_lead(store, "b@b.example", announce=False)  # b never had one
    with store.session() as s:
        for lead_id in (carded, never):
            lifecycle.disqualify(s, lead_id=lead_id, actor="U1", reason="spam", code="spam")
    for lead_id in (carded, never):
        post_interaction(http, click("lead_reopen", lead_id, user="U2"))
    wait_until(lambda: get(store, carded).status == get(store, never).status == "announced")
    dispatcher(slack_runtime).run_once()
    cards = [c for c in fake_slack.to("chat.postMessage") if not c.args.get("thread_ts")]
    assert len(cards) == 2  # a's card updated in place; b announced for the first time
    assert get(store, never).slack_ts is not None
    assert ":repeat: Reopened by <@U2>: open again, waiting for a rep" in threads(fake_slack)
    # Reopening an open lead says so.
    post_interaction(http, click("lead_reopen", carded, user="U2"))
    [told] = fake_slack.wait_for("chat.postEphemeral")
    assert told.args["text"] == "This lead is announced already: nothing to reopen."


def test_closed_lead_writing_again_tells_the_thread_and_its_last_owner(
    http: TestClient, slack_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    store = slack_runtime.store
    won, gone = claimed(http, slack_runtime), make_lead(store, "b@b.example")
    dispatcher(slack_runtime).run_once()
    post_interaction(http, click("lead_claim", gone, user="U2"))
    wait_until(lambda: get(store, gone).owner == "U2")
    closed_at = T0 + timedelta(hours=1)
    with store.session() as s:
        lifecycle.win(s, lead_id=won, actor="U1", now=closed_at)
        lifecycle.disqualify(s, lead_id=gone, actor="U2", reason="competitor", now=closed_at)
    slack_tick(slack_runtime)  # the thread job reads from here
    for sender, when in (("jane@acme.example", 2), ("b@b.example", 3)):
        mail = email(f"Jane <{sender}>", "Another question", "Can we add ten seats?",
                     when=T0 + timedelta(hours=when))  # fmt: skip
        slack_runtime.pipeline.process(slack_runtime.pipeline.accept(mail)[0])
    slack_tick(slack_runtime)
    dispatcher(slack_runtime).run_once()
    assert get(store, won).status == "won" and get(store, gone).status == "disqualified"
    news = [t for t in threads(fake_slack) if t.startswith(":incoming_envelope:")]
    assert (
        len(news) == 2
        and "(the lead is won)" in news[0]
        and "(the lead is disqualified)" in news[1]
    )
    [to_owner] = dms(fake_slack, "U1")
    assert to_owner.startswith(
        ":incoming_envelope: *Jane Doe* (Acme), your won lead, sent a new email inquiry:"
    )
    assert "Can we add ten seats?" in to_owner and "Open the card>" in to_owner
    [to_last] = dms(fake_slack, "U2")  # disqualifying cleared the owner: the last one is told
    assert "your disqualified lead" in to_last


def test_lost_lead_hot_again_is_announced_again(store, fake_slack: FakeSlack) -> None:  # type: ignore[no-untyped-def]
    runtime = build_runtime(slack_settings(store.url, fake_slack, hot_threshold=10), store=store)
    with TestClient(create_app(runtime)) as client:
        lead_id = claimed(client, runtime)
    now = utcnow()
    with store.session() as s:
        lifecycle.lose(
            s, lead_id=lead_id, actor="U1", reason="timing", now=now - timedelta(hours=2)
        )
    # Mail dated before it was lost changes nothing; mail after it brings it back.
    old = email("Jane <jane@acme.example>", "Pricing", "Pricing for 40 seats, budget approved.",
                when=now - timedelta(hours=3))  # fmt: skip
    runtime.pipeline.process(runtime.pipeline.accept(old)[0])
    assert get(store, lead_id).status == "lost"
    new = email("Jane <jane@acme.example>", "Pricing again",
                "We are ready now: pricing for 40 seats, budget approved, demo this month.",
                when=now - timedelta(minutes=5))  # fmt: skip
    runtime.pipeline.process(runtime.pipeline.accept(new)[0])
    lead = get(store, lead_id)
    assert (lead.status, lead.owner) == ("announced", None)
    [again] = [a for a in acts(runtime, lead_id, "announced")][-1:]
    assert again.data == {"from": "lost", "owner": "U1"}
    dispatcher(runtime).run_once()
    dispatcher(runtime).run_once()
    cards = [c for c in fake_slack.to("chat.postMessage") if not c.args.get("thread_ts")
             and c.args["channel"] == "CHOT"]  # fmt: skip
    assert len(cards) == 2  # a new card: the old one said "Lost"
    assert "We are ready now" in json.dumps(cards[1].args["blocks"])
    [dm] = dms(fake_slack, "U1")
    assert "whom you marked lost, wrote again and is hot: it is announced again." in dm
    assert "p1700000000000002|Open the card>" in dm  # the link is to the new card
    drain_listeners(runtime)
