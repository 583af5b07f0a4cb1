"""Jobs over many leads: rescoring in batches (decay, changed rules)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlmodel import col

from bot.runtime import Runtime
from storage.models import Lead, utcnow
from storage.scores import score_lead

log = logging.getLogger("leadbot.jobs")


@dataclass
class RescoreReport:
    leads: int = 0
    announced: int = 0


def rescore_all(
    runtime: Runtime, *, batch: int = 1000, now: datetime | None = None
) -> RescoreReport:
    """Recompute every lead's score; crossing the hot threshold announces, falling never retracts."""
    now = now or utcnow()
    report = RescoreReport()
    last_id = 0
    while True:
        with runtime.store.session() as session:
            leads = list(
                session.scalars(
                    select(Lead).where(col(Lead.id) > last_id).order_by(col(Lead.id)).limit(batch)
                )
            )
            if not leads:
                break
            for lead in leads:
                report.announced += score_lead(session, lead=lead, scorer=runtime.scorer, now=now)
            report.leads += len(leads)
            last_id = leads[-1].id or last_id
    log.info("rescored %d leads, %d announced", report.leads, report.announced)
    return report
