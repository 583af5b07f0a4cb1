"""The card as sent: who, company, the ask (subject and first lines), why in words, the buttons
near the top, the state in the header; the forwarding rep as a mention with their note; the
original ask kept when the lead replies."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from bot.jobs.sla import slack_tick
from bot.runtime import Runtime
from bot.slack import blocks
from storage import lifecycle
from storage.models import Lead
from storage.slack import enqueue_lead_changed
from tests.bot.conftest import dispatcher
from tests.bot.fake_slack import FakeSlack
from tests.bot.slack_helpers import T0, make_lead
from tests.reference import record_inquiry

ASK = (
    "Hello,\n\nwe are evaluating analytics tools for our operations team and would need\n"
    "pricing for 120 seats, ideally with annual billing.\n\nCould we also get a demo next week?"
    "\n\nWe want to decide this quarter.\n\nOne more paragraph the card leaves out."
)  # as ingest stores it: quotes and signature already removed


def forwarded(runtime: Runtime, email: str = "jane@acme.example") -> int:
    """A lead a rep forwarded with a note (what ingest.mail stores in the activity's fields)."""
    with runtime.store.session() as s:
        rec = record_inquiry(
            s, email=email, kind="email_inquiry", source="email", occurred_at=T0,
            dedup_key=f"msgid:<{email}>", profile={"name": "Jane Doe", "company": "Acme"},
            detail="Pricing", forwarded_by="rita@ourco.example",
            fields={"forward_note": "can someone pick it up? I'm travelling"},
            data={"subject": "Pricing and a demo for 120 seats", "text": ASK,
                  "fields": {"forward_note": "can someone pick it up? I'm travelling"}},
            now=T0,
        )  # fmt: skip
        lead: Lead = rec.lead
        lead.score, lead.temperature, lead.title = 64.6, "hot", "VP Operations"
        lead.reasons = [
            {"rule": "buying-intent", "points": 14.88, "reason": "Asks about price",
             "evidence": "1\u00d7 email_inquiry, latest 2026-11-02; text: pricing, seats",
             "group": "engagement"},
            {"rule": "vp", "points": 12, "reason": "VP or director", "evidence": "title: vp"},
            {"rule": "demo", "points": 11.98, "reason": "Asks for a demo",
             "evidence": "1\u00d7 email_inquiry, latest 2026-11-02; text: demo",
             "group": "engagement"},
            {"rule": "domain", "points": 8, "reason": "Company domain",
             "evidence": "acme.example is business"},
            {"rule": "more", "points": 17.74, "reason": "Other things", "evidence": ""},
        ]  # fmt: skip
        assert lead.id is not None
        lead_id = lead.id
    with runtime.store.session() as s:
        lifecycle.announce(s, lead_id=lead_id, now=T0)
    return lead_id


def texts(call_args: dict[str, object]) -> str:
    return json.dumps(call_args["blocks"], ensure_ascii=False)


def test_a_card_read_in_two_seconds(slack_runtime: Runtime, fake_slack: FakeSlack) -> None:
    fake_slack.users_by_email["rita@ourco.example"] = "U0RITA"
    forwarded(slack_runtime)
    dispatcher(slack_runtime).run_once(now=T0)
    [post] = fake_slack.to("chat.postMessage")
    card = post.args["blocks"]
    assert [b["type"] for b in card] == ["header", "section", "context", "section", "actions",
                                         "context"]  # fmt: skip
    assert card[0]["text"]["text"] == ":fire: Hot lead: Jane Doe · Acme"
    ask = card[1]["text"]["text"]
    assert ask.startswith("*VP Operations*, Acme · jane@acme.example\n")
    assert "*Pricing and a demo for 120 seats*" in ask
    # The greeting left out, mail's line breaks joined, three paragraphs at most.
    assert "&gt; we are evaluating analytics tools for our operations team and would need " \
           "pricing for 120 seats" in ask  # fmt: skip
    assert "Hello" not in ask and "leaves out" not in ask and ask.endswith("quarter. …")
    assert card[2]["elements"][0]["text"] == (
        ":arrow_right_hook: Forwarded by <@U0RITA>: “can someone pick it up? I'm travelling”"
    )
    why = card[3]["text"]["text"].splitlines()
    assert why[0] == "*Score 65* (hot)"
    assert why[1] == "• *+18* Other things"
    assert why[2] == "• *+15* Asks about price — “pricing”, “seats” in the email of Nov 2"
    assert why[3] == "• *+12* VP or director — title “VP Operations”"
    assert why[4] == "• *+20* from 2 more"  # 18 + 15 + 12 + 20 = 65
    assert card[5]["elements"][0]["text"].startswith(":fire: *Open*, waiting for a rep")
    assert post.args["text"] == "Hot lead: Jane Doe · Acme · score 65"


def test_the_rep_is_looked_up_once_and_an_unknown_rep_is_their_address(
    slack_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    forwarded(slack_runtime, "a@acme.example")
    forwarded(slack_runtime, "b@acme.example")
    dispatcher(slack_runtime).run_once(now=T0)
    posts = fake_slack.to("chat.postMessage")
    assert len(posts) == 2
    assert all("Forwarded by rita@ourco.example: “can" in texts(p.args) for p in posts)
    assert len(fake_slack.to("users.lookupByEmail")) == 1  # the miss is remembered too


def test_a_reply_goes_to_the_thread_and_the_ask_stays(
    slack_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    store = slack_runtime.store
    slack_tick(slack_runtime, now=T0)
    lead_id = forwarded(slack_runtime)
    dispatcher(slack_runtime).run_once(now=T0)
    later = T0 + timedelta(minutes=10)
    with store.session() as s:
        record_inquiry(
            s, email="jane@acme.example", kind="email_reply", source="email", occurred_at=later,
            dedup_key="msgid:<reply>", profile={}, detail="Re: Pricing",
            data={"subject": "Re: Pricing", "text": "One more thing: can we pay by invoice?"},
            now=later,
        )  # fmt: skip
    slack_tick(slack_runtime, now=later)
    dispatcher(slack_runtime).run_once(now=later)
    [reply] = [c for c in fake_slack.to("chat.postMessage") if c.args.get("thread_ts")]
    assert "pay by invoice" in texts(reply.args)
    [update] = fake_slack.to("chat.update")
    assert "pricing for 120 seats" in texts(update.args)
    assert "pay by invoice" not in texts(update.args)
    assert lead_id


@pytest.mark.parametrize(
    ("status", "header", "line"),
    [
        ("claimed", ":raising_hand: Claimed: Jane Doe · Acme", "*Claimed by <@U1>*"),
        ("won", ":trophy: Won: Jane Doe · Acme", ":trophy: *Won* by <@U1> · *12,500*"),
        ("lost", ":x: Lost: Jane Doe · Acme", ":x: *Lost* by <@U1>: price: too dear"),
        ("nurturing", ":seedling: Back to nurturing: Jane Doe · Acme", "*Back to nurturing*"),
        ("disqualified", ":no_entry_sign: Disqualified: Jane Doe · Acme", "*Disqualified*"),
    ],
)
def test_header_and_emoji_say_the_state(status: str, header: str, line: str) -> None:
    lead = Lead(id=3, email="jane@acme.example", name="Jane Doe", company="Acme", status=status,
                owner="U1", score=50, temperature="hot", deal_value=12500.0 if status == "won" else None,
                reason_code="price" if status == "lost" else None,
                status_reason="too dear" if status == "lost" else None)  # fmt: skip
    card = blocks.lead_card(lead)
    assert card["blocks"][0]["text"]["text"] == header
    assert line in card["blocks"][-1]["elements"][0]["text"]


def test_a_claim_while_posting_brings_the_card_up_to_date(
    slack_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    """The header follows the state in every message: post, then update."""
    lead_id = make_lead(slack_runtime.store)
    dispatcher(slack_runtime).run_once(now=T0)
    with slack_runtime.store.session() as s:
        lead = lifecycle.claim(s, lead_id=lead_id, user="U1", now=T0)
        enqueue_lead_changed(s, lead, now=T0)
    dispatcher(slack_runtime).run_once(now=T0)
    [update] = fake_slack.to("chat.update")
    assert update.args["blocks"][0]["text"]["text"].startswith(":raising_hand: Claimed:")
    assert update.args["text"].startswith("Claimed: Jane Doe")
