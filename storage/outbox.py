"""The outbox: Slack calls written in the same transaction as the change that causes them.

A dispatcher leases due rows (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so several `serve`
processes never take the same row; SQLite has one writer), sends, then marks them sent or
reschedules them with backoff. A lease that expires (a crashed process) makes the row due again.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlmodel import Session, col

from storage.db import Store, insert_ignore, insert_ignore_many, table
from storage.errors import InputRejected
from storage.models import OutboxMessage, utcnow

MAX_ATTEMPTS = 12  # unexpected errors (a bug in a sender) before a message is a dead letter
Row = OutboxMessage


def message(
    *,
    kind: str,
    lead_id: int | None,
    payload: dict[str, Any] | None = None,
    dedup_key: str | None = None,
    now: datetime,
) -> dict[str, Any]:
    """The row of one outbox message, due at `now`."""
    return {
        "kind": kind,
        "lead_id": lead_id,
        "payload": payload or {},
        "dedup_key": dedup_key,
        "next_attempt_at": now,
        "created_at": now,
    }


def enqueue(
    session: Session,
    *,
    kind: str,
    lead_id: int | None,
    payload: dict[str, Any] | None = None,
    dedup_key: str | None = None,
    now: datetime | None = None,
) -> OutboxMessage | None:
    """Add a message; None when a message with the same dedup_key exists already."""
    values = message(
        kind=kind, lead_id=lead_id, payload=payload, dedup_key=dedup_key, now=now or utcnow()
    )
    new_id = insert_ignore(session, table(Row), values, conflict=["dedup_key"])
    return None if new_id is None else session.get(Row, new_id)


def enqueue_many(session: Session, messages: list[dict[str, Any]]) -> int:
    """Add several `message()` rows in few statements; returns how many were new."""
    return len(insert_ignore_many(session, table(Row), messages, "dedup_key"))


def lease_due(
    store: Store,
    *,
    worker: str,
    limit: int = 20,
    lease: timedelta = timedelta(minutes=5),
    now: datetime | None = None,
) -> list[OutboxMessage]:
    """Take up to `limit` due messages for `worker` until the lease ends."""
    now = now or utcnow()
    token = f"{worker}:{uuid.uuid4().hex[:12]}"
    due = (
        (col(Row.status) == "pending")
        & (col(Row.next_attempt_at) <= now)
        & or_(col(Row.locked_until).is_(None), col(Row.locked_until) < now)
    )
    with store.session() as session:
        ids = list(
            session.scalars(
                select(col(Row.id))
                .where(due)
                .order_by(col(Row.id))
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        if not ids:
            return []
        session.execute(
            update(Row)
            .where(col(Row.id).in_(ids))
            .where(due)
            .values(locked_by=token, locked_until=now + lease)
        )
    with store.session() as session:
        rows = session.scalars(select(Row).where(col(Row.locked_by) == token).order_by(col(Row.id)))
        return list(rows)


def mark_sent(
    store: Store,
    message: OutboxMessage,
    *,
    result: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> None:
    with store.session() as session:
        session.execute(
            update(Row)
            .where(col(Row.id) == message.id, col(Row.locked_by) == message.locked_by)
            .values(
                status="sent",
                sent_at=now or utcnow(),
                result=result or {},
                locked_by=None,
                locked_until=None,
                attempts=col(Row.attempts) + 1,
            )
        )


def reschedule(
    store: Store,
    message: OutboxMessage,
    *,
    error: str,
    delay: float | None = None,
    count_attempt: bool = True,
    give_up_after: int | None = MAX_ATTEMPTS,
    now: datetime | None = None,
) -> None:
    """Try again later: after `delay` seconds (Retry-After) or exponential backoff (at most 15
    minutes). After `give_up_after` attempts the message is a dead letter; None retries for as
    long as it takes (Slack down for hours: everything is kept and sent when it is back)."""
    now = now or utcnow()
    attempts = message.attempts + (1 if count_attempt else 0)
    if delay is None:
        delay = min(2.0**attempts, 900.0)
    dead = give_up_after is not None and attempts >= give_up_after
    with store.session() as session:
        session.execute(
            update(Row)
            .where(col(Row.id) == message.id, col(Row.locked_by) == message.locked_by)
            .values(
                status="dead" if dead else "pending",
                attempts=attempts,
                last_error=error[:2000],
                next_attempt_at=now + timedelta(seconds=delay),
                locked_by=None,
                locked_until=None,
            )
        )


def pending_count(session: Session) -> int:
    return len(list(session.scalars(select(col(Row.id)).where(col(Row.status) == "pending"))))


def unsent(session: Session, *, dead_only: bool = False, limit: int = 1000) -> list[OutboxMessage]:
    """Messages not sent yet, oldest first: pending ones and dead letters, or dead letters only."""
    statuses = ["dead"] if dead_only else ["pending", "dead"]
    stmt = select(Row).where(col(Row.status).in_(statuses)).order_by(col(Row.id)).limit(limit)
    return list(session.scalars(stmt))


def retry(
    session: Session, *, ids: list[int] | None = None, now: datetime | None = None
) -> list[int]:
    """Messages made due again now with a fresh count of attempts: these `ids` (dead or pending),
    or without ids every dead letter. Returns the ids retried; raises InputRejected for an id
    that does not exist or was sent already (sending it again would post twice)."""
    now = now or utcnow()
    if ids is None:
        dead = session.scalars(select(col(Row.id)).where(col(Row.status) == "dead"))
        chosen = [int(i) for i in dead if i is not None]
    else:
        found = dict(
            session.execute(select(col(Row.id), col(Row.status)).where(col(Row.id).in_(ids))).all()
        )
        for i in ids:
            if i not in found:
                raise InputRejected(f"no outbox message {i}")
            if found[i] == "sent":
                raise InputRejected(f"outbox message {i} was sent already")
        chosen = sorted(set(ids))
    if chosen:
        session.execute(
            update(Row)
            .where(col(Row.id).in_(chosen), col(Row.status) != "sent")
            .values(
                status="pending", attempts=0, next_attempt_at=now, locked_by=None, locked_until=None
            )
        )
    return chosen
