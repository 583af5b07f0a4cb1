"""The SQL of recording a batch of inquiries: read what it depends on, check it, write it.

A busy receiver hands over hundreds of inquiries at once. `read_batch` reads what the batch depends
on (its known dedup keys, the leads known by email, their engagement activities) into a `Snapshot`.
The intake (ingest.intake) turns that into a `Prepared` batch in Python: profiles, touches,
scores, `score_changed` rows, announcements. `record_batch` checks in its transaction that those
reads still hold and writes: INSERT … ON CONFLICT DO NOTHING for new leads, then for the
activities with the score_changed rows, UPDATEs of the known leads' changed columns, the
announcements (on PostgreSQL each one statement for all its rows, storage.db.insert_ignore_quiet
and update_rows; on SQLite an executemany). Planned on a snapshot, the batch holds SQLite's write lock only for the
statements. Leads are plain rows (`LeadRow`), not ORM objects: building and flushing those cost
more than the rest of the work.

Storage knows nothing of scoring: the prepared rows arrive with their scores already in storage's own terms
(`storage.scores.StoredScore` applied by `store_score`), and when a read went stale the caller's
`prepare` function is asked again.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, cast

import sqlalchemy as sa
from sqlalchemy import select
from sqlmodel import Session

from storage import lifecycle
from storage.db import among, insert_ignore_quiet, plan_for_values, table, update_rows
from storage.errors import StoreConflict
from storage.leads import LIFECYCLE_KINDS, FieldChanges, domain_of, fill_empty, make_touch
from storage.models import Activity, Lead, LeadRow

CHUNK = 500  # rows per multi-row statement: well under SQLite's bound-variable limit
ATTEMPTS = 3  # preparations of one batch before another writer racing for the same rows wins
_LEAD = table(Lead)
_ACTIVITY = table(Activity)
_LEAD_COLUMNS = [_LEAD.c[name] for name in LeadRow.COLUMNS]
_LIFECYCLE = sorted(LIFECYCLE_KINDS)


@dataclass(frozen=True)
class Item:
    """One inquiry to record: a person's address, what they did, and the profile they gave."""

    email: str
    kind: str
    source: str
    occurred_at: datetime
    dedup_key: str
    profile: dict[str, str | None]
    detail: str
    data: dict[str, Any]
    forwarded_by: str | None
    fields: dict[str, Any]
    raw_id: int | None  # None: not from a raw input (a tracking event, a rep's log entry)
    actor: str | None = None  # who did it, when not the person (a rep who logged a call)
    touch: bool = True  # False: not a way in (a rep's call): sources and touches stay as they are


class ActivityRead(NamedTuple):
    """An engagement activity as the intake reads it to score a lead."""

    kind: str
    occurred_at: datetime
    data: dict[str, Any]
    detail: str
    source: str


@dataclass(frozen=True)
class ItemResult:
    lead_id: int
    duplicate: bool
    announced: bool = False


@dataclass
class Snapshot:
    """What a batch depends on, as read (on SQLite without the write lock)."""

    seen: dict[str, int]  # dedup keys already recorded -> lead id
    rows: dict[str, dict[str, Any]]  # every lead of the batch as read, by email (absent: new)
    marks: dict[int, tuple[int, int]]  # lead id -> (count, max id) of its engagement activities
    leads: dict[str, LeadRow]  # the known leads by email, to be changed by `prepare`
    history: dict[int, list[ActivityRead]]  # lead id -> engagement activities, oldest first


@dataclass
class Prepared:
    """A batch's rows worked out before its write transaction: what was read, and what to write."""

    read: Snapshot  # checked again in the write transaction
    leads: list[LeadRow]  # the known leads, then the new ones (negative ids until inserted)
    activities: list[dict[str, Any]]  # the new activity rows, in item order
    changes: list[dict[str, Any]]  # score_changed rows
    announce: list[int]  # lead ids to announce, in order
    results: list[ItemResult]


Prepare = Callable[[Snapshot], Prepared]


def chunks(values: Iterable[Any]) -> Iterable[list[Any]]:
    items = list(values)
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def read_batch(session: Session, items: Sequence[Item], *, lock: bool = False) -> Snapshot:
    """Read what the batch depends on; `session` may be a read-only snapshot.

    With `lock` (inside the write transaction, on PostgreSQL) the known leads are locked first,
    in email order (`SELECT … FOR UPDATE`): another transaction recording for the same people at
    this moment (another batch thread or process) waits until this one commits, then reads what
    it wrote, instead of both writing a lead from the same stale row. The keys and histories are
    read after the locks, so they include what the other committed.
    """
    keys = sorted({i.dedup_key for i in items})
    emails = sorted({i.email.strip().lower() for i in items})
    session.flush()  # the statements below go to the connection: no autoflush of ORM changes
    conn = session.connection()
    dialect = conn.dialect.name
    plan_for_values(conn)
    rows: dict[str, dict[str, Any]] = {}
    for chunk in chunks(emails):
        rows.update(_lead_rows(conn, chunk, lock=lock))
    seen: dict[str, int] = {}
    for chunk in chunks(keys):
        seen.update(_recorded_keys(conn, chunk))
    leads = {email: LeadRow(row) for email, row in rows.items()}
    history: dict[int, list[ActivityRead]] = defaultdict(list)
    marks: dict[int, tuple[int, int]] = {}
    for chunk in chunks([x.id for x in leads.values()]):
        engagement = (
            select(
                _ACTIVITY.c.lead_id, _ACTIVITY.c.id, *[_ACTIVITY.c[n] for n in ActivityRead._fields]
            )
            .where(among(dialect, _ACTIVITY.c.lead_id, chunk))
            .where(among(dialect, _ACTIVITY.c.kind, _LIFECYCLE, negate=True))
            .order_by(_ACTIVITY.c.occurred_at, _ACTIVITY.c.id)
        )
        for lead_id, activity_id, *values in conn.execute(engagement).all():
            history[lead_id].append(ActivityRead(*values))
            count, top = marks.get(lead_id, (0, 0))
            marks[lead_id] = (count + 1, max(top, activity_id))
    return Snapshot(seen, rows, marks, leads, history)


def record_batch(
    session: Session,
    items: Sequence[Item],
    *,
    prepare: Prepare,
    now: datetime,
    prepared: Prepared | None = None,
) -> list[ItemResult]:
    """Write the rows `prepare` makes of what `items` depend on; one result per item.

    With `prepared` (made on a snapshot read before this transaction) the batch is only checked
    and written; if anything it read has changed since, or without it, the batch is read and
    prepared again inside this transaction. Raises StoreConflict if other writers kept winning.
    """
    if prepared is not None:
        with contextlib.suppress(_Stale), session.begin_nested():
            return _write(session, prepared, check=True, now=now)
    for _ in range(ATTEMPTS):
        # Read inside the transaction: only another connection creating the same person or
        # recording the same message at this moment (PostgreSQL) makes it stale.
        again = prepare(read_batch(session, items, lock=True))
        with contextlib.suppress(_Stale), session.begin_nested():
            return _write(session, again, check=False, now=now)
    raise StoreConflict(f"batch of {len(items)} inputs kept racing with other writers")


class _Stale(Exception):
    """What the batch read changed before it was written: prepare again from the database."""


def _write(session: Session, prepared: Prepared, *, check: bool, now: datetime) -> list[ItemResult]:
    """The prepared rows into the database; raises _Stale (nothing written) if they cannot be."""
    if check and not _unchanged(session, prepared):
        raise _Stale()
    new = [lead for lead in prepared.leads if lead.id < 0]
    ids: dict[int, int] = {}  # placeholder -> real id
    hot = set(prepared.announce)
    if new:
        # In email order, as they are locked: two batches creating the same people at once
        # wait for each other in one order, never in a cycle. A new lead to announce is
        # inserted announced: nobody else sees it before the commit, nothing to read or update.
        values = [
            _insert_values(x, now, announced=x.id in hot)
            for x in sorted(new, key=lambda x: x.email)
        ]
        # One INSERT without RETURNING (storage.db.insert_ignore_quiet), then the ids: a
        # multi-row INSERT … RETURNING of 30 columns costs more to build and parse than the rows.
        if insert_ignore_quiet(session, _LEAD, values, "email") != len(new):
            raise _Stale()  # created a moment ago by another connection
        by_email: dict[str, int] = {}
        conn = session.connection()
        for chunk in chunks(sorted(lead.email for lead in new)):
            stmt = select(_LEAD.c.email, _LEAD.c.id).where(
                among(conn.dialect.name, _LEAD.c.email, chunk)
            )
            by_email.update((str(email), int(i)) for email, i in conn.execute(stmt).all())
        for lead in new:
            ids[lead.id] = by_email[lead.email]
            object.__setattr__(lead, "id", ids[lead.id])  # not a change to write back
            lead.changed.clear()  # inserted as prepared

    def real(lead_id: int) -> int:
        return ids.get(lead_id, lead_id)

    if ids:  # placeholders to replace (the rows are not changed below: copies only then)
        activities = [{**row, "lead_id": real(row["lead_id"])} for row in prepared.activities]
        changes = [{**row, "lead_id": real(row["lead_id"])} for row in prepared.changes]
    else:
        activities, changes = prepared.activities, prepared.changes
    # The score_changed and field_changed rows (no dedup key: never a conflict) in the same
    # INSERT, after the activities, as they were numbered when they went with the
    # announcements. No RETURNING: the rowcount says whether every activity was new.
    rows = activities + changes
    keys = {frozenset(row) for row in rows}
    if len(keys) > 1:  # not one shape: the activities alone, the others with the announcements
        rows = activities
    if insert_ignore_quiet(session, _ACTIVITY, rows, "dedup_key") != len(rows):
        raise _Stale()  # the same message recorded on another connection a moment ago
    write_leads(session, prepared.leads)
    # A lead another process announced meanwhile is theirs: not again.
    announced = set(
        lifecycle.announce_many(
            session,
            lead_ids=[real(i) for i in prepared.announce],
            now=now,
            inserted={ids[i] for i in prepared.announce if i in ids},
            history=changes if rows is activities else (),
        )
    )
    return [
        ItemResult(real(r.lead_id), r.duplicate, r.announced and real(r.lead_id) in announced)
        for r in prepared.results
    ]


def _unchanged(session: Session, prepared: Prepared) -> bool:
    """True when the keys, leads and histories the rows were prepared from are still as they were."""
    keys = sorted({row["dedup_key"] for row in prepared.activities} | set(prepared.read.seen))
    conn = session.connection()
    dialect = conn.dialect.name
    plan_for_values(conn)
    seen: dict[str, int] = {}
    for chunk in chunks(keys):
        seen.update(_recorded_keys(conn, chunk))
    if seen != prepared.read.seen:
        return False
    emails = sorted({lead.email for lead in prepared.leads})
    rows: dict[str, dict[str, Any]] = {}
    for chunk in chunks(emails):
        rows.update(_lead_rows(conn, chunk))
    if rows != prepared.read.rows:
        return False
    marks: dict[int, tuple[int, int]] = {}
    for chunk in chunks([row["id"] for row in prepared.read.rows.values()]):
        stmt = (
            select(_ACTIVITY.c.lead_id, sa.func.count(), sa.func.max(_ACTIVITY.c.id))
            .where(among(dialect, _ACTIVITY.c.lead_id, chunk))
            .where(among(dialect, _ACTIVITY.c.kind, _LIFECYCLE, negate=True))
            .group_by(_ACTIVITY.c.lead_id)
        )
        marks.update({int(i): (int(n), int(top)) for i, n, top in conn.execute(stmt).all()})
    return marks == prepared.read.marks


def _recorded_keys(conn: sa.Connection, keys: list[str]) -> dict[str, int]:
    stmt = select(_ACTIVITY.c.dedup_key, _ACTIVITY.c.lead_id).where(
        among(conn.dialect.name, _ACTIVITY.c.dedup_key, keys)
    )
    return {str(k): int(v) for k, v in conn.execute(stmt).all()}


def new_lead(email: str, item: Item, *, placeholder: int, now: datetime) -> LeadRow:
    """A lead as the database creates it (the model's defaults), before the inquiry is applied."""
    values = {**_DEFAULTS, **{name: make() for name, make in _FACTORIES.items()}}
    values.update(
        id=placeholder,
        email=email,
        domain=domain_of(email),
        source=item.source[:100],
        latest_source=item.source[:100],
        updated_at=now,
    )
    return LeadRow(values)


def apply_item(lead: LeadRow, item: Item, *, now: datetime) -> tuple[dict[str, Any], FieldChanges]:
    """An inquiry applied to its (existing or just-created) lead; returns its activity row and
    the fields it filled (for the audit row of a lead that existed before)."""
    email = lead.email
    filled = fill_empty(
        lead, profile=item.profile, forwarded_by=item.forwarded_by, fields=item.fields
    )
    if item.touch:
        lead.latest_source = item.source[:100]
        fields = item.data.get("fields") or item.fields or {}
        touch = make_touch(item.source, fields, item.occurred_at)
        if not lead.first_touch:
            lead.first_touch = touch
        if lead.last_activity_at is None or item.occurred_at >= lead.last_activity_at:
            lead.latest_touch = touch
    if lead.last_activity_at is None or item.occurred_at > lead.last_activity_at:
        lead.last_activity_at = item.occurred_at
    lead.updated_at = now
    row = {
        "lead_id": lead.id,
        "kind": item.kind,
        "occurred_at": item.occurred_at,
        "actor": item.actor or item.forwarded_by or email,
        "detail": item.detail,
        "data": item.data,
        "source": item.source[:100],
        "raw_id": item.raw_id,
        "dedup_key": item.dedup_key,
    }
    return row, filled


# The model's defaults for a new lead (pydantic's get_default inspects the factory on each call).
_FACTORIES: dict[str, Callable[[], Any]] = {
    name: cast(Callable[[], Any], factory)
    for name in LeadRow.COLUMNS
    if (factory := Lead.model_fields[name].default_factory) is not None
}
_DEFAULTS = {
    name: Lead.model_fields[name].get_default()
    for name in LeadRow.COLUMNS
    if name not in _FACTORIES
}


def _insert_values(lead: LeadRow, now: datetime, *, announced: bool) -> dict[str, Any]:
    """A new lead's INSERT with everything `prepare` gave it (and, when it is to be announced,
    what announcing sets): no UPDATE needed afterwards. Every row has the same columns."""
    values = {name: getattr(lead, name) for name in LeadRow.COLUMNS if name != "id"}
    values["created_at"] = now
    values.update(
        lifecycle.announced_on_insert(now)
        if announced
        else {"announced_at": None, "owner": None, "claimed_at": None}
    )
    return values


def _lead_rows(
    conn: sa.Connection, emails: list[str], *, lock: bool = False
) -> dict[str, dict[str, Any]]:
    """The `LeadRow` columns of the leads with these emails, by email (with `lock`, locked in
    email order; SQLite, whose writer holds the whole file, has no row locks and ignores it)."""
    dialect = conn.dialect.name
    stmt = select(*_LEAD_COLUMNS).where(among(dialect, _LEAD.c.email, emails))
    if lock and dialect == "postgresql":
        stmt = stmt.order_by(_LEAD.c.email).with_for_update()
    return {row.email: dict(row._mapping) for row in conn.execute(stmt).all()}


def write_leads(session: Session, leads: Iterable[LeadRow]) -> None:
    """The changed columns of `leads` back to the database: one UPDATE per set of changed
    columns (storage.db.update_rows; what an ORM flush sends, without building ORM objects)."""
    groups: dict[tuple[str, ...], list[LeadRow]] = defaultdict(list)
    for lead in leads:
        if lead.changed:
            groups[tuple(sorted(lead.changed))].append(lead)
    for names, members in groups.items():
        rows = [
            {"id": lead.id, **{name: getattr(lead, name) for name in names}} for lead in members
        ]
        update_rows(session, _LEAD, rows, names)
        for lead in members:
            lead.changed.clear()
