"""Recording and scoring a batch of inquiries in a handful of statements, same rows as one by one.

`storage.leads.record_inquiry` + `storage.scores.score_lead` cost about a dozen statements per
inquiry; a busy receiver hands over hundreds at once. `prepare_batch` reads what the batch depends
on (its known dedup keys, the leads known by email, their engagement activities) and plans it in
Python: profiles, touches, scores, `score_changed` rows, announcements. `record_batch` checks in
its transaction that those reads still hold and writes: multi-row INSERT … ON CONFLICT DO NOTHING
for new leads and activities, executemany UPDATEs of the known leads' changed columns, the
score_changed rows and the announcements. Planned on a snapshot, the batch holds SQLite's write
lock only for the statements. Leads are plain rows (`LeadRow`), not ORM objects: building and
flushing those cost more than the rest of the work. Inquiries are still applied in order, so a
person twice in a batch is scored twice, exactly as the per-inquiry path does.
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

from ingest.facts import ActivityRow, activity_facts, lead_facts, stored_score
from scoring.types import Scorer
from storage import lifecycle
from storage.db import insert_ignore_many, table
from storage.leads import LIFECYCLE_KINDS, domain_of, fill_empty, make_touch
from storage.models import Activity, Lead, LeadRow, RawInput, RawStatus, utcnow
from storage.scores import store_score

CHUNK = 500  # rows per multi-row statement: well under SQLite's bound-variable limit
_LEAD = table(Lead)
_ACTIVITY = table(Activity)


@dataclass(frozen=True)
class Item:
    """One inquiry to record, as `record_inquiry` takes it."""

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
    raw_id: int


class _Act(NamedTuple):
    """An activity as scoring reads it (`storage.scores.ActivityRow`)."""

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


def _chunks(values: Iterable[Any]) -> Iterable[list[Any]]:
    items = list(values)
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


class _Stale(Exception):
    """What the batch read changed before it was written: plan again from the database."""


@dataclass
class Prepared:
    """A batch's rows worked out before its write transaction: what was read, and the plan.

    `prepare_batch` reads a snapshot (on SQLite without the write lock) and does all the Python
    work there: parsing the rows, filling profiles, scoring. `record_batch` then only checks that
    what was read is unchanged and writes, so the write lock is held for the statements alone.
    """

    seen: dict[str, int]  # dedup keys already recorded -> lead id
    rows: dict[str, dict[str, Any]]  # every lead of the batch as read, by email (absent: new)
    marks: dict[int, tuple[int, int]]  # lead id -> (count, max id) of its engagement activities
    leads: list[LeadRow]  # the known leads, then the new ones (negative ids until inserted)
    activities: list[dict[str, Any]]  # the new activity rows, in item order
    changes: list[dict[str, Any]]  # score_changed rows
    announce: list[int]  # lead ids to announce, in order
    results: list[ItemResult]


def prepare_batch(
    session: Session, items: Sequence[Item], *, scorer: Scorer, now: datetime
) -> Prepared:
    """Read what the batch depends on and plan its rows; `session` may be a read-only snapshot."""
    keys = sorted({i.dedup_key for i in items})
    emails = sorted({i.email.strip().lower() for i in items})
    seen: dict[str, int] = {}
    for chunk in _chunks(keys):
        seen.update(_recorded_keys(session, chunk))
    rows: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(emails):
        rows.update(_lead_rows(session, chunk))
    leads = {email: LeadRow(row) for email, row in rows.items()}
    history: dict[int, list[ActivityRow]] = defaultdict(list)
    marks: dict[int, tuple[int, int]] = {}
    for chunk in _chunks([x.id for x in leads.values()]):
        engagement = (
            select(_ACTIVITY.c.lead_id, _ACTIVITY.c.id, *[_ACTIVITY.c[n] for n in _Act._fields])
            .where(_ACTIVITY.c.lead_id.in_(chunk))
            .where(_ACTIVITY.c.kind.not_in(LIFECYCLE_KINDS))
            .order_by(_ACTIVITY.c.occurred_at, _ACTIVITY.c.id)
        )
        for lead_id, activity_id, *values in session.execute(engagement):
            history[lead_id].append(_Act(*values))
            count, top = marks.get(lead_id, (0, 0))
            marks[lead_id] = (count + 1, max(top, activity_id))
    return _plan(items, seen, rows, marks, leads, history, scorer=scorer, now=now)


def _plan(
    items: Sequence[Item],
    seen: dict[str, int],
    rows: dict[str, dict[str, Any]],
    marks: dict[int, tuple[int, int]],
    leads: dict[str, LeadRow],
    history: dict[int, list[ActivityRow]],
    *,
    scorer: Scorer,
    now: datetime,
) -> Prepared:
    """The batch applied in order to what was read: pure Python, no statements."""
    known = list(leads.values())
    new: list[LeadRow] = []
    activities: list[dict[str, Any]] = []
    changes: list[dict[str, Any]] = []  # score_changed rows
    announce: list[int] = []
    results: list[ItemResult] = []
    recorded = dict(seen)  # dedup key -> lead id, from the database and then this batch
    for item in items:
        if item.dedup_key in recorded:
            results.append(ItemResult(recorded[item.dedup_key], duplicate=True))
            continue
        email = item.email.strip().lower()
        lead = leads.get(email)
        if lead is None:  # a new person: a placeholder id until the row is inserted
            lead = leads[email] = _new_lead(email, item, placeholder=-1 - len(new), now=now)
            new.append(lead)
        recorded[item.dedup_key] = lead.id
        _update_lead(lead, item, now=now)
        row: dict[str, Any] = {
            "lead_id": lead.id,
            "kind": item.kind,
            "occurred_at": item.occurred_at,
            "actor": item.forwarded_by or email,
            "detail": item.detail,
            "data": item.data,
            "source": item.source[:100],
            "raw_id": item.raw_id,
            "dedup_key": item.dedup_key,
        }
        activities.append(row)
        acts = history[lead.id]
        acts.append(_Act(*(row[name] for name in _Act._fields)))
        acts.sort(key=lambda a: a.occurred_at)  # stable: ties keep insertion (id) order
        result = scorer.score(lead_facts(lead), activity_facts(acts), now=now)
        store_score(None, lead=lead, result=stored_score(result), now=now, history=changes)
        hot = lifecycle.eligible_for_announcement(lead, hot_threshold=scorer.hot_threshold)
        # Scoring never reads a lead's status, so announcing them all after the loop leaves every
        # row as one by one; once announced a lead is no longer in the pool.
        announced = hot and lead.id not in announce
        if announced:
            announce.append(lead.id)
        results.append(ItemResult(lead.id, duplicate=False, announced=announced))
    return Prepared(seen, rows, marks, known + new, activities, changes, announce, results)


def record_batch(
    session: Session,
    items: Sequence[Item],
    *,
    scorer: Scorer,
    now: datetime,
    prepared: Prepared | None = None,
) -> list[ItemResult]:
    """Record, score and (when hot) announce `items` in order; one result per item.

    With `prepared` (from a snapshot read before this transaction) the batch is only checked and
    written; if anything it read has changed since, or without it, the batch is read and planned
    again inside this transaction.
    """
    if prepared is not None:
        with contextlib.suppress(_Stale), session.begin_nested():
            return _write(session, prepared, check=True, now=now)
    for _ in range(_ATTEMPTS):
        # Read inside the transaction: only another connection creating the same person or
        # recording the same message at this moment (PostgreSQL) makes it stale.
        plan = prepare_batch(session, items, scorer=scorer, now=now)
        with contextlib.suppress(_Stale), session.begin_nested():
            return _write(session, plan, check=False, now=now)
    raise RuntimeError(f"batch of {len(items)} inputs kept racing with other writers")


_ATTEMPTS = 3


def _write(session: Session, plan: Prepared, *, check: bool, now: datetime) -> list[ItemResult]:
    """The planned rows into the database; raises _Stale (nothing written) if they cannot be."""
    if check and not _unchanged(session, plan):
        raise _Stale()
    new = [lead for lead in plan.leads if lead.id < 0]
    ids: dict[int, int] = {}  # placeholder -> real id
    if new:
        made = insert_ignore_many(session, _LEAD, [_insert_values(x, now) for x in new], "email")
        by_email = {str(email): int(i) for i, email in made}
        if len(by_email) != len(new):  # created a moment ago by another connection
            raise _Stale()
        for lead in new:
            ids[lead.id] = by_email[lead.email]
            object.__setattr__(lead, "id", ids[lead.id])  # not a change to write back
            lead.changed.clear()  # inserted as planned

    def real(lead_id: int) -> int:
        return ids.get(lead_id, lead_id)

    activities = [{**row, "lead_id": real(row["lead_id"])} for row in plan.activities]
    if len(insert_ignore_many(session, _ACTIVITY, activities, "dedup_key")) != len(activities):
        raise _Stale()  # the same message recorded on another connection a moment ago
    write_leads(session, plan.leads)
    if plan.changes:
        changes = [{**row, "lead_id": real(row["lead_id"])} for row in plan.changes]
        session.execute(sa.insert(_ACTIVITY), changes)
    # A lead another process announced meanwhile is theirs: not again.
    announced = set(
        lifecycle.announce_many(session, lead_ids=[real(i) for i in plan.announce], now=now)
    )
    return [
        ItemResult(real(r.lead_id), r.duplicate, r.announced and real(r.lead_id) in announced)
        for r in plan.results
    ]


def _unchanged(session: Session, plan: Prepared) -> bool:
    """True when the keys, leads and histories the plan read are still as they were."""
    keys = sorted({row["dedup_key"] for row in plan.activities} | set(plan.seen))
    seen: dict[str, int] = {}
    for chunk in _chunks(keys):
        seen.update(_recorded_keys(session, chunk))
    if seen != plan.seen:
        return False
    emails = sorted({lead.email for lead in plan.leads})
    rows: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(emails):
        rows.update(_lead_rows(session, chunk))
    if rows != plan.rows:
        return False
    marks: dict[int, tuple[int, int]] = {}
    for chunk in _chunks([row["id"] for row in plan.rows.values()]):
        stmt = (
            select(_ACTIVITY.c.lead_id, sa.func.count(), sa.func.max(_ACTIVITY.c.id))
            .where(_ACTIVITY.c.lead_id.in_(chunk))
            .where(_ACTIVITY.c.kind.not_in(LIFECYCLE_KINDS))
            .group_by(_ACTIVITY.c.lead_id)
        )
        marks.update({int(i): (int(n), int(top)) for i, n, top in session.execute(stmt)})
    return marks == plan.marks


def _recorded_keys(session: Session, keys: list[str]) -> dict[str, int]:
    stmt = select(_ACTIVITY.c.dedup_key, _ACTIVITY.c.lead_id).where(_ACTIVITY.c.dedup_key.in_(keys))
    return {str(k): int(v) for k, v in session.execute(stmt)}


def _new_lead(email: str, item: Item, *, placeholder: int, now: datetime) -> LeadRow:
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


def _insert_values(lead: LeadRow, now: datetime) -> dict[str, Any]:
    """A new lead's INSERT with everything the plan gave it: no UPDATE needed afterwards."""
    values = {name: getattr(lead, name) for name in LeadRow.COLUMNS if name != "id"}
    values["created_at"] = now
    return values


def _lead_rows(session: Session, emails: list[str]) -> dict[str, dict[str, Any]]:
    """The `LeadRow` columns of the leads with these emails, by email."""
    stmt = select(*[_LEAD.c[name] for name in LeadRow.COLUMNS]).where(_LEAD.c.email.in_(emails))
    return {row.email: dict(row._mapping) for row in session.execute(stmt)}


def write_leads(session: Session, leads: Iterable[LeadRow]) -> None:
    """The changed columns of `leads` back to the database: one executemany UPDATE per set of
    changed columns (what an ORM flush sends, without building ORM objects)."""
    groups: dict[tuple[str, ...], list[LeadRow]] = defaultdict(list)
    for lead in leads:
        if lead.changed:
            groups[tuple(sorted(lead.changed))].append(lead)
    for names, members in groups.items():
        values = {name: sa.bindparam(f"b_{name}", type_=_LEAD.c[name].type) for name in names}
        stmt = sa.update(_LEAD).where(_LEAD.c.id == sa.bindparam("b_id")).values(values)
        rows = [
            {"b_id": lead.id, **{f"b_{name}": getattr(lead, name) for name in names}}
            for lead in members
        ]
        session.connection().execute(stmt, rows)
        for lead in members:
            lead.changed.clear()


def _update_lead(lead: LeadRow, item: Item, *, now: datetime) -> None:
    """What `record_inquiry` does to an existing or just-created lead."""
    fill_empty(lead, profile=item.profile, forwarded_by=item.forwarded_by, fields=item.fields)
    lead.latest_source = item.source[:100]
    touch = make_touch(item.source, item.data.get("fields") or item.fields or {}, item.occurred_at)
    if not lead.first_touch:
        lead.first_touch = touch
    if lead.last_activity_at is None or item.occurred_at >= lead.last_activity_at:
        lead.latest_touch = touch
    if lead.last_activity_at is None or item.occurred_at > lead.last_activity_at:
        lead.last_activity_at = item.occurred_at
    lead.updated_at = now


@dataclass(frozen=True)
class RawMark:
    """One `storage.raw.mark_raw` call, to be sent with others as one executemany."""

    raw_id: int
    status: RawStatus
    reason: str | None = None
    lead_id: int | None = None
    message_id: str | None = None


def mark_raws(session: Session, marks: Sequence[RawMark]) -> None:
    """`mark_raw` for many inputs: one executemany UPDATE per shape (with/without lead, msgid)."""
    at = utcnow()
    groups: dict[tuple[bool, bool], list[dict[str, Any]]] = defaultdict(list)
    for m in marks:
        row: dict[str, Any] = {
            "b_id": m.raw_id,
            "b_status": m.status,
            "b_reason": m.reason[:2000] if m.reason else None,
        }
        if m.lead_id is not None:
            row["b_lead"] = m.lead_id
        if m.message_id is not None:
            row["b_msgid"] = m.message_id[:998]
        groups[(m.lead_id is not None, m.message_id is not None)].append(row)
    raw = table(RawInput)
    for (has_lead, has_msgid), rows in groups.items():
        values: dict[str, Any] = {
            "status": sa.bindparam("b_status", type_=raw.c.status.type),
            "reason": sa.bindparam("b_reason"),
            "processed_at": at,
            "attempts": raw.c.attempts + 1,
        }
        if has_lead:
            values["lead_id"] = sa.bindparam("b_lead")
        if has_msgid:
            values["message_id"] = sa.bindparam("b_msgid")
        stmt = sa.update(raw).where(raw.c.id == sa.bindparam("b_id")).values(**values)
        session.connection().execute(stmt, rows)
