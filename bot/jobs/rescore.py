"""The rescoring job: every lead's score recomputed, by the cheapest way that gives the same rows.

`rescore_all` is what `leadbot rescore` and `serve`'s schedule run. `rescore_leads` picks the way:

- the rules differ from those of the last completed run (or `full`): every lead from its
  activities, stored reasons compared too (bot.jobs.full_path);
- otherwise, decay only: each lead's stored plan scored at the new time (bot.jobs.decay), in worker
  processes when there are at least PARALLEL_MIN leads (bot.jobs.workers).

Crossing the hot threshold announces; falling never retracts. Storage keeps the SQL
(storage.rescore); this package keeps the decisions.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from datetime import datetime

from prometheus_client import Histogram

from bot.jobs.decay import decay_batches
from bot.jobs.full_path import FullPath, RescoreStats, rules_fingerprint
from bot.jobs.workers import PARALLEL_MIN, decay_in_workers, usable
from bot.runtime import Runtime
from scoring.types import Scorer
from storage import rescore as sql
from storage.db import Store
from storage.models import utcnow

RESCORE_SECONDS = Histogram("leadbot_rescore_seconds", "Whole rescores of every lead")

log = logging.getLogger("leadbot.rescore")

BATCH = 10_000


@dataclass
class RescoreReport:
    leads: int = 0
    announced: int = 0
    changed: int = 0  # leads whose stored score, temperature or reasons changed
    recorded: int = 0  # score_changed activities (rounded score or temperature changed)
    planned: int = 0  # scored from their stored plan alone (decay only), not from activities
    seconds: float = 0.0  # wall time of the whole run


def rescore_all(
    runtime: Runtime,
    *,
    batch: int = BATCH,
    now: datetime | None = None,
    full: bool | None = None,
    stats: RescoreStats | None = None,
) -> RescoreReport:
    """Recompute every lead's score; crossing the hot threshold announces, falling never retracts.

    `stats`: counted into as the batches go (the CLI's progress bar reads `stats.leads`)."""
    started = time.perf_counter()
    workers = runtime.settings.rescore_workers or os.cpu_count() or 1
    stats = rescore_leads(
        runtime.store,
        runtime.scorer,
        batch=batch,
        now=now,
        full=full,
        workers=workers,
        stats=stats,
    )
    seconds = time.perf_counter() - started
    RESCORE_SECONDS.observe(seconds)
    return RescoreReport(
        leads=stats.leads,
        announced=stats.announced,
        changed=stats.changed,
        recorded=stats.recorded,
        planned=stats.planned,
        seconds=seconds,
    )


def expected_leads(store: Store) -> int:
    """About how many leads a run goes through (the span of their ids), for a progress bar."""
    after, upto = sql.id_span(store)
    return upto - after


def rescore_leads(
    store: Store,
    scorer: Scorer,
    *,
    batch: int = BATCH,
    now: datetime | None = None,
    full: bool | None = None,
    workers: int = 1,
    parallel_min: int = PARALLEL_MIN,
    stats: RescoreStats | None = None,
) -> RescoreStats:
    """Recompute every lead's score in keyset batches; see the module docstring for the ways.

    `full` compares stored reasons too (new wording of a rule changes no number); by default it is
    on when the rules differ from those of the last completed run.
    """
    now = now or utcnow()
    if batch < 1:
        raise ValueError(f"batch must be at least 1, not {batch}")
    fingerprint = rules_fingerprint(scorer)
    stats = stats or RescoreStats()
    stats.full = (
        full
        if full is not None
        else (fingerprint is None or sql.load_fingerprint(store) != fingerprint)
    )
    run = FullPath(store, scorer, now=now, fingerprint=fingerprint, stats=stats)
    if not stats.full and fingerprint is not None and hasattr(scorer, "score_plans"):
        after, upto = sql.id_span(store)
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
        run.all(batch=batch)
    if fingerprint is not None:
        sql.save_fingerprint(store, fingerprint, now=now)
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
