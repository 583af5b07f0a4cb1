"""Why a lead is hot, as the card says it: whole points that add up to the shown score, and the
engine's evidence in plain words, checked on what the real engine writes with the default rules."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from bot.slack import blocks
from bot.slack.why import in_words, whole_points, why
from ingest.facts import reasons_json
from scoring import ActivityFacts, LeadFacts, load_rules
from storage.models import Lead

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


@given(st.lists(st.floats(min_value=-100, max_value=100, allow_nan=False), max_size=30))
def test_whole_points_add_up_and_stay_within_one(values: list[float]) -> None:
    total = round(sum(values))
    whole = whole_points(values, total)
    assert sum(whole) == total if values else whole == []
    assert all(abs(w - v) < 1 for w, v in zip(whole, values, strict=True))


def test_decayed_points_round_to_the_score() -> None:
    # 14.88 + 11.98 + 12 + 8 + 0.7 = 47.56: shown as 48, and the lines say 15 + 12 + 12, 8 + 1.
    reasons = [
        {"points": 14.88, "reason": "Pricing", "group": "engagement"},
        {"points": 11.98, "reason": "Demo", "group": "engagement"},
        {"points": 12, "reason": "VP", "group": "fit"},
        {"points": 8, "reason": "Domain", "group": "fit"},
        {"points": 0.7, "reason": "Visit", "group": "engagement"},
        {"points": 0, "reason": "Interest in Analytics", "group": "product"},
    ]
    total, lines, rest, others = why(reasons, 47.56)
    assert (total, [x.points for x in lines], rest, others) == (48, [15, 12, 12], 9, 2)


def test_stale_reasons_are_scaled_to_the_stored_score() -> None:
    """A decay-only rescore leaves the reasons as they were: what faded is engagement."""
    reasons = [
        {"points": 30, "reason": "Pricing", "group": "engagement"},
        {"points": 20, "reason": "VP", "group": "fit"},
        {"points": -5, "reason": "Webmail", "group": "negative"},
    ]
    total, lines, rest, _ = why(reasons, 30.0)  # 30 of engagement faded to 15
    assert (total, [(x.reason, x.points) for x in lines], rest) == (
        30, [("VP", 20), ("Pricing", 15)], -5
    )  # fmt: skip


def engine_reasons() -> tuple[list[dict[str, object]], float]:
    scorer = load_rules(None)
    lead = LeadFacts(
        email="jane@acme-robotics.example", domain="acme-robotics.example", name="Jane Doe",
        title="VP Operations", company="Acme Robotics", country="US",
        fields={"company_size": "250"},
    )  # fmt: skip
    dec2 = datetime(2026, 12, 2, 9, 12, tzinfo=UTC)
    activities = [
        ActivityFacts("email_inquiry", dec2, "Pricing and a demo for 120 seats this quarter"),
        ActivityFacts("page_visit", dec2 - timedelta(days=3), "", fields={"page": "/pricing"}),
        ActivityFacts("page_visit", dec2 - timedelta(days=1), "", fields={"page": "/pricing"}),
        ActivityFacts("form_submission", dec2 - timedelta(days=40), "Whitepaper download"),
    ]
    result = scorer.score(lead, activities, now=NOW)
    return reasons_json(result), result.score


def test_the_engines_evidence_reads_as_words() -> None:
    reasons, score = engine_reasons()
    lines = [in_words(str(r["evidence"]), title="VP Operations", today=NOW.date()) for r in reasons]
    for raw, line in zip((str(r["evidence"]) for r in reasons), lines, strict=True):
        assert "\u00d7" not in line and "latest 20" not in line and "text:" not in line, raw
        assert "_" not in line and " is business" not in line, raw
    joined = " | ".join(lines)
    assert "“pricing”" in joined and "in the email of Dec 2" in joined
    assert "title “VP Operations”" in joined
    total, shown, rest, _ = why(reasons, score, title="VP Operations", today=NOW.date())
    assert total == round(score) and sum(x.points for x in shown) + rest == total
    assert 1 <= len(shown) <= 3 and all(x.points > 0 for x in shown)


def test_activity_counts_in_words() -> None:
    today = date(2026, 12, 3)
    assert in_words("2\u00d7 page_visit, latest 2026-12-01", today=today) == (
        "2 page visits, the latest on Dec 1"
    )
    assert in_words(
        "1\u00d7 email_inquiry, 2\u00d7 form_submission, latest 2025-11-30; text: quote",
        today=today,
    ) == ("“quote” in 3 messages, the latest on Nov 30, 2025")
    assert in_words("company_size = 250; acme.example is business") == (
        "company size 250; acme.example"
    )
    assert in_words("something new; text: a, b") == "something new; “a”, “b”"


def test_the_card_shows_whole_points_that_add_up() -> None:
    reasons, score = engine_reasons()
    lead = Lead(id=1, email="jane@acme-robotics.example", name="Jane Doe", title="VP Operations",
                company="Acme Robotics", status="announced", score=score, temperature="hot",
                reasons=reasons)  # fmt: skip
    card = blocks.lead_card(lead, now=NOW)
    [why_block] = [b for b in card["blocks"] if "*Score " in str(b.get("text", {}).get("text"))]
    text = why_block["text"]["text"]
    assert text.startswith(f"*Score {round(score)}* (hot)")
    points = [int(line.split("*")[1]) for line in text.splitlines()[1:]]
    assert sum(points) == round(score)
    assert not any("." in line.split("*")[1] for line in text.splitlines()[1:])
    assert math.isclose(sum(float(str(r["points"])) for r in reasons), score)
