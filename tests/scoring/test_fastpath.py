"""scoring.fastpath (batches without reasons, stored plans) gives what the reasons path gives."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring import ActivityFacts, LeadFacts, RuleSet, ScoreResult, load_rules, loads_rules
from scoring.fastpath.batch import _loop_sum
from tests.scoring.conftest import HEADER, NOW

# Every timed shape of rule: within_days, min_count, per_activity with and without a cap or
# decay, a product on each side, negative points, text conditions.
TIMED = (
    HEADER
    + """
[products.alpha]
keywords = ["alpha", "dashboard*"]

[products.beta]
keywords = ["beta", "api"]
form_values = ["b"]

[[rule]]
name = "recent-inquiry"
points = 9
reason = "r"
when.activity = {kind = "email_inquiry", min_count = 2, within_days = 20}

[[rule]]
name = "ceo"
points = 7.5
reason = "r"
when.title_any = ["CEO", "head of"]

[[rule]]
name = "visits"
points = 1.5
per_activity = true
max_points = 5
reason = "r"
when.activity = {kind = "page_visit", within_days = 30}

[[rule]]
name = "downloads"
points = 3
per_activity = true
decay = false
reason = "r"
when.activity = {kind = "download"}

[[rule]]
name = "flat-recent"
points = 4
decay = false
reason = "r"
when.activity = {kind = ["download", "webinar"], within_days = 15}

[[rule]]
name = "alpha-lead"
product = "alpha"
points = 6
reason = "r"
when.text_any = ["price*"]

[[rule]]
name = "beta-role"
product = "beta"
points = 8
reason = "r"
when.title_any = ["engineer*"]

[[rule]]
name = "size"
points = 2.25
reason = "r"
when.field = {name = "size", gte = 50}

[[rule]]
name = "cv"
points = -11
reason = "r"
when.text_any = ["cv"]
"""
)

KINDS = ["email_inquiry", "email_reply", "page_visit", "download", "webinar", "form_submission"]
WORDS = [
    "alpha",
    "beta",
    "api",
    "dashboards",
    "prices",
    "pricing",
    "quote",
    "demo",
    "cv",
    "thesis",
    "next quarter",
    "unsubscribe",
    "hello",
    "seats",
    "analytics",
    "integration",
]
# Activity times with ties (the order among equal times must not matter) in every zone the
# stored data may come in: aware UTC, naive (read as UTC), another offset.
ZONES = [UTC, None, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5))]
any_time = st.builds(
    lambda days, zone: (
        (NOW - timedelta(days=days)).replace(tzinfo=None)
        if zone is None
        else (NOW - timedelta(days=days)).astimezone(zone)
    ),
    st.one_of(st.sampled_from([0.0, 1.0, 6.5, 30.0]), st.floats(min_value=-5, max_value=200)),
    st.sampled_from(ZONES),
)
# Sender verdicts as ingest.auth gives an email's activity (absent when not judged).
AUTH = st.sampled_from(
    [
        {},
        {"auth.dmarc": "fail", "auth.dmarc_policy": "reject", "auth.verified": "no"},
        {"auth.dmarc": "pass", "auth.verified": "yes", "spam.score": "1.5"},
        {"auth.dmarc": "none", "auth.verified": "no", "spam.score": "7", "spam.flagged": "yes"},
    ]
)
activity = st.builds(
    lambda kind, when, words, product, auth: ActivityFacts(
        kind,
        when,
        text=" ".join(words),
        fields={**({"product": product} if product else {}), **auth},
    ),
    st.sampled_from(KINDS),
    any_time,
    st.lists(st.sampled_from(WORDS), max_size=6),
    st.sampled_from([None, None, "b", "alpha"]),
    AUTH,
)
lead = st.builds(
    lambda title, domain, country, size: LeadFacts(
        email=f"x@{domain}",
        domain=domain,
        title=title,
        country=country,
        name="N",
        fields={"size": size, "company_size": size},
    ),
    st.sampled_from([None, "CEO", "Head of Data", "Engineer", "VP Sales", "Student"]),
    st.sampled_from(["acme.io", "gmail.com", "mailinator.com", "rivalsoft.example"]),
    st.sampled_from([None, "DE", "US", "IN"]),
    st.sampled_from(["10", "50", "300", "x"]),
)
RULES: dict[str, RuleSet] = {"default": load_rules(), "timed": loads_rules(TIMED)}


def same(fast: ScoreResult, full: ScoreResult) -> None:
    assert replace(full, reasons=()) == fast
    assert sum(r.points for r in full.reasons) == fast.score


@settings(max_examples=300, deadline=None)
@given(
    which=st.sampled_from(sorted(RULES)),
    batch=st.lists(st.tuples(lead, st.lists(activity, max_size=7)), min_size=1, max_size=4),
    later=st.lists(st.floats(min_value=-10, max_value=400), min_size=1, max_size=3),
    half_life=st.sampled_from([10.0, 30.0, 7.5]),
)
def test_fast_path_equals_reasons_path(
    which: str,
    batch: list[tuple[LeadFacts, list[ActivityFacts]]],
    later: list[float],
    half_life: float,
) -> None:
    rules = RULES[which]
    rules.half_life_days = half_life
    for days in later:  # the same leads again at other times: cached plans, new decay
        now = NOW + timedelta(days=days)
        fast = rules.score_batch(batch, now=now, reasons=False)
        for (facts, acts), got in zip(batch, fast, strict=True):
            same(got, rules.score(facts, acts, now=now))


@settings(max_examples=300, deadline=None)
@given(
    which=st.sampled_from(sorted(RULES)),
    batch=st.lists(st.tuples(lead, st.lists(activity, max_size=7)), min_size=1, max_size=4),
    later=st.lists(st.floats(min_value=-10, max_value=400), min_size=1, max_size=3),
    half_life=st.sampled_from([10.0, 30.0, 7.5]),
)
def test_stored_plans_equal_the_reasons_path(
    which: str,
    batch: list[tuple[LeadFacts, list[ActivityFacts]]],
    later: list[float],
    half_life: float,
) -> None:
    rules = RULES[which]
    rules.half_life_days = half_life
    # What storage.rescore_decay does: plans through JSON text, scored later without the facts.
    stored = [json.dumps(p) for p in rules.plan_batch(batch)]
    for days in later:
        now = NOW + timedelta(days=days)
        got = rules.score_plans(stored, now=now)
        for (facts, acts), one in zip(batch, got, strict=True):
            same(one, rules.score(facts, acts, now=now))
        # Again: now from the parsed-plan cache.
        assert rules.score_plans(stored, now=now) == got
    zoned = NOW.astimezone(timezone(timedelta(hours=-5)))
    assert rules.score_plans(stored, now=zoned) == rules.score_plans(stored, now=NOW)


# Generated rules files: every rule shape the loader accepts, with drawn points (fractions that
# binary floats cannot hold exactly, ties for round(), negatives), windows, counts and caps, a
# product on either side, and drawn thresholds and half-life. The reasons path states what each
# shape means; the fast path must agree on all of them, not only on the two files above.
LEAD_CONDITIONS = [
    'title_any = ["CEO", "head of", "engineer*"]',
    'domain_is = "business"',
    'domain_is = ["webmail", "disposable"]',
    'domain_is = "competitor"',
    'country_in = ["DE", "US"]',
    'field = {name = "size", gte = 50}',
    "profile_complete_min = 2",
]
TEXT_CONDITIONS = [
    'text_any = ["price*", "quote"]',
    'text_any = ["cv", "thesis"]',
    'auth = {dmarc = "fail"}',
    'auth = {dmarc = ["none", "fail"], verified = "no"}',
    "spam.score = {gte = 5}",
    "spam.flagged = true",
]
points = st.integers(min_value=-100_000, max_value=100_000).map(lambda n: n / 1000)


@st.composite
def rule_rows(draw: st.DrawFn, index: int) -> str:
    when: list[str] = []
    if draw(st.booleans()):
        when.append(draw(st.sampled_from(LEAD_CONDITIONS)))
    engagement = draw(st.booleans()) or not when
    rows = [f'name = "r{index}"', f"points = {draw(points)!r}", 'reason = "r"']
    if engagement:
        table: list[str] = []
        kinds = draw(st.sampled_from([None, ["page_visit"], ["download", "webinar"], ["*"]]))
        if kinds is not None:
            table.append(f"kind = {json.dumps(kinds)}")
        if draw(st.booleans()):
            table.append(f"min_count = {draw(st.integers(min_value=1, max_value=3))}")
        if draw(st.booleans()):
            table.append(f"within_days = {draw(st.sampled_from([0.5, 7, 20, 30.25, 90]))}")
        text = draw(st.booleans())
        if draw(st.booleans()) or not text:  # an engagement rule needs one of the two
            when.append(f"activity = {{{', '.join(table)}}}")
        if text:
            when.append(draw(st.sampled_from(TEXT_CONDITIONS)))
        if draw(st.booleans()):
            rows.append("per_activity = true")
            cap = draw(st.sampled_from([None, 1, 5, 12.5]))
            if cap is not None:
                rows.append(f"max_points = {cap}")
        if draw(st.booleans()):
            rows.append(f"decay = {str(draw(st.booleans())).lower()}")
    product = draw(st.sampled_from([None, None, "alpha", "beta"]))
    if product is not None:
        rows.append(f'product = "{product}"')
    rows.extend(f"when.{w}" for w in when)
    return "[[rule]]\n" + "\n".join(rows) + "\n"


@st.composite
def rules_files(draw: st.DrawFn) -> RuleSet:
    warm = draw(st.sampled_from([0, 5, 10.5, 25]))
    hot = warm + draw(st.sampled_from([0.01, 5, 20]))
    n = draw(st.integers(min_value=1, max_value=8))
    body = "".join(draw(rule_rows(i)) for i in range(n))
    return loads_rules(
        f"""
[settings]
half_life_days = {draw(st.sampled_from([0.5, 7.5, 10, 30]))}

[thresholds]
warm = {warm}
hot = {hot}

[domains]
competitors = ["rivalsoft.example"]

[products.alpha]
keywords = ["alpha", "dashboard*"]

[products.beta]
keywords = ["beta", "api"]
form_values = ["b"]

"""
        + body
    )


def fresh(item: tuple[LeadFacts, list[ActivityFacts]]) -> tuple[LeadFacts, list[ActivityFacts]]:
    """New objects with the same content, as a database read returns them."""
    facts, acts = item
    return replace(facts, fields=dict(facts.fields)), [replace(a) for a in acts]


@settings(max_examples=300, deadline=None)
@given(
    rules=rules_files(),
    batch=st.lists(st.tuples(lead, st.lists(activity, max_size=7)), min_size=1, max_size=4),
    later=st.lists(st.floats(min_value=-10, max_value=400), min_size=1, max_size=3),
)
def test_fast_path_equals_reasons_path_for_generated_rules(
    rules: RuleSet, batch: list[tuple[LeadFacts, list[ActivityFacts]]], later: list[float]
) -> None:
    stored = [json.dumps(p) for p in rules.plan_batch(batch)]
    # A lead seen again within the batch, as fresh objects: its plan comes from the cache.
    again = [*batch, fresh(batch[0])]
    for days in later:
        now = NOW + timedelta(days=days)
        fast = rules.score_batch(again, now=now, reasons=False)
        from_plans = rules.score_plans(stored, now=now)
        for i, (facts, acts) in enumerate(again):
            full = rules.score(facts, acts, now=now)
            same(fast[i], full)
            if i < len(stored):
                same(from_plans[i], full)


def test_rescoring_fresh_copies_uses_the_cache_and_follows_time() -> None:
    rules = loads_rules(TIMED)
    facts = LeadFacts(email="a@acme.io", domain="acme.io", title="CEO")
    acts = [ActivityFacts("email_inquiry", NOW - timedelta(days=d)) for d in (1, 5)]
    first = rules.score_batch([(facts, acts)], now=NOW, reasons=False)[0]
    assert first.score == 7.5 + round(9 * 0.5**0.5, 2)  # ceo, then the 5-day-old inquiry
    # New objects with the same content, as a database read gives them: one cached plan.
    copy = (replace(facts, fields={}), [replace(a) for a in acts])
    later = rules.score_batch([copy], now=NOW + timedelta(days=16), reasons=False)[0]
    assert len(rules._fast._cache) == 1
    assert later.score == 7.5  # the second inquiry is now 21 days old: outside within_days
    same(later, rules.score(*copy, now=NOW + timedelta(days=16)))
    # A changed text is a different lead content: a new plan, not the cached one.
    changed = [replace(acts[0], text="my CV"), acts[1]]
    assert rules.score_batch([(facts, changed)], now=NOW, reasons=False)[0].score == (
        first.score - 11
    )


def test_naive_and_zoned_times_match_the_reasons_path() -> None:
    rules = loads_rules(TIMED)
    facts = LeadFacts(email="a@acme.io", domain="acme.io", title="CEO")
    plus2 = timezone(timedelta(hours=2))
    acts = [
        ActivityFacts("email_inquiry", datetime(2025, 5, 30, 8, 0)),  # naive: UTC
        ActivityFacts("email_inquiry", datetime(2025, 5, 25, 8, 0, tzinfo=plus2)),
        ActivityFacts("page_visit", datetime(2025, 5, 31, 23, 0, tzinfo=UTC)),
    ]
    for now in (NOW, NOW.replace(tzinfo=None), NOW.astimezone(plus2)):
        same(
            rules.score_batch([(facts, acts)], now=now, reasons=False)[0],
            rules.score(facts, acts, now=now),
        )


def test_the_fast_path_itself_refuses_a_clock_that_is_not_utc() -> None:
    # score_batch sends such a `now` to the reasons path; FastPath must never guess a zone.
    fast = loads_rules(TIMED)._fast
    for now in (NOW.replace(tzinfo=None), NOW.astimezone(timezone(timedelta(hours=2)))):
        with pytest.raises(ValueError, match="UTC"):
            fast.score_many([], now)


def test_thresholds_changed_after_loading_apply(write_rules: Callable[[str], Path]) -> None:
    rules = loads_rules(TIMED)
    facts = LeadFacts(email="a@acme.io", domain="acme.io", title="CEO")
    assert rules.score_batch([(facts, [])], now=NOW, reasons=False)[0].temperature == "cold"
    rules.warm_threshold = 5
    assert rules.score_batch([(facts, [])], now=NOW, reasons=False)[0].temperature == "warm"


def test_loop_sum_adds_in_order() -> None:
    values = [0.1, 0.2, 0.3, -0.6, 1e16, 1.0, -1e16]
    total = 0.0
    for v in values:
        total += v
    assert _loop_sum(values, 0.0) == total
