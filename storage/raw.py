"""The raw-input archive: every accepted email or submission is committed here before we answer."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlmodel import Session, col

from storage.db import Store, insert_ignore, table
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
    values = {
        "kind": kind,
        "channel": channel,
        "sha256": digest,
        "content": content,
        "content_type": content_type,
        "size": len(content),
        "envelope": envelope or {},
        "received_at": received_at or utcnow(),
    }
    with store.session() as session:
        new_id = insert_ignore(session, table(RawInput), values, conflict=["sha256"])
        if new_id is not None:
            return new_id, True
        found = session.scalar(select(col(RawInput.id)).where(col(RawInput.sha256) == digest))
        assert found is not None
        return found, False


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
        "attempts": col(RawInput.attempts) + 1,
    }
    if lead_id is not None:
        values["lead_id"] = lead_id
    if message_id is not None:
        values["message_id"] = message_id[:998]
    session.execute(update(RawInput).where(col(RawInput.id) == raw_id).values(**values))


def raw_ids_with_status(session: Session, *statuses: RawStatus, limit: int = 10_000) -> list[int]:
    stmt = (
        select(col(RawInput.id))
        .where(col(RawInput.status).in_(list(statuses)))
        .order_by(col(RawInput.id))
        .limit(limit)
    )
    return [i for i in session.scalars(stmt) if i is not None]
