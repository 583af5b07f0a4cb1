"""Decay, thresholds, products and explanations that add up exactly."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring import (
    ActivityFacts,
    LeadFacts,
    RuleSet,
    explain_json,
    explain_text,
    load_rules,
    temperature_for,
)
from storage.errors import ConfigError
from tests.scoring.conftest import NOW

LEAD = LeadFacts(email="ann@acme.io", domain="acme.io", title="VP Sales")
DECAY = """
[[rule]]
name = "inquiry"
points = 12
reason = "Wrote to us"
when.activity = {kind = "email_inquiry"}

[[rule]]
name = "visits"
points = 2
per_activity = true
max_points = 6
reason = "Visits"
when.activity = {kind = "page_visit"}

[[rule]]
name = "vp"
points = 4
reason = "VP"
when.title_any = ["VP"]

[[rule]]
name = "cv"
points = -8
reason = "CV"
when.text_any = ["cv"]
"""


def at(days: float, kind: str = "email_inquiry", text: str = "") -> ActivityFacts:
    return ActivityFacts(kind, NOW - timedelta(days=days), text=text)


def by_rule(rules: RuleSet, acts: list[ActivityFacts]) -> dict[str, float]:
    return {r.rule: r.points for r in rules.score(LEAD, acts, now=NOW).reasons}


def test_half_life_exactly_halves(write_rules: Callable[[str], Path]) -> None:
    rules = load_rules(write_rules(DECAY))  # half_life_days = 10
    assert by_rule(rules, [at(0)])["inquiry"] == 12
    assert by_rule(rules, [at(10)])["inquiry"] == 6
    assert by_rule(rules, [at(20)])["inquiry"] == 3
    assert by_rule(rules, [at(-5)])["inquiry"] == 12  # a future timestamp is not worth more
    assert by_rule(rules, [at(30), at(10)])["inquiry"] == 6  # the most recent one counts
    result = rules.score(LEAD, [at(10)], now=NOW)
    inquiry = next(r for r in result.reasons if r.rule == "inquiry")
    assert (inquiry.base_points, inquiry.decay, inquiry.group) == (12, 0.5, "engagement")
    assert result.fit == 4 and result.engagement == 6


def test_per_activity_decays_each_and_caps(write_rules: Callable[[str], Path]) -> None:
    rules = load_rules(write_rules(DECAY))
    assert by_rule(rules, [at(0, "page_visit"), at(10, "page_visit")])["visits"] == 3  # 2 + 1
    many = [at(0, "page_visit")] * 5
    assert by_rule(rules, many)["visits"] == 6


def test_negative_points_and_fit_never_decay(write_rules: Callable[[str], Path]) -> None:
    rules = load_rules(write_rules(DECAY))
    got = by_rule(rules, [at(100, text="my CV attached")])
    assert got["cv"] == -8 and got["vp"] == 4 and got["inquiry"] == pytest.approx(0.01)


def test_inactivity_lowers_the_score(write_rules: Callable[[str], Path]) -> None:
    rules = load_rules(write_rules(DECAY))
    acts = [at(1), at(1, "page_visit")]
    early = rules.score(LEAD, acts, now=NOW).score
    late = rules.score(LEAD, acts, now=NOW + timedelta(days=60)).score
    assert late < early


def test_hot_override_at_or_below_warm_lowers_warm(write_rules: Callable[[str], Path]) -> None:
    path = write_rules(DECAY)  # warm 10, hot 20
    low = load_rules(path, hot_threshold=5)
    assert (low.warm_threshold, low.hot_threshold) == (5, 5)
    assert low.score(LEAD, [], now=NOW).temperature == "cold"  # fit 4
    assert low.score(LEAD, [at(30)], now=NOW).temperature == "hot"  # 4 + 1.5
    equal = load_rules(path, hot_threshold=10)
    assert (equal.warm_threshold, equal.hot_threshold) == (10, 10)
    raised = load_rules(path, hot_threshold=30)
    assert (raised.warm_threshold, raised.hot_threshold) == (10, 30)
    # The file's own thresholds must still make sense.
    bad = write_rules(DECAY, header="[thresholds]\nwarm = 30\nhot = 20\n")
    with pytest.raises(ConfigError, match="hot threshold 20 must be above the warm threshold 30"):
        load_rules(bad, hot_threshold=50)


def test_thresholds_and_override(write_rules: Callable[[str], Path]) -> None:
    path = write_rules(DECAY)  # warm 10, hot 20
    assert load_rules(path).score(LEAD, [at(0)], now=NOW).temperature == "warm"  # 16
    assert load_rules(path, hot_threshold=15).score(LEAD, [at(0)], now=NOW).temperature == "hot"
    assert load_rules(path).score(LEAD, [], now=NOW).temperature == "cold"
    assert temperature_for(20, warm=10, hot=20) == "hot"
    assert temperature_for(9.99, warm=10, hot=20) == "cold"


PRODUCTS = """
[products.analytics]
keywords = ["analytics", "dashboard*"]

[products.payments]
label = "Payments"
keywords = ["payments", "checkout"]
form_values = ["pay"]

[[rule]]
name = "vp"
points = 10
reason = "VP"
when.title_any = ["VP"]

[[rule]]
name = "analytics-data-title"
product = "analytics"
points = 15
reason = "Data title"
when.title_any = ["data"]

[[rule]]
name = "payments-fintech"
product = "payments"
points = -5
reason = "Not for payments"
when.title_any = ["data"]
"""


def test_per_product_scores(write_rules: Callable[[str], Path]) -> None:
    rules = load_rules(write_rules(PRODUCTS))
    data_vp = LeadFacts(email="a@acme.io", domain="acme.io", title="VP Data")
    # No product recognised: product rules do not count.
    none = rules.score(data_vp, [], now=NOW)
    assert (none.product, none.score) == (None, 10)
    # Both recognised: the best product wins and its score is reported.
    both = rules.score(data_vp, [at(1, text="analytics dashboards and checkout")], now=NOW)
    assert (both.product, both.score, both.temperature) == ("analytics", 25, "hot")
    assert {r.rule for r in both.reasons} == {"vp", "analytics-data-title", "product:analytics"}
    # Recognised from a form field only: cold for payments.
    form = LeadFacts(
        email="a@acme.io", domain="acme.io", title="VP Data", fields={"product": "Pay"}
    )
    pay = rules.score(form, [], now=NOW)
    assert (pay.product, pay.score, pay.temperature) == ("payments", 5, "cold")
    assert sum(r.points for r in pay.reasons) == pay.score


TEXTS = st.text(alphabet=st.sampled_from(list("abc pricing demo cv VP")), max_size=40)


@settings(max_examples=150, deadline=None)
@given(
    ages=st.lists(st.floats(min_value=-3, max_value=400), max_size=8),
    kinds=st.lists(
        st.sampled_from(["email_inquiry", "page_visit", "download", "other"]),
        min_size=8,
        max_size=8,
    ),
    text=TEXTS,
    half_life=st.floats(min_value=0.5, max_value=90),
)
def test_reasons_sum_exactly(
    ages: list[float], kinds: list[str], text: str, half_life: float
) -> None:
    rules = load_rules()
    rules.half_life_days = half_life
    acts = [
        ActivityFacts(k, NOW - timedelta(days=a), text=text)
        for a, k in zip(ages, kinds, strict=False)
    ]
    lead = LeadFacts(email="x@gmail.com", domain="gmail.com", title=text, country="DE")
    result = rules.score(lead, acts, now=NOW)
    assert sum(r.points for r in result.reasons) == result.score
    assert all(r.points == round(r.points, 2) for r in result.reasons)
    data = explain_json(result)
    assert sum(r["points"] for r in data["reasons"]) == data["score"]  # type: ignore[attr-defined]
    fast = rules.score_batch([(lead, acts)], now=NOW, reasons=False)[0]
    assert (fast.score, fast.temperature, fast.product) == (
        result.score,
        result.temperature,
        result.product,
    )


def test_explain_text_and_json(write_rules: Callable[[str], Path]) -> None:
    result = load_rules(write_rules(DECAY)).score(LEAD, [at(10), at(0, "page_visit")], now=NOW)
    text = explain_text(result)
    assert text.splitlines()[0] == "Score 12.00 (warm): fit 4.00 (grade D), engagement 8.00"
    assert "inquiry" in text and "decay 0.50" in text and text.rstrip().endswith("total")
    data = explain_json(result)
    assert data["score"] == 12 and data["temperature"] == "warm"
    assert data["reasons"][0] == {  # type: ignore[index]
        "rule": "inquiry",
        "group": "engagement",
        "product": None,
        "reason": "Wrote to us",
        "evidence": "1× email_inquiry, latest 2025-05-22",  # noqa: RUF001
        "base_points": 12.0,
        "decay": 0.5,
        "points": 6.0,
    }


def test_default_rules_rank_a_buyer_above_a_student() -> None:
    rules = load_rules()
    buyer = rules.score(
        LeadFacts(
            email="cfo@acme.io",
            domain="acme.io",
            title="CFO",
            name="A",
            company="Acme",
            country="DE",
            fields={"company_size": "300"},
        ),
        [at(1, text="Could you send a quote for 40 licences? We plan rollout next quarter.")],
        now=NOW,
    )
    student = rules.score(
        LeadFacts(email="s@gmail.com", domain="gmail.com", title="Student"),
        [at(1, text="For my thesis, can I get a free demo?")],
        now=NOW,
    )
    assert buyer.temperature == "hot" and buyer.grade == "A"
    assert student.temperature == "cold" and student.score < 0
    assert buyer.score > student.score
