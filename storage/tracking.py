"""The SQL of first-party tracking: visitors, their anonymous events, and the server's secret.

A visitor id is a random string a site's script keeps in a first-party cookie. Until the visitor
is known, what they do waits in `anonymous_event`; once a form, a tracked link or an identify call
names them, `take_anonymous` hands those rows over (to become the lead's activities through the
intake) and `link_visitors` remembers the lead, so later events go to the lead directly.

Races (PostgreSQL): `touch_visitors` upserts the visitor rows first, which locks them until the
transaction ends. A join takes the same locks before it reads the anonymous events, so an event
batch committed meanwhile is either read by the join or sees the lead the join set; none is left
behind anonymous.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import delete, select, update
from sqlmodel import Session

from storage.db import among, insert_ignore_many, plan_for_values, table
from storage.models import AnonymousEvent, Lead, ScoringState, TrackingVisitor

# The ScoringState row holding the HMAC key of tracked links when LEADBOT_SECRET_KEY is unset.
SECRET_NAME = "server_secret"  # noqa: S105
_VISITOR = table(TrackingVisitor)
_ANONYMOUS = table(AnonymousEvent)
_LEAD = table(Lead)


def server_secret(session: Session) -> bytes:
    """The server's signing key, made on first use and kept in the database: every process that
    shares the database signs and checks with the same key, and it survives restarts."""
    row = session.get(ScoringState, SECRET_NAME)
    if row is None:
        conn = session.connection()
        insert = _insert(conn, table(ScoringState)).on_conflict_do_nothing(index_elements=["name"])
        conn.execute(insert.values(name=SECRET_NAME, value=secrets.token_hex(32)))
        row = session.get(ScoringState, SECRET_NAME, populate_existing=True)  # ours or a racer's
    assert row is not None
    return bytes.fromhex(row.value)


def touch_visitors(
    session: Session, visitors: dict[str, str], *, now: datetime
) -> dict[str, int | None]:
    """Create or refresh (`last_seen`) these visitors, {visitor id: site}; their lead ids.

    Locks the rows until the transaction ends (see the module's note on races)."""
    if not visitors:
        return {}
    conn = session.connection()
    rows = [
        {"visitor_id": v, "site": site[:64], "first_seen": now, "last_seen": now}
        for v, site in sorted(visitors.items())
    ]
    stmt = _insert(conn, _VISITOR)
    stmt = stmt.on_conflict_do_update(
        index_elements=["visitor_id"], set_={"last_seen": stmt.excluded.last_seen}
    ).returning(_VISITOR.c.visitor_id, _VISITOR.c.lead_id)
    found: dict[str, int | None] = {}
    for row in rows:  # one by one, in a fixed order: two batches never lock in opposite orders
        visitor, lead_id = conn.execute(stmt, row).one()
        found[str(visitor)] = None if lead_id is None else int(lead_id)
    return found


def lead_emails(session: Session, lead_ids: Iterable[int]) -> dict[int, str]:
    """The addresses of these leads, by id (a forgotten lead's tombstone address included)."""
    ids = sorted(set(lead_ids))
    if not ids:
        return {}
    conn = session.connection()
    stmt = select(_LEAD.c.id, _LEAD.c.email).where(among(conn.dialect.name, _LEAD.c.id, ids))
    return {int(i): str(e) for i, e in conn.execute(stmt).all()}


def lead_ids(session: Session, emails: Iterable[str]) -> dict[str, int]:
    """The ids of the leads with these addresses, by address."""
    wanted = sorted({e.strip().lower() for e in emails})
    if not wanted:
        return {}
    conn = session.connection()
    stmt = select(_LEAD.c.email, _LEAD.c.id).where(among(conn.dialect.name, _LEAD.c.email, wanted))
    return {str(e): int(i) for e, i in conn.execute(stmt).all()}


@dataclass(frozen=True)
class AnonymousRow:
    """An anonymous event as it was stored, to be recorded as an activity."""

    visitor_id: str
    kind: str
    occurred_at: datetime
    detail: str
    data: dict[str, Any]
    source: str
    dedup_key: str


def store_anonymous(session: Session, rows: list[dict[str, Any]], *, now: datetime) -> int:
    """Keep events of unknown visitors (AnonymousRow fields); how many were new (a replay of
    the same event id is kept once)."""
    return len(store_anonymous_keys(session, rows, now=now))


def store_anonymous_keys(
    session: Session, rows: list[dict[str, Any]], *, now: datetime
) -> set[str]:
    """As `store_anonymous`: the dedup keys of the rows that were new."""
    values = [{**row, "received_at": now} for row in rows]
    return {str(key) for _, key in insert_ignore_many(session, _ANONYMOUS, values, "dedup_key")}


def take_anonymous(session: Session, visitor_ids: Iterable[str]) -> list[AnonymousRow]:
    """The anonymous events of these visitors, oldest first, removed from the table (the caller
    records them as activities in the same transaction)."""
    ids = sorted(set(visitor_ids))
    if not ids:
        return []
    plan_for_values(session.connection())  # the waiting events grow as the batch reads do
    columns = [_ANONYMOUS.c[name] for name in AnonymousRow.__dataclass_fields__]
    stmt = (
        select(_ANONYMOUS.c.id, *columns)
        .where(among(session.get_bind().dialect.name, _ANONYMOUS.c.visitor_id, ids))
        .order_by(_ANONYMOUS.c.occurred_at, _ANONYMOUS.c.id)
    )
    found = list(session.execute(stmt))
    if not found:
        return []
    session.execute(delete(_ANONYMOUS).where(_ANONYMOUS.c.id.in_([r[0] for r in found])))
    return [AnonymousRow(*r[1:]) for r in found]


def link_visitors(session: Session, links: dict[str, int], *, now: datetime) -> None:
    """Remember who these visitors are: {visitor id: lead id}. A visitor already known as
    someone else keeps the newer lead (a shared computer: the last person to say who they are)."""
    for visitor, lead_id in sorted(links.items()):
        session.execute(
            update(_VISITOR)
            .where(_VISITOR.c.visitor_id == visitor)
            .where(sa.or_(_VISITOR.c.lead_id.is_(None), _VISITOR.c.lead_id != lead_id))
            .values(lead_id=lead_id, joined_at=now)
        )


def visitors_of(session: Session, lead_id: int) -> list[str]:
    stmt = select(_VISITOR.c.visitor_id).where(_VISITOR.c.lead_id == lead_id)
    return sorted(str(v) for v in session.scalars(stmt))


def forget_visitors(session: Session, lead_id: int) -> int:
    """A forgotten person's visitor ids: the link between a browser and them goes too."""
    result = session.execute(delete(_VISITOR).where(_VISITOR.c.lead_id == lead_id))
    return int(getattr(result, "rowcount", 0) or 0)


def prune_anonymous(session: Session, *, before: datetime) -> int:
    """Anonymous events received before `before` (nobody said who they were in time), and the
    visitors nobody knows who have not been seen since."""
    gone = session.execute(delete(_ANONYMOUS).where(_ANONYMOUS.c.received_at < before))
    session.execute(
        delete(_VISITOR).where(_VISITOR.c.lead_id.is_(None)).where(_VISITOR.c.last_seen < before)
    )
    return int(getattr(gone, "rowcount", 0) or 0)


def _insert(conn: sa.Connection, target: sa.Table) -> Any:
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    return insert(target)
