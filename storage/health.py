"""What the database says about the running system, for `/metrics` and `/readyz`: counts by
status, the backlog and its age, speed to lead. Cheap, indexed queries; read-only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from storage.models import Activity, Lead, OutboxMessage, RawInput, RawStatus, parse_time, utcnow

SPEED_WINDOW = timedelta(days=7)
SPEED_SAMPLE = 10_000  # leads announced in the window, newest first


@dataclass(frozen=True)
class Health:
    inputs: dict[tuple[str, str], int]  # (status, channel) -> count
    leads: dict[tuple[str, str], int]  # (status, temperature) -> count
    activities: dict[str, int]  # kind -> count
    outbox: dict[tuple[str, str], int]  # (kind, status) -> count
    oldest_pending_input: datetime | None
    oldest_pending_outbox: datetime | None
    speed_to_lead: list[float]  # seconds from first activity to the announcement, last 7 days


def read_health(session: Session, *, now: datetime | None = None) -> Health:
    now = now or utcnow()

    def grouped(*columns: Any) -> dict[tuple[str, ...], int]:
        stmt = sa.select(*columns, sa.func.count()).group_by(*columns)
        return {tuple(str(v) for v in row[:-1]): int(row[-1]) for row in session.execute(stmt)}

    inputs = grouped(col(RawInput.status), col(RawInput.channel))
    leads = grouped(col(Lead.status), col(Lead.temperature))
    activities = {k[0]: n for k, n in grouped(col(Activity.kind)).items()}
    outbox = grouped(col(OutboxMessage.kind), col(OutboxMessage.status))
    oldest_input = session.scalar(
        sa.select(sa.func.min(col(RawInput.received_at))).where(
            col(RawInput.status) == RawStatus.PENDING
        )
    )
    oldest_outbox = session.scalar(
        sa.select(sa.func.min(col(OutboxMessage.created_at))).where(
            col(OutboxMessage.status) == "pending"
        )
    )
    recent = session.execute(
        sa.select(col(Lead.created_at), col(Lead.announced_at))
        .where(col(Lead.announced_at) >= now - SPEED_WINDOW)
        .order_by(col(Lead.announced_at).desc())
        .limit(SPEED_SAMPLE)
    )
    speed = [
        max((announced - created).total_seconds(), 0.0)
        for created, announced in recent
        if created is not None and announced is not None
    ]
    return Health(
        inputs={(k[0], k[1]): n for k, n in inputs.items()},
        leads={(k[0], k[1]): n for k, n in leads.items()},
        activities=activities,
        outbox={(k[0], k[1]): n for k, n in outbox.items()},
        oldest_pending_input=_aware(oldest_input),
        oldest_pending_outbox=_aware(oldest_outbox),
        speed_to_lead=speed,
    )


def _aware(value: datetime | None) -> datetime | None:
    return None if value is None else parse_time(value)
