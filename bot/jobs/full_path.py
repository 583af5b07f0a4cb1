"""Rescoring leads from their activities: reasons built, plans (re)written, changed rows only.

A batch of leads and their engagement activities is read in two queries (storage.rescore), scored,
and the changed ones written back in one statement. The semantics are those of the intake: a
`score_changed` activity when the rounded score or the temperature changes (a lead scored from its
activities stores its exact numbers; time alone, in bot.jobs.decay, stores only visible changes),
and an announcement when a lead becomes eligible (storage.lifecycle.eligible_for_announcement: no
flapping after nurture). Every lead scored here also gets its time-free plan stored
(lead.score_plan), so later runs with the same rules score it from the plan alone (bot.jobs.decay)
as long as the row is unchanged.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bot.jobs.gc import collector_paused
from ingest.facts import activity_facts_by_lead, lead_facts, stored_score
from scoring.types import ActivityFacts, LeadFacts, Scorer, ScoreResult
from storage import rescore as sql
from storage.db import Store

Items = list[tuple[LeadFacts, list[ActivityFacts]]]
# The layout of stored plans and scores: a new one makes every stored plan stale (the next
# rescore scores every lead from its activities). 2: product scores (issue 14).
PLAN_LAYOUT = 2


@dataclass
class RescoreStats:
    leads: int = 0
    changed: int = 0  # rows written (score, temperature, fit, grade, product or reasons differ)
    recorded: int = 0  # score_changed activities (rounded score or temperature changed)
    announced: int = 0
    conflicts: int = 0  # changed by someone else between read and write: left to them
    full: bool = False  # reasons compared too (first run with these rules)
    planned: int = 0  # scored from their stored plan (bot.jobs.decay), not from activities
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
    digest.update(f"|plan={PLAN_LAYOUT}".encode())
    for name in ("hot_threshold", "warm_threshold", "half_life_days"):
        digest.update(f"|{name}={getattr(scorer, name, None)!r}".encode())
    return digest.hexdigest()[:32]


def _score(scorer: Scorer, items: Items, *, now: datetime, reasons: bool) -> list[ScoreResult]:
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
        or (row.product_scores or {}) != dict(r.product_scores)
    )


@dataclass
class _Costs:
    """Seconds a lead of the two scoring passes, as last measured: picks the cheaper way."""

    quick: float = 0.5
    reasons: float = 1.0
    changed: float = 0.0  # share of the last batch that changed

    @property
    def eager(self) -> bool:
        # Two passes cost quick + changed * reasons a lead; one pass with reasons costs reasons.
        return self.quick + self.changed * self.reasons > self.reasons


def plan_texts(scorer: Scorer, items: Items, fingerprint: str | None) -> list[str | None]:
    """lead.score_plan for each lead: "<rules fingerprint>:<plan JSON>" (bot.jobs.decay)."""
    plan_batch = getattr(scorer, "plan_batch", None)
    if fingerprint is None or plan_batch is None:
        return [None] * len(items)
    dumps = json.JSONEncoder(separators=(",", ":")).encode
    return [f"{fingerprint}:{dumps(p)}" for p in plan_batch(items)]


def _changes(
    rows: Sequence[Any],
    items: Items,
    scorer: Scorer,
    *,
    now: datetime,
    full: bool,
    costs: _Costs,
    plans: list[str | None],
) -> tuple[list[sql.Change], list[tuple[Any, ...]]]:
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
    out: list[sql.Change] = []
    for i, result in zip(picked, results, strict=True):
        row = rows[i]
        score = stored_score(result)
        if not _numbers_differ(row, result) and not (full and score.reasons != (row.reasons or [])):
            continue
        out.append(sql.Change(row=row, score=score, plan=plans[i]))
    written = {c.row.id for c in out}
    stale = [
        (plans[i], row.id, row.updated_at)
        for i, row in enumerate(rows)
        if row.id not in written
        and plans[i] is not None
        and (plans[i] != row.score_plan or row.score_plan_at != row.updated_at)
    ]
    return out, stale


class FullPath:
    """Leads rescored from their activities, batch by batch, counted in `stats`."""

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

    def batch(
        self, where: sa.ColumnElement[bool], *, limit: int | None = None, count: bool = True
    ) -> int | None:
        """Rescore the leads `where` selects (the first `limit` by id); their last id, or None.

        `count` False: leads the decay path already counted in stats.leads.
        """
        stats, t0 = self.stats, time.perf_counter()
        rows, activities = sql.read_leads(self.store, where, limit=limit, reasons=stats.full)
        if not rows:
            return None
        acts = activity_facts_by_lead(activities)
        items = [(lead_facts(r), acts.get(r.id, [])) for r in rows]
        t1 = time.perf_counter()
        with collector_paused():  # scoring makes no reference cycles; collections over the
            changes, stale = _changes(  # engine's plan cache would cost more than the work
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
        written = sql.write_changes(
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

    def all(self, *, batch: int) -> None:
        """Every lead, in keyset batches of `batch`."""
        last: int | None = 0
        while last is not None:
            last = self.batch(sql.L.c.id > last, limit=batch)

    def leads(self, ids: list[int]) -> None:
        """Rescore these leads (already counted) from their activities."""
        self.batch(sql.L.c.id.in_(ids), count=False)
