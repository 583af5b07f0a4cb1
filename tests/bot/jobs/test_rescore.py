"""The fast rescoring path on SQLite and PostgreSQL: same results as the per-lead path, decay,
announcements without flapping, history, concurrent changes and changed rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from bot.jobs import workers as rescore_parallel
from bot.jobs.rescore import rescore_leads
from ingest.facts import activity_facts, lead_facts, reasons_json
from scoring import ActivityFacts, LeadFacts, RuleSet, ScoreResult, load_rules
from storage import lifecycle
from storage.db import Store
from storage.leads import activities_of, get_lead
from storage.migrate import upgrade
from storage.models import Activity, Lead, OutboxMessage
from storage.scores import engagement_activities
from tests.reference import record_inquiry

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HOT_TEXT = "We need pricing and a quote for 40 seats, demo this month please."


def inquiry(
    store: Store,
    email: str,
    *,
    text: str = HOT_TEXT,
    at: datetime = T0,
    title: str | None = "CTO",
    kind: str = "email_inquiry",
    fields: dict[str, Any] | None = None,
) -> int:
    """Record an activity without scoring it: the lead keeps score 0 until a rescore."""
    with store.session() as s:
        rec = record_inquiry(
            s,
            email=email,
            kind=kind,
            source="email",
            occurred_at=at,
            dedup_key=f"{email}:{at.isoformat()}:{kind}",
            profile={"name": "Jo Doe", "title": title, "company": "Acme"},
            data={"subject": "Hello", "text": text, "fields": fields or {}},
            fields=fields,
            now=at,
        )
        assert rec.lead.id is not None
        return rec.lead.id


def lead(store: Store, lead_id: int) -> Lead:
    with store.session() as s:
        return get_lead(s, lead_id=lead_id)


def kinds(store: Store, lead_id: int) -> list[str]:
    with store.session() as s:
        return [a.kind for a in activities_of(s, lead_id)]


def outbox_count(store: Store) -> int:
    with store.session() as s:
        return int(s.scalar(select(func.count()).select_from(OutboxMessage)) or 0)


@pytest.fixture
def rules() -> RuleSet:
    return load_rules()


def test_same_results_as_the_per_lead_path(store: Store, rules: RuleSet) -> None:
    ids = [
        inquiry(store, "cto@acme.example"),
        inquiry(store, "student@gmail.com", text="homework for my thesis", title="Student"),
        inquiry(
            store,
            "ana@shop.example",
            text="Integration API webhooks?",
            title="Engineer",
            kind="form_submission",
            fields={"company_size": "120", "industry": "Retail"},
        ),
        inquiry(store, "quiet@acme.example", text="", title=None, kind="page_visit"),
    ]
    inquiry(store, "cto@acme.example", text="Angebot bitte, dringend", at=T0 + timedelta(days=3))
    now = T0 + timedelta(days=10)
    stats = rescore_leads(store, rules, now=now, batch=2)
    assert stats.leads == 4 and stats.changed == 4
    with store.session() as s:
        for lead_id in ids:
            stored = get_lead(s, lead_id=lead_id)
            acts = activity_facts(engagement_activities(s, lead_id))
            want = rules.score(lead_facts(stored), acts, now=now)
            assert (stored.score, stored.fit_score, stored.engagement_score) == (
                want.score,
                want.fit,
                want.engagement,
            )
            assert (stored.temperature, stored.grade) == (want.temperature, want.grade)
            assert stored.reasons == reasons_json(want)
            assert sum(r["points"] for r in stored.reasons) == pytest.approx(stored.score)


def test_crossing_announces_and_decay_never_retracts(store: Store, rules: RuleSet) -> None:
    lead_id = inquiry(store, "cto@acme.example")
    assert lead(store, lead_id).score == 0
    stats = rescore_leads(store, rules, now=T0 + timedelta(hours=1))
    hot = lead(store, lead_id)
    assert stats.announced == 1 and hot.status == "announced" and hot.temperature == "hot"
    assert kinds(store, lead_id) == ["email_inquiry", "score_changed", "announced"]
    assert outbox_count(store) == 1

    stats = rescore_leads(store, rules, now=T0 + timedelta(days=120))
    cooled = lead(store, lead_id)
    assert cooled.score < hot.score and cooled.temperature != "hot"
    assert cooled.status == "announced" and stats.announced == 0  # falling never retracts
    assert outbox_count(store) == 1
    with store.session() as s:
        change = s.scalars(
            select(Activity).where(Activity.kind == "score_changed").order_by(Activity.id.desc())
        ).first()  # type: ignore[union-attr]
        assert change is not None and change.occurred_at == T0 + timedelta(days=120)
        assert change.data == {
            "from": hot.score,
            "to": cooled.score,
            "temperature": cooled.temperature,
        }


def test_no_reannounce_after_nurture_until_new_activity(store: Store, rules: RuleSet) -> None:
    lead_id = inquiry(store, "cto@acme.example")
    rescore_leads(store, rules, now=T0 + timedelta(hours=1))
    with store.session() as s:
        lifecycle.nurture(
            s, lead_id=lead_id, actor="U1", reason="next budget year", now=T0 + timedelta(hours=2)
        )
    stats = rescore_leads(store, rules, now=T0 + timedelta(hours=3))
    assert stats.announced == 0 and lead(store, lead_id).status == "nurturing"
    assert lead(store, lead_id).temperature == "hot"  # still hot, just not news again

    inquiry(store, "cto@acme.example", text="Any update on the quote?", at=T0 + timedelta(days=1))
    stats = rescore_leads(store, rules, now=T0 + timedelta(days=1, hours=1))
    assert stats.announced == 1 and lead(store, lead_id).status == "announced"
    assert kinds(store, lead_id).count("announced") == 2
    assert outbox_count(store) == 2


def test_sub_point_drift_is_neither_stored_nor_recorded(store: Store, rules: RuleSet) -> None:
    lead_id = inquiry(store, "cto@acme.example")
    rescore_leads(store, rules, now=T0 + timedelta(days=2))
    before = lead(store, lead_id).score
    stats = rescore_leads(store, rules, now=T0 + timedelta(days=2, hours=3))
    with store.session() as s:  # the live score drifted, but not by a point a person would see
        live = rules.score(
            lead_facts(get_lead(s, lead_id=lead_id)),
            activity_facts(engagement_activities(s, lead_id)),
            now=T0 + timedelta(days=2, hours=3),
        ).score
    assert live < before and round(live) == round(before)  # the case under test
    assert (stats.planned, stats.changed, stats.recorded) == (1, 0, 0)
    assert lead(store, lead_id).score == before
    assert kinds(store, lead_id).count("score_changed") == 1

    # Whole points later the drift is visible: stored, with its history row, from → to.
    later = T0 + timedelta(days=12)
    stats = rescore_leads(store, rules, now=later)
    assert (stats.planned, stats.changed, stats.recorded) == (1, 1, 1)
    after = lead(store, lead_id).score
    assert round(after) < round(before)
    with store.session() as s:
        rows = [a for a in activities_of(s, lead_id) if a.kind == "score_changed"]
        changes = [a.data for a in rows]
        assert (rows[-1].occurred_at, rows[-1].actor) == (later, "leadbot")
    assert changes[-1] == {
        "from": before,
        "to": after,
        "temperature": lead(store, lead_id).temperature,
    }
    assert changes[-1]["from"] == changes[-2]["to"]  # the history adds up, change by change
    _same_as_per_lead_path(store, rules, [lead_id], later)


class ChangesMeanwhile:
    """A scorer that lets an inquiry arrive for one lead while the batch is being scored."""

    def __init__(self, rules: RuleSet, store: Store, email: str) -> None:
        self.rules, self.store, self.email = rules, store, email
        self.hot_threshold = rules.hot_threshold

    def score(
        self, lead: LeadFacts, activities: list[ActivityFacts], *, now: datetime
    ) -> ScoreResult:
        if lead.email == self.email:
            inquiry(self.store, self.email, text="one more question", at=T0 + timedelta(hours=2))
        return self.rules.score(lead, activities, now=now)


def test_a_lead_changed_during_the_batch_is_left_to_its_writer(
    store: Store, rules: RuleSet
) -> None:
    busy = inquiry(store, "busy@acme.example")
    calm = inquiry(store, "calm@acme.example")
    stats = rescore_leads(
        store, ChangesMeanwhile(rules, store, "busy@acme.example"), now=T0 + timedelta(hours=3)
    )
    assert stats.changed == 1 and stats.announced == 1
    assert lead(store, busy).score == 0 and lead(store, busy).status == "nurturing"
    assert lead(store, calm).status == "announced"
    assert kinds(store, busy) == ["email_inquiry", "email_inquiry"]  # no stale score_changed
    rescore_leads(store, rules, now=T0 + timedelta(hours=3))  # the next run catches up
    assert lead(store, busy).status == "announced"


def test_changed_rule_wording_rewrites_reasons(store: Store, tmp_path: Path) -> None:
    body = (
        '[thresholds]\nwarm = 5\nhot = 90\n[[rule]]\nname = "exec"\npoints = 10\n'
        'when.title_any = ["CTO"]\nreason = "{}"\n'
    )
    first, second = tmp_path / "a.toml", tmp_path / "b.toml"
    first.write_text(body.format("Executive"), encoding="utf-8")
    second.write_text(body.format("Signs the contract"), encoding="utf-8")
    lead_id = inquiry(store, "cto@acme.example")
    assert rescore_leads(store, load_rules(first), now=T0).full is True
    assert rescore_leads(store, load_rules(first), now=T0).full is False
    stats = rescore_leads(store, load_rules(second), now=T0)
    assert stats.full is True and (stats.changed, stats.recorded) == (1, 0)
    stored = lead(store, lead_id)
    assert stored.score == 10 and [r["reason"] for r in stored.reasons] == ["Signs the contract"]


def _same_as_per_lead_path(
    store: Store, rules: RuleSet, ids: list[int], now: datetime, *, exact: bool = False
) -> None:
    """What a person sees is what the per-lead path computes at `now`: the whole-point score,
    temperature, fit and grade (`exact`: every number, as after scoring from the activities)."""
    with store.session() as s:
        for lead_id in ids:
            stored = get_lead(s, lead_id=lead_id)
            want = rules.score(
                lead_facts(stored), activity_facts(engagement_activities(s, lead_id)), now=now
            )
            assert (round(stored.score), stored.fit_score, stored.temperature, stored.grade) == (
                round(want.score),
                want.fit,
                want.temperature,
                want.grade,
            )
            assert abs(stored.engagement_score - want.engagement) < 1
            if exact:
                assert (stored.score, stored.engagement_score) == (want.score, want.engagement)


def test_decay_only_rescore_uses_stored_plans(store: Store, rules: RuleSet) -> None:
    ids = [
        inquiry(
            store,
            f"p{i}@acme.example",
            at=T0 - timedelta(days=3 * i),
            title=["CTO", "Engineer", None][i % 3],
        )
        for i in range(6)
    ]
    ids.append(inquiry(store, "student@gmail.com", text="homework for my thesis", title="Student"))
    first = rescore_leads(store, rules, now=T0 + timedelta(hours=1))
    assert first.full and first.planned == 0
    assert first.announced >= 1
    with store.session() as s:
        for lead_id in ids:  # announcing kept the plan valid: it changes no scoring fact
            stored = get_lead(s, lead_id=lead_id)
            assert stored.score_plan and stored.score_plan_at == stored.updated_at
    for days in (0.2, 3, 40, 400):
        now = T0 + timedelta(days=days)
        stats = rescore_leads(store, rules, now=now)
        assert (stats.full, stats.leads, stats.planned) == (False, 7, 7)
        _same_as_per_lead_path(store, rules, ids, now)


def test_a_new_activity_makes_the_plan_stale(store: Store, rules: RuleSet) -> None:
    lead_id = inquiry(store, "dev@shop.example", text="", title=None, kind="page_visit")
    rescore_leads(store, rules, now=T0 + timedelta(hours=1))
    inquiry(store, "dev@shop.example", at=T0 + timedelta(days=1))  # updated_at moves on
    now = T0 + timedelta(days=1, hours=1)
    stats = rescore_leads(store, rules, now=now)
    assert stats.planned == 0 and stats.announced == 1
    _same_as_per_lead_path(store, rules, [lead_id], now, exact=True)
    assert kinds(store, lead_id).count("score_changed") == 2


class DriftMeanwhile:
    """Rules whose stored-plan scoring lets an inquiry arrive for one lead while a batch is scored."""

    def __init__(self, rules: RuleSet, store: Store, email: str) -> None:
        self.rules, self.store, self.email = rules, store, email
        self.path, self.hot_threshold = rules.path, rules.hot_threshold
        self.warm_threshold, self.half_life_days = rules.warm_threshold, rules.half_life_days

    def score(
        self, lead: LeadFacts, activities: list[ActivityFacts], *, now: datetime
    ) -> ScoreResult:
        return self.rules.score(lead, activities, now=now)

    def plan_batch(self, items: list[tuple[LeadFacts, list[ActivityFacts]]]) -> list[Any]:
        return self.rules.plan_batch(items)

    def score_plans(self, plans: list[Any], *, now: datetime) -> list[ScoreResult]:
        inquiry(
            self.store, self.email, text="", at=T0 + timedelta(days=2, hours=1), kind="page_visit"
        )
        return self.rules.score_plans(plans, now=now)


def test_drift_of_a_lead_changed_meanwhile_is_left_to_its_writer(
    store: Store, rules: RuleSet
) -> None:
    busy = inquiry(store, "busy@acme.example")
    calm = inquiry(store, "calm@acme.example")
    rescore_leads(store, rules, now=T0 + timedelta(days=2))
    before = lead(store, busy).score
    stats = rescore_leads(
        store, DriftMeanwhile(rules, store, "busy@acme.example"), now=T0 + timedelta(days=12)
    )  # whole points: both would be written
    assert stats.planned == 2 and stats.conflicts == 1 and stats.changed == 1
    assert lead(store, busy).score == before and round(lead(store, calm).score) < round(before)
    later = T0 + timedelta(days=12, hours=1)
    assert rescore_leads(store, rules, now=later).planned == 1  # busy: stale plan, full path
    _same_as_per_lead_path(store, rules, [busy, calm], later)


def test_leads_without_a_plan_get_one_without_a_rewrite(store: Store, rules: RuleSet) -> None:
    lead_id = inquiry(store, "quiet@acme.example", text="", title=None, kind="page_visit")
    rescore_leads(store, rules, now=T0)
    with store.session() as s:  # as after the migration: scored, but no plan yet
        s.execute(update(Lead).values(score_plan=None))
    stats = rescore_leads(store, rules, now=T0)
    assert (stats.planned, stats.changed, stats.recorded) == (0, 0, 0)
    stored = lead(store, lead_id)
    assert stored.score_plan and stored.score_plan_at == stored.updated_at
    assert rescore_leads(store, rules, now=T0).planned == 1


def test_an_unreadable_plan_is_rebuilt_from_the_activities(store: Store, rules: RuleSet) -> None:
    lead_id = inquiry(store, "cto@acme.example")
    rescore_leads(store, rules, now=T0 + timedelta(hours=1))
    good = lead(store, lead_id).score_plan
    assert good is not None
    with store.session() as s:  # the fingerprint is right, the JSON is not
        s.execute(update(Lead).values(score_plan=good.split(":")[0] + ":[1,[2"))
    now = T0 + timedelta(days=3)
    stats = rescore_leads(store, rules, now=now)
    assert stats.planned == 0 and stats.changed == 1
    _same_as_per_lead_path(store, rules, [lead_id], now, exact=True)
    assert lead(store, lead_id).score_plan == good  # time-free: the same plan again


def test_decay_path_on_an_in_memory_database(rules: RuleSet) -> None:
    # One database per connection there: the read/write pipeline must stay in one thread.
    store = Store("sqlite://")
    upgrade(store)
    lead_id = inquiry(store, "cto@acme.example")
    rescore_leads(store, rules, now=T0 + timedelta(days=2))
    stats = rescore_leads(store, rules, now=T0 + timedelta(days=12))
    assert (stats.leads, stats.planned, stats.changed, stats.recorded) == (1, 1, 1, 1)
    _same_as_per_lead_path(store, rules, [lead_id], T0 + timedelta(days=12))
    store.dispose()


def test_decay_in_worker_processes_gives_the_same_rows(store: Store, rules: RuleSet) -> None:
    if store.url.startswith("sqlite") and ":memory:" in store.url:
        pytest.skip("worker processes need a database they can open")
    ids = [
        inquiry(
            store,
            f"p{i}@acme{i % 3}.example",
            at=T0 - timedelta(days=2 * i),
            title=["CTO", "Engineer", None][i % 3],
        )
        for i in range(9)
    ]
    rescore_leads(store, rules, now=T0 + timedelta(hours=1))  # full: plans stored
    later = T0 + timedelta(days=12)
    try:
        stats = rescore_leads(store, rules, now=later, workers=2, parallel_min=0)
        assert rescore_parallel._POOLS  # the run went to the worker processes
        assert (stats.leads, stats.planned, stats.full) == (9, 9, False)
        assert stats.changed == stats.recorded > 0  # whole points moved: stored, with history
        _same_as_per_lead_path(store, rules, ids, later)
        again = rescore_leads(store, rules, now=later, workers=2, parallel_min=0)
        assert (again.leads, again.changed, again.recorded) == (9, 0, 0)  # nothing twice
    finally:
        rescore_parallel.shutdown()
