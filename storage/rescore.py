"""Rescoring every lead fast: keyset batches read with Core, scored, only changed rows written.

The per-lead ORM path (storage.scores.score_lead) costs milliseconds a lead; this one reads a
batch of leads and their engagement activities in two queries, scores them, and writes the changed
ones back in one UPDATE … FROM a temporary table (storage.rescore_write). It keeps the semantics of
apply_score: a `score_changed` activity when the rounded score or the temperature changes (a lead
scored from its activities stores its exact numbers; time alone, in storage.rescore_decay, stores
only visible changes), and an announcement when a lead becomes
eligible (storage.lifecycle.eligible_for_announcement: no flapping after nurture). Every lead it
scores also gets its time-free plan stored (lead.score_plan), so that later runs with the same
rules score it from the plan alone (storage.rescore_decay) as long as the row is unchanged.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ingest.facts import TEXT_FOR_SCORING, reasons_json
from scoring.types import ActivityFacts, LeadFacts, Scorer, ScoreResult
from storage.db import Store
from storage.leads import LIFECYCLE_KINDS
from storage.models import Activity, Lead, utcnow
from storage.rescore_decay import decay_batches
from storage.rescore_models import ScoringState
from storage.rescore_parallel import PARALLEL_MIN, decay_in_workers, id_span, usable
from storage.rescore_write import Change, parse_time, write_changes

log = logging.getLogger("leadbot.rescore")

BATCH = 10_000
FINGERPRINT = "rules_fingerprint"
L = Lead.__table__  # type: ignore[attr-defined]
A = Activity.__table__  # type: ignore[attr-defined]

# Datetimes are read as the driver gives them (SQLite: text) and parsed only where needed, and
# the lead's updated_at goes back untouched as the optimistic-concurrency check of the write.
_LEAD_COLUMNS = [
    L.c.id,
    L.c.email,
    L.c.domain,
    L.c.name,
    L.c.company,
    L.c.title,
    L.c.phone,
    L.c.country,
    L.c.fields,
    L.c.first_touch,
    L.c.latest_touch,
    L.c.status,
    L.c.score,
    L.c.fit_score,
    L.c.engagement_score,
    L.c.temperature,
    L.c.grade,
    L.c.product,
    sa.type_coerce(L.c.updated_at, sa.String).label("updated_at"),
    sa.type_coerce(L.c.nurtured_at, sa.String).label("nurtured_at"),
    sa.type_coerce(L.c.last_activity_at, sa.String).label("last_activity_at"),
    L.c.score_plan,
    sa.type_coerce(L.c.score_plan_at, sa.String).label("score_plan_at"),
]
_ACTIVITY_COLUMNS = [
    A.c.lead_id,
    A.c.kind,
    sa.type_coerce(A.c.occurred_at, sa.String).label("occurred_at"),
    A.c.source,
    A.c.data["subject"].as_string().label("subject"),
    # Only what scoring reads: the inquiry text, cut in the database, not the whole JSON document.
    sa.func.substr(
        sa.func.coalesce(A.c.data["text"].as_string(), A.c.detail), 1, TEXT_FOR_SCORING
    ).label("text"),
    # Raw JSON text (SQLite) or already parsed (psycopg): most activities have no fields at all.
    sa.type_coerce(A.c.data["fields"], sa.String).label("fields"),
]
_NO_FIELDS = (None, "null", "{}", "")


@dataclass
class RescoreStats:
    leads: int = 0
    changed: int = 0  # rows written (score, temperature, fit, grade, product or reasons differ)
    recorded: int = 0  # score_changed activities (rounded score or temperature changed)
    announced: int = 0
    conflicts: int = 0  # changed by someone else between read and write: left to them
    full: bool = False  # reasons compared too (first run with these rules)
    planned: int = 0  # scored from their stored plan (storage.rescore_decay), not from activities
    seconds: dict[str, float] = field(
        default_factory=lambda: dict.fromkeys(("read", "score", "write"), 0.0)
    )


def rules_fingerprint(scorer: Scorer) -> str | None:
    """What makes stored reasons stale: the rules file's bytes and the thresholds in effect."""
    path = getattr(scorer, "path", None)
    try:
        content = Path(path).read_bytes() if path else None
    except OSError:
        content = None
    if content is None:
        return None  # rules not from a file: compare reasons every run
    digest = hashlib.sha256(content)
    for name in ("hot_threshold", "warm_threshold", "half_life_days"):
        digest.update(f"|{name}={getattr(scorer, name, None)!r}".encode())
    return digest.hexdigest()[:32]


def _touch(prefix: str, touch: dict[str, Any] | None, out: dict[str, str]) -> None:
    # Same flattening as storage.leads.touch_fields (tests compare both paths lead by lead).
    for key, value in (touch or {}).items():
        if key not in ("at", "source") and value not in (None, ""):
            out[prefix + key] = str(value)


def _lead_facts(row: Any) -> LeadFacts:
    fields = {k: str(v) for k, v in (row.fields or {}).items() if v is not None}
    _touch("source_", row.first_touch, fields)
    _touch("latest_", row.latest_touch, fields)
    return LeadFacts(
        email=row.email,
        domain=row.domain,
        name=row.name,
        company=row.company,
        title=row.title,
        phone=row.phone,
        country=row.country,
        fields=fields,
    )


def _activity_facts(
    conn: sa.Connection, leads: sa.ColumnElement[bool]
) -> dict[int, list[ActivityFacts]]:
    stmt = (
        sa.select(*_ACTIVITY_COLUMNS).where(leads).where(A.c.kind.not_in(sorted(LIFECYCLE_KINDS)))
    )
    out: dict[int, list[ActivityFacts]] = {}
    for r in conn.execute(stmt).all():  # one fetchall, not a fetchone a row
        text = f"{r.subject} {r.text}" if r.subject and r.text else (r.subject or r.text or "")
        raw = r.fields
        if raw in _NO_FIELDS:
            fields = {}
        else:
            found = json.loads(raw) if isinstance(raw, str) else raw
            fields = {k: str(v) for k, v in found.items()} if isinstance(found, dict) else {}
        facts = ActivityFacts(
            kind=r.kind,
            occurred_at=parse_time(r.occurred_at),  # type: ignore[arg-type]
            text=text[:TEXT_FOR_SCORING],
            source=r.source or "",
            fields=fields,
        )
        out.setdefault(r.lead_id, []).append(facts)
    return out


def _score(
    scorer: Scorer,
    items: list[tuple[LeadFacts, list[ActivityFacts]]],
    *,
    now: datetime,
    reasons: bool,
) -> list[ScoreResult]:
    batch = getattr(scorer, "score_batch", None)  # RuleSet: one call, reasons optional
    if batch is not None:
        return list(batch(items, now=now, reasons=reasons))
    return [scorer.score(lead, acts, now=now) for lead, acts in items]


def _numbers_differ(row: Any, r: ScoreResult) -> bool:
    return (
        row.score != r.score
        or row.temperature != r.temperature
        or row.fit_score != r.fit
        or row.engagement_score != r.engagement
        or row.grade != r.grade
        or (r.product is not None and r.product != row.product)
    )


@dataclass
class _Costs:
    """Seconds a lead of the two scoring passes, as last measured: picks the cheaper plan."""

    quick: float = 0.5
    reasons: float = 1.0
    changed: float = 0.0  # share of the last batch that changed

    @property
    def eager(self) -> bool:
        # Two passes cost quick + changed * reasons a lead; one pass with reasons costs reasons.
        return self.quick + self.changed * self.reasons > self.reasons


def plan_texts(
    scorer: Scorer, items: list[tuple[LeadFacts, list[ActivityFacts]]], fingerprint: str | None
) -> list[str | None]:
    """lead.score_plan for each lead: "<rules fingerprint>:<plan JSON>" (storage.rescore_decay)."""
    plan_batch = getattr(scorer, "plan_batch", None)
    if fingerprint is None or plan_batch is None:
        return [None] * len(items)
    dumps = json.JSONEncoder(separators=(",", ":")).encode
    return [f"{fingerprint}:{dumps(p)}" for p in plan_batch(items)]


def _changes(
    rows: Sequence[Any],
    items: list[tuple[LeadFacts, list[ActivityFacts]]],
    scorer: Scorer,
    *,
    now: datetime,
    full: bool,
    costs: _Costs,
    plans: list[str | None],
) -> tuple[list[Change], list[tuple[Any, ...]]]:
    """The rows whose stored score, temperature, fit, grade, product or reasons would change,
    and (plan, id, updated_at) of the others whose stored plan is missing or stale."""
    t0 = time.perf_counter()
    if full or costs.eager:
        results = _score(scorer, items, now=now, reasons=True)
        picked = list(range(len(rows)))
        costs.reasons = (time.perf_counter() - t0) / len(rows)
    else:
        # Numbers first without building reasons (cheaper, and the engine caches what it can),
        # reasons only for the leads whose numbers moved.
        quick = _score(scorer, items, now=now, reasons=False)
        t1 = time.perf_counter()
        picked = [i for i, r in enumerate(quick) if _numbers_differ(rows[i], r)]
        results = _score(scorer, [items[i] for i in picked], now=now, reasons=True)
        costs.quick = (t1 - t0) / len(rows)
        if picked:
            costs.reasons = (time.perf_counter() - t1) / len(picked)
    out: list[Change] = []
    for i, result in zip(picked, results, strict=True):
        row = rows[i]
        reasons = reasons_json(result)
        if not _numbers_differ(row, result) and not (full and reasons != (row.reasons or [])):
            continue
        out.append(Change(row=row, result=result, reasons=reasons, plan=plans[i]))
    written = {c.row.id for c in out}
    stale = [
        (plans[i], row.id, row.updated_at)
        for i, row in enumerate(rows)
        if row.id not in written
        and plans[i] is not None
        and (plans[i] != row.score_plan or row.score_plan_at != row.updated_at)
    ]
    return out, stale


def load_fingerprint(store: Store) -> str | None:
    with store.session() as session:
        state = session.get(ScoringState, FINGERPRINT)
        return state.value if state else None


def save_fingerprint(store: Store, value: str, *, now: datetime) -> None:
    with store.session() as session:
        state = session.get(ScoringState, FINGERPRINT) or ScoringState(name=FINGERPRINT)
        state.value, state.updated_at = value, now
        session.add(state)


def rescore_leads(
    store: Store,
    scorer: Scorer,
    *,
    batch: int = BATCH,
    now: datetime | None = None,
    full: bool | None = None,
    workers: int = 1,
    parallel_min: int = PARALLEL_MIN,
) -> RescoreStats:
    """Recompute every lead's score in keyset batches; see the module docstring for the rules.

    `full` compares stored reasons too (new wording of a rule changes no number); by default it is
    on when the rules differ from those of the last completed run. Otherwise leads with a stored
    plan of these rules take the decay-only path (storage.rescore_decay), in `workers` processes
    when there are at least `parallel_min` leads (storage.rescore_parallel).
    """
    now = now or utcnow()
    fingerprint = rules_fingerprint(scorer)
    stats = RescoreStats()
    stats.full = (
        full
        if full is not None
        else (fingerprint is None or load_fingerprint(store) != fingerprint)
    )
    run = FullPath(store, scorer, now=now, fingerprint=fingerprint, stats=stats)
    if not stats.full and fingerprint is not None and hasattr(scorer, "score_plans"):
        after, upto = id_span(store)
        if not (
            usable(store, scorer, workers)
            and upto - after >= max(parallel_min, workers)
            and decay_in_workers(
                store,
                scorer,
                stats,
                fingerprint=fingerprint,
                now=now,
                batch=batch,
                workers=workers,
                after=after,
                upto=upto,
            )
        ):
            decay_batches(run, batch=batch, after=after, upto=upto)
    else:
        last: int | None = 0
        while last is not None:
            last = run.batch(L.c.id > last, limit=batch)
    if fingerprint is not None:
        save_fingerprint(store, fingerprint, now=now)
    log.info(
        "rescored %d leads (%d from stored plans): %d changed, %d score_changed, %d announced (%s)",
        stats.leads,
        stats.planned,
        stats.changed,
        stats.recorded,
        stats.announced,
        ", ".join(f"{k} {v:.2f}s" for k, v in stats.seconds.items()),
    )
    return stats


class FullPath:
    """Leads rescored from their activities: reasons built, plans (re)written."""

    def __init__(
        self,
        store: Store,
        scorer: Scorer,
        *,
        now: datetime,
        fingerprint: str | None,
        stats: RescoreStats,
    ) -> None:
        self.store, self.scorer, self.now = store, scorer, now
        self.fingerprint, self.stats, self.costs = fingerprint, stats, _Costs()
        self.columns = [*_LEAD_COLUMNS, L.c.reasons] if stats.full else _LEAD_COLUMNS

    def batch(
        self, where: sa.ColumnElement[bool], *, limit: int | None = None, count: bool = True
    ) -> int | None:
        """Rescore the leads `where` selects (the first `limit` by id); their last id, or None.

        `count` False: leads the decay path already counted in stats.leads.
        """
        stats, t0 = self.stats, time.perf_counter()
        # A short read transaction of its own: SQLite's write lock (BEGIN IMMEDIATE) is not held
        # while the batch is scored; the write checks that nobody changed the rows meanwhile.
        with self.store.engine.connect() as conn:
            stmt = sa.select(*self.columns).where(where).order_by(L.c.id)
            rows = conn.execute(stmt if limit is None else stmt.limit(limit)).all()
            if not rows:
                return None
            ids = [r.id for r in rows]
            acts = _activity_facts(
                conn, A.c.lead_id.between(ids[0], ids[-1]) if limit else A.c.lead_id.in_(ids)
            )
            conn.rollback()
        items = [(_lead_facts(r), acts.get(r.id, [])) for r in rows]
        t1 = time.perf_counter()
        changes, stale = _changes(
            rows,
            items,
            self.scorer,
            now=self.now,
            full=stats.full,
            costs=self.costs,
            plans=plan_texts(self.scorer, items, self.fingerprint),
        )
        self.costs.changed = len(changes) / len(rows)
        t2 = time.perf_counter()
        written = write_changes(
            self.store, changes, rows, stale, hot_threshold=self.scorer.hot_threshold, now=self.now
        )
        stats.seconds["read"] += t1 - t0
        stats.seconds["score"] += t2 - t1
        stats.seconds["write"] += time.perf_counter() - t2
        stats.leads += len(rows) if count else 0
        stats.changed += written.changed
        stats.recorded += written.recorded
        stats.announced += written.announced
        stats.conflicts += len(changes) - written.changed
        return int(rows[-1].id)

    def leads(self, ids: list[int]) -> None:
        """Rescore these leads (already counted) from their activities."""
        self.batch(L.c.id.in_(ids), count=False)
