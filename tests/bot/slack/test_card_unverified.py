"""The card says "Unverified sender" when the email it shows failed sender verification."""

from __future__ import annotations

import pytest

from bot.runtime import Runtime
from bot.slack import blocks
from storage import lifecycle
from storage.models import Lead
from tests.bot.conftest import dispatcher
from tests.bot.fake_slack import FakeSlack, block_kit_problem
from tests.bot.slack_helpers import T0
from tests.reference import record_inquiry


def announce(runtime: Runtime, email: str, fields: dict[str, str]) -> None:
    with runtime.store.session() as s:
        rec = record_inquiry(
            s, email=email, kind="email_inquiry", source="email", occurred_at=T0,
            dedup_key=f"msgid:<{email}>", profile={"name": "Ann Banker"}, detail="Pricing",
            data={"subject": "Pricing", "text": "Pricing for 50 seats", "fields": fields}, now=T0,
        )  # fmt: skip
        lead: Lead = rec.lead
        lead.score, lead.temperature = 60.0, "hot"
        assert lead.id is not None
        lead_id = lead.id
    with runtime.store.session() as s:
        lifecycle.announce(s, lead_id=lead_id, now=T0)


@pytest.mark.parametrize(
    ("fields", "warned"),
    [
        ({"auth.dmarc": "fail", "auth.verified": "no"}, True),
        ({"auth.dmarc": "pass", "auth.verified": "yes"}, False),
        ({"auth.verified": "unknown"}, False),  # our DNS did not answer: no accusation
        ({}, False),  # not judged at all (no DNS server, no trusted MTA)
    ],
)
def test_the_card_warns_only_about_an_unverified_sender(
    slack_runtime: Runtime, fake_slack: FakeSlack, fields: dict[str, str], warned: bool
) -> None:
    announce(slack_runtime, "cfo@bank.example", fields)
    assert dispatcher(slack_runtime).run_once(now=T0) == 1
    [post] = fake_slack.to("chat.postMessage")
    assert ("Unverified sender" in str(post.args["blocks"])) is warned
    assert block_kit_problem(post.args["blocks"], limit=blocks.MAX_BLOCKS_MESSAGE) is None


def test_the_warning_is_a_context_line_above_the_excerpt() -> None:
    lead = Lead(id=3, email="cfo@bank.example", status="announced", score=60, temperature="hot")
    card = blocks.lead_card(lead, excerpt="Pricing please", unverified=True)
    kinds = [b["type"] for b in card["blocks"]]
    at = next(i for i, b in enumerate(card["blocks"]) if "Unverified sender" in str(b))
    assert kinds[at] == "context" and "Pricing please" in str(card["blocks"][at + 1])
    assert "Unverified sender" not in str(blocks.lead_card(lead, excerpt="Pricing")["blocks"])
