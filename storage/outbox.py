"""The outbox: Slack calls written in the same transaction as the change that causes them.

A dispatcher leases due rows (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so several `serve`
processes never take the same row; SQLite has one writer), sends, then marks them sent or
reschedules them with backoff. Leases are short and renewed while their dispatcher lives
(`renew`): a lease that expires (a killed process) makes the row due again within seconds, and
taking it over counts an attempt, so the sender knows the earlier one may have reached Slack.

On PostgreSQL every write to the outbox also sends `NOTIFY leadbot_outbox` (delivered at
commit), which `listen` turns into a wake-up of the dispatcher in any process.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, or_, select, text, update
from sqlmodel import Session, col

from storage.db import Store, insert_ignore, insert_ignore_quiet, table
from storage.errors import InputRejected
from storage.models import OutboxMessage, utcnow

MAX_ATTEMPTS = 12  # unexpected errors (a bug in a sender) before a message is a dead letter
Row = OutboxMessage
LEASE = timedelta(seconds=10)  # renewed every few seconds while the dispatcher lives
CHANNEL = "leadbot_outbox"  # the PostgreSQL NOTIFY channel
log = logging.getLogger("leadbot.outbox")


def notify(session: Session) -> None:
    """Wake every listening dispatcher when this transaction commits (PostgreSQL only; the
    server folds the notifications of one transaction into one)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"NOTIFY {CHANNEL}"))


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
    if new_id is None:
        return None
    notify(session)
    return session.get(Row, new_id)


def enqueue_many(session: Session, messages: list[dict[str, Any]]) -> int:
    """Add several `message()` rows in few statements; returns how many were new."""
    new = insert_ignore_quiet(session, table(Row), messages, "dedup_key")
    if new:
        notify(session)
    return new


def lease_due(
    store: Store,
    *,
    worker: str,
    limit: int = 20,
    lease: timedelta = LEASE,
    now: datetime | None = None,
) -> list[OutboxMessage]:
    """Take up to `limit` due messages for `worker` until the lease ends (`renew` extends it).

    A row whose earlier lease ran out (its process died, perhaps inside the Slack call) gets one
    more attempt counted: the sender then looks for that attempt's post before posting."""
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
            .values(
                locked_by=token,
                locked_until=now + lease,
                attempts=case(
                    (col(Row.locked_by).is_not(None), col(Row.attempts) + 1),
                    else_=col(Row.attempts),
                ),
            )
        )
    with store.session() as session:
        rows = session.scalars(select(Row).where(col(Row.locked_by) == token).order_by(col(Row.id)))
        return list(rows)


def renew(
    store: Store, *, worker: str, lease: timedelta = LEASE, now: datetime | None = None
) -> int:
    """Extend every lease `worker` holds (the heartbeat of a live dispatcher); how many."""
    with store.session() as session:
        result = session.execute(
            update(Row)
            .where(col(Row.locked_by).startswith(worker + ":", autoescape=True))
            .where(col(Row.status) == "pending")
            .values(locked_until=(now or utcnow()) + lease)
        )
        return int(getattr(result, "rowcount", 0) or 0)


def keep_for_retry(
    store: Store,
    message: OutboxMessage,
    *,
    error: str,
    attempts: int,
    retry_at: datetime,
) -> None:
    """Note a failed attempt and when the next one is due, keeping the lease: its dispatcher
    tries again itself (in order with the rest of its channel); if it dies, the row is due at
    `retry_at` or when the lease ends, whichever is later."""
    with store.session() as session:
        session.execute(
            update(Row)
            .where(col(Row.id) == message.id, col(Row.locked_by) == message.locked_by)
            .values(attempts=attempts, last_error=error[:2000], next_attempt_at=retry_at)
        )


def postpone(store: Store, messages: Iterable[OutboxMessage], *, until: datetime) -> None:
    """Give these leased messages back, due at `until` (their channel is paused): no attempt
    counted, and no other dispatcher takes them sooner."""
    with store.session() as session:
        for m in messages:
            session.execute(
                update(Row)
                .where(col(Row.id) == m.id, col(Row.locked_by) == m.locked_by)
                .values(next_attempt_at=until, locked_by=None, locked_until=None)
            )


def listen(store: Store, wake: Callable[[], None], stop: threading.Event) -> None:
    """Until `stop` is set, call `wake` for every NOTIFY of the outbox (PostgreSQL; run it in a
    thread). A lost connection is retried every two seconds, with a wake-up once back (what was
    written meanwhile)."""
    import psycopg

    url = store.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    while not stop.is_set():
        try:
            with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
                conn.execute(f"LISTEN {CHANNEL}")
                wake()
                while not stop.is_set():
                    for _ in conn.notifies(timeout=0.5):
                        wake()
        except psycopg.Error as e:
            log.warning("outbox notifications lost, polling until they are back: %s", e)
            stop.wait(2.0)


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
        notify(session)
    return chosen
