"""Jobs over many leads: rescoring in batches (decay, changed rules)."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from datetime import datetime

from bot.runtime import Runtime
from storage.rescore import BATCH, rescore_leads

log = logging.getLogger("leadbot.jobs")


@dataclass
class RescoreReport:
    leads: int = 0
    announced: int = 0
    changed: int = 0  # leads whose stored score, temperature or reasons changed
    recorded: int = 0  # score_changed activities (rounded score or temperature changed)
    planned: int = 0  # scored from their stored plan alone (decay only), not from activities
    seconds: float = 0.0  # wall time of the whole run


def rescore_all(
    runtime: Runtime, *, batch: int = BATCH, now: datetime | None = None, full: bool | None = None
) -> RescoreReport:
    """Recompute every lead's score; crossing the hot threshold announces, falling never retracts."""
    started = time.perf_counter()
    workers = runtime.settings.rescore_workers or os.cpu_count() or 1
    stats = rescore_leads(
        runtime.store, runtime.scorer, batch=batch, now=now, full=full, workers=workers
    )
    return RescoreReport(
        leads=stats.leads,
        announced=stats.announced,
        changed=stats.changed,
        recorded=stats.recorded,
        planned=stats.planned,
        seconds=time.perf_counter() - started,
    )
