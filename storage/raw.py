"""The raw-input archive: every accepted email or submission is committed here before we answer."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import exc, select, update
from sqlmodel import Session

from storage.db import Store
from storage.models import RawInput, RawStatus, utcnow


def store_raw(
    store: Store,
    *,
    content: bytes,
    kind: str,
    channel: str,
    content_type: str | None = None,
    envelope: dict[str, Any] | None = None,
    received_at: datetime | None = None,
) -> tuple[int, bool]:
    """Commit `content`; returns (raw id, True if new). The same bytes twice are stored once."""
    digest = hashlib.sha256(content).hexdigest()
    with store.session() as session:
        existing = session.scalar(select(RawInput.id).where(RawInput.sha256 == digest))
        if existing is not None:
            return existing, False
        row = RawInput(
            kind=kind,
            channel=channel,
            sha256=digest,
            content=content,
            content_type=content_type,
            size=len(content),
            envelope=envelope or {},
            received_at=received_at or utcnow(),
        )
        try:
            with session.begin_nested():
                session.add(row)
        except exc.IntegrityError:  # the same bytes arrived at the same moment on another connection
            found = session.scalar(select(RawInput.id).where(RawInput.sha256 == digest))
            assert found is not None
            return found, False
        assert row.id is not None
        return row.id, True


def mark_raw(
    session: Session,
    raw_id: int,
    *,
    status: RawStatus,
    reason: str | None = None,
    lead_id: int | None = None,
    message_id: str | None = None,
) -> None:
    values: dict[str, Any] = {
        "status": status,
        "reason": reason[:2000] if reason else None,
        "processed_at": utcnow(),
        "attempts": RawInput.attempts + 1,  # type: ignore[operator]
    }
    if lead_id is not None:
        values["lead_id"] = lead_id
    if message_id is not None:
        values["message_id"] = message_id[:998]
    session.execute(update(RawInput).where(RawInput.id == raw_id).values(**values))  # type: ignore[arg-type]


def raw_ids_with_status(session: Session, *statuses: RawStatus, limit: int = 10_000) -> list[int]:
    stmt = (
        select(RawInput.id)
        .where(RawInput.status.in_(list(statuses)))  # type: ignore[attr-defined]
        .order_by(RawInput.id)  # type: ignore[arg-type]
        .limit(limit)
    )
    return [i for i in session.scalars(stmt) if i is not None]
