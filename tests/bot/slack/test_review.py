"""No lead waits unseen: a forward without a findable sender (or an unreadable input) is told to
the rep who forwarded it, by DM, with a button whose modal names the sender and makes the lead;
without such a rep the managers are told; App Home shows managers what needs attention. All
through the real signed endpoint and the Web API stand-in."""

from __future__ import annotations

import copy
import json
import logging
from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from bot.dispatcher import Dispatcher, LogSender
from bot.review import resolve
from bot.runtime import Runtime, build_runtime
from bot.slack.access import Access
from bot.slack.attention import EMAIL_ACTION, EMAIL_BLOCK, NAME_ACTION, NAME_BLOCK, NAME_SENDER
from bot.slack.context import SlackContext
from bot.slack.listeners.events import home_opened
from storage.db import Store
from storage.leads import get_lead
from storage.models import OutboxMessage, RawInput, RawStatus
from tests.bot.conftest import dispatcher, slack_settings
from tests.bot.fake_slack import FakeSlack
from tests.bot.slack_helpers import drain_listeners, post_interaction, sample

REP = "sam@ourco.example"


def forward(subject: str = "pricing for 40 seats", *, sender: str = f"Sam Rep <{REP}>") -> bytes:
    """A rep's forward whose original sender cannot be found: the block has no From line."""
    return (
        f"From: {sender}\r\nTo: leads@leads.example.com\r\nSubject: Fwd: {subject}\r\n"
        f"Message-ID: <{abs(hash(subject))}@ourco.example>\r\n"
        "Date: Mon, 02 Nov 2026 09:00:00 +0000\r\n\r\nCan someone call them?\r\n\r\n"
        "---------- Forwarded message ---------\r\n"
        f"Subject: {subject}\r\n\r\nHi, we want 40 seats for our team, what does it cost?\r\n"
    ).encode()


def kept(runtime: Runtime, raw: bytes) -> int:
    raw_id, _ = runtime.pipeline.accept(raw, channel="smtp")
    outcome = runtime.pipeline.process(raw_id)
    assert outcome.status in (RawStatus.REVIEW, RawStatus.FAILED), outcome
    return raw_id


def press(message_args: dict[str, Any], *, user: str, channel: str) -> dict[str, Any]:
    """The block_actions payload Slack sends when `user` presses the DM's button."""
    [button] = [e for b in message_args["blocks"] if b["type"] == "actions" for e in b["elements"]]
    body = copy.deepcopy(sample("block_actions__body.json"))
    body["user"] = {"id": user, "username": user, "name": user, "team_id": "T111"}
    body["channel"] = {"id": channel, "name": "directmessage"}
    body["container"] = {
        "type": "message",
        "message_ts": "1700000000.000001",
        "channel_id": channel,
    }
    body["trigger_id"] = f"trigger-{user}"
    body["actions"] = [{**button, "block_id": "review", "action_ts": "1700000001.000001"}]
    return body


def typed(view: dict[str, Any], *, user: str, email: str, name: str | None) -> dict[str, Any]:
    body = copy.deepcopy(sample("view_submission__body.json"))
    body["user"] = {"id": user, "username": user, "name": user, "team_id": "T111"}
    body["view"] = {
        **body["view"],
        **{k: view[k] for k in ("callback_id", "private_metadata", "blocks")},
        "state": {
            "values": {
                EMAIL_BLOCK: {EMAIL_ACTION: {"type": "email_text_input", "value": email}},
                NAME_BLOCK: {NAME_ACTION: {"type": "plain_text_input", "value": name}},
            }
        },
    }
    return body


def test_the_forwarding_rep_is_told_and_names_the_sender_in_a_modal(
    http: TestClient, slack_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    fake_slack.users_by_email[REP] = "UREP"
    raw_id = kept(slack_runtime, forward("pricing <!channel> & 40 seats"))
    dispatcher(slack_runtime).run_once()
    [lookup] = fake_slack.to("users.lookupByEmail")
    assert lookup.args["email"] == REP
    [dm] = fake_slack.to("chat.postMessage")
    assert dm.args["channel"] == "UREP"
    text = json.dumps(dm.args["blocks"])
    assert "I could not find who sent the message you forwarded" in dm.args["text"]
    assert "pricing &lt;!channel&gt; &amp; 40 seats" in text and "<!channel>" not in text
    # The button opens the modal; an address that is not one is refused inside it.
    post_interaction(http, press(dm.args, user="UREP", channel="DREP"))
    [opened] = fake_slack.wait_for("views.open")
    view = opened.args["view"]
    bad = post_interaction(http, typed(view, user="UREP", email="not an address", name=None))
    assert bad.json()["response_action"] == "errors" and EMAIL_BLOCK in bad.json()["errors"]
    ok = post_interaction(
        http, typed(view, user="UREP", email="Jane@Buyer.example", name="Jane Buyer")
    )
    assert ok.status_code == 200
    drain_listeners(slack_runtime)
    with slack_runtime.store.session() as s:
        raw = s.get(RawInput, raw_id)
        assert raw is not None and raw.status == RawStatus.PROCESSED and raw.lead_id
        lead = get_lead(s, lead_id=raw.lead_id)
        assert (lead.email, lead.name, lead.forwarded_by) == (
            "jane@buyer.example",
            "Jane Buyer",
            REP,
        )
        assert raw.envelope["resolved_sender"]["by"] == "UREP"
    # The DM says which lead it became, and its button is gone.
    [update] = fake_slack.wait_for("chat.update")
    assert update.args["channel"] == "DREP" and f"lead #{lead.id}" in update.args["text"]
    assert NAME_SENDER not in json.dumps(update.args["blocks"])
    # Pressing an old button again (or a second person) is told it no longer waits.
    post_interaction(http, press(dm.args, user="UREP", channel="DREP"))
    drain_listeners(slack_runtime)
    assert len(fake_slack.to("views.open")) == 1
    assert "no longer waits" in fake_slack.to("chat.postEphemeral")[-1].args["text"]


def test_a_second_submission_of_the_same_modal_makes_no_second_lead(
    http: TestClient, slack_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    fake_slack.users_by_email[REP] = "UREP"
    kept(slack_runtime, forward())
    dispatcher(slack_runtime).run_once()
    [dm] = fake_slack.to("chat.postMessage")
    post_interaction(http, press(dm.args, user="UREP", channel="DREP"))
    [opened] = fake_slack.wait_for("views.open")
    first = typed(opened.args["view"], user="UREP", email="jane@buyer.example", name=None)
    second = typed(opened.args["view"], user="UREP", email="joe@other.example", name=None)
    post_interaction(http, first)
    drain_listeners(slack_runtime)
    post_interaction(http, second)
    drain_listeners(slack_runtime)
    with slack_runtime.store.session() as s:
        emails = [
            r.envelope.get("resolved_sender", {}).get("email") for r in s.scalars(select(RawInput))
        ]
    assert emails == ["jane@buyer.example"]
    assert "no longer waits" in fake_slack.to("chat.postEphemeral")[-1].args["text"]


def test_without_a_slack_user_the_managers_are_told(store: Store, fake_slack: FakeSlack) -> None:
    runtime = build_runtime(
        slack_settings(store.url, fake_slack, slack_managers="UM1,UM2"), store=store
    )
    kept(runtime, forward())  # the rep has no Slack account: users_not_found
    dispatcher(runtime).run_once()
    dms = fake_slack.to("chat.postMessage")
    assert sorted(c.args["channel"] for c in dms) == ["UM1", "UM2"]
    assert all(f"&lt;{REP}&gt;" in json.dumps(c.args["blocks"]) for c in dms)  # who forwarded it
    with store.session() as s:
        [notice] = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "review"))
        assert notice.status == "sent"


def test_without_managers_the_hot_channel_is_told_and_reading_again_does_not_nag(
    slack_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    raw_id = kept(slack_runtime, forward())
    dispatcher(slack_runtime).run_once()
    [post] = fake_slack.to("chat.postMessage")
    assert post.args["channel"] == "CHOT"
    slack_runtime.pipeline.reprocess_failed()  # still no sender: still review, told once only
    dispatcher(slack_runtime).run_once()
    assert len(fake_slack.to("chat.postMessage")) == 1
    with slack_runtime.store.session() as s:
        assert s.get(RawInput, raw_id).status == RawStatus.REVIEW  # type: ignore[union-attr]


def test_an_unreadable_input_is_told_too(slack_runtime: Runtime, fake_slack: FakeSlack) -> None:
    raw = b"From: nobody at all\r\nSubject: broken\r\n\r\nwe want a quote\r\n"
    raw_id = kept(slack_runtime, raw)
    dispatcher(slack_runtime).run_once()
    [post] = fake_slack.to("chat.postMessage")
    assert post.args["text"].startswith("I could not read a message: broken")
    assert f"Input #{raw_id}" in json.dumps(post.args["blocks"])


def test_a_notice_for_an_input_resolved_meanwhile_is_not_sent(
    slack_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    raw_id = kept(slack_runtime, forward())
    resolve(
        slack_runtime.store,
        slack_runtime.pipeline,
        raw_id,
        email="jane@buyer.example",
        name=None,
        by="cli",
    )
    dispatcher(slack_runtime).run_once()
    assert not [c for c in fake_slack.to("chat.postMessage") if "Input #" in json.dumps(c.args)]
    with slack_runtime.store.session() as s:
        [notice] = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "review"))
        assert notice.status == "sent" and "no longer waits" in notice.result["skipped"]


def test_app_home_shows_managers_what_needs_attention(store: Store, fake_slack: FakeSlack) -> None:
    runtime = build_runtime(
        slack_settings(store.url, fake_slack, slack_managers="UM1"), store=store
    )
    kept(runtime, forward("needs a sender"))
    kept(runtime, b"From: nobody at all\r\nSubject: unreadable\r\n\r\nhello\r\n")
    with store.session() as s:  # one Slack message that could not be delivered
        s.add(OutboxMessage(kind="announce", lead_id=None, payload={}, status="dead"))
    client = runtime.slack_client
    ctx = SlackContext(runtime=runtime, client=client, access=Access(runtime.settings, client))
    for user in ("UM1", "UREP"):
        home_opened(ctx, user)
    dispatcher(runtime).run_once()
    views = {c.args["user_id"]: json.dumps(c.args["view"]) for c in fake_slack.to("views.publish")}
    assert "Needs attention" in views["UM1"] and "Needs attention" not in views["UREP"]
    manager = views["UM1"]
    assert "*1* forwarded without a sender" in manager and "*1* could not be read" in manager
    assert "*1* Slack messages not delivered" in manager
    assert "needs a sender" in manager and NAME_SENDER in manager


def test_without_slack_the_log_tells(runtime: Runtime, caplog: pytest.LogCaptureFixture) -> None:
    raw_id = kept(runtime, forward())
    with caplog.at_level(logging.WARNING, logger="leadbot.dispatcher"):
        Dispatcher(runtime.store, LogSender(runtime.store), worker="t").run_once()
    assert f"input #{raw_id} needs a person (review)" in caplog.text
    assert f"leadbot review show {raw_id}" in caplog.text
