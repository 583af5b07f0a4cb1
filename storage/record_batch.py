"""Recording and scoring a batch of inquiries in a handful of statements, same rows as one by one.

`storage.leads.record_inquiry` + `storage.scores.score_lead` cost about a dozen statements per
inquiry; a busy receiver hands over hundreds at once. Here the batch is resolved with one SELECT of
known dedup keys, one of known leads, multi-row INSERT … ON CONFLICT DO NOTHING for new leads and
activities, one SELECT of the known leads' engagement, scoring in Python, and executemany UPDATEs
and INSERTs for the leads' changed columns and the score_changed rows. Leads are plain rows
(`LeadRow`), not ORM objects: building and flushing those cost more than the rest of the work.
Inquiries are still applied in order, so a person twice in a batch is scored twice, exactly as
the per-inquiry path does.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy import select
from sqlmodel import Session, col

from scoring.types import Scorer
from storage import lifecycle
from storage.db import insert_ignore_many, table
from storage.leads import LIFECYCLE_KINDS, domain_of, fill_empty, make_touch
from storage.models import Activity, Lead, LeadRow, RawInput, RawStatus, utcnow
from storage.scores import ActivityRow, activity_facts, lead_facts, store_result

CHUNK = 500  # rows per multi-row statement: well under SQLite's bound-variable limit
_LEAD = table(Lead)


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


def record_batch(
    session: Session, items: Sequence[Item], *, scorer: Scorer, now: datetime
) -> list[ItemResult]:
    """Record, score and (when hot) announce `items` in order; one result per item."""
    emails = {i.email.strip().lower() for i in items}
    seen: dict[str, int] = {}  # dedup key -> lead id, from the database and then this batch
    for chunk in _chunks({i.dedup_key for i in items}):
        stmt = select(col(Activity.dedup_key), col(Activity.lead_id)).where(
            col(Activity.dedup_key).in_(chunk)
        )
        seen.update({str(k): int(v) for k, v in session.execute(stmt)})
    leads: dict[str, LeadRow] = {}
    for chunk in _chunks(emails):
        leads.update(_load_leads(session, chunk))
    known_ids = [x.id for x in leads.values()]

    # Which items are new (first with their key) and which leads they create, in order.
    fresh: list[int] = []
    keys: set[str] = set(seen)
    new_leads: dict[str, dict[str, Any]] = {}
    for n, item in enumerate(items):
        if item.dedup_key in keys:
            continue
        keys.add(item.dedup_key)
        fresh.append(n)
        email = item.email.strip().lower()
        if email not in leads and email not in new_leads:
            new_leads[email] = {
                "email": email,
                "domain": domain_of(email),
                "source": item.source[:100],
                "latest_source": item.source[:100],
                "created_at": now,
                "updated_at": now,
            }
    if new_leads:
        insert_ignore_many(session, table(Lead), list(new_leads.values()), "email")
        for chunk in _chunks(new_leads):  # raced ones too: created a moment ago elsewhere
            leads.update(_load_leads(session, chunk))

    # Core rows, not ORM objects: scoring reads five columns, and nothing here changes them.
    history: dict[int, list[ActivityRow]] = defaultdict(list)
    acts_table = table(Activity)
    for chunk in _chunks(known_ids):
        engagement = (
            select(acts_table.c.lead_id, *[acts_table.c[name] for name in _Act._fields])
            .where(acts_table.c.lead_id.in_(chunk))
            .where(acts_table.c.kind.not_in(LIFECYCLE_KINDS))
            .order_by(acts_table.c.occurred_at, acts_table.c.id)
        )
        for lead_id, *values in session.execute(engagement):
            history[lead_id].append(_Act(*values))

    rows: dict[int, dict[str, Any]] = {}
    for n in fresh:
        item = items[n]
        lead = leads[item.email.strip().lower()]
        rows[n] = {
            "lead_id": lead.id,
            "kind": item.kind,
            "occurred_at": item.occurred_at,
            "actor": item.forwarded_by or item.email.strip().lower(),
            "detail": item.detail,
            "data": item.data,
            "source": item.source[:100],
            "raw_id": item.raw_id,
            "dedup_key": item.dedup_key,
        }
    made = insert_ignore_many(session, table(Activity), list(rows.values()), "dedup_key")
    inserted = {str(k): int(i) for i, k in made}
    lost = [r["dedup_key"] for r in rows.values() if r["dedup_key"] not in inserted]
    if lost:  # recorded by another connection a moment ago: later copies belong to its lead
        stmt = select(col(Activity.dedup_key), col(Activity.lead_id)).where(
            col(Activity.dedup_key).in_(lost)
        )
        seen.update({str(k): int(v) for k, v in session.execute(stmt)})

    results: dict[int, ItemResult] = {}
    announce: list[int] = []
    changes: list[dict[str, Any]] = []  # score_changed rows, inserted together after the loop
    for n in fresh:
        item = items[n]
        lead = leads[item.email.strip().lower()]
        assert lead.id is not None
        _update_lead(lead, item, now=now)
        activity_id = inserted.get(item.dedup_key)
        if activity_id is None:  # the same message on another connection at once: one activity
            results[n] = ItemResult(lead.id, duplicate=True)
            continue
        seen[item.dedup_key] = lead.id
        acts = history[lead.id]
        acts.append(_Act(*(rows[n][name] for name in _Act._fields)))
        acts.sort(key=lambda a: a.occurred_at)  # stable: ties keep insertion (id) order
        result = scorer.score(lead_facts(lead), activity_facts(acts), now=now)
        store_result(session, lead=lead, result=result, now=now, history=changes)
        hot = lifecycle.eligible_for_announcement(lead, hot_threshold=scorer.hot_threshold)
        if hot and lead.id not in announce:  # once announced it is no longer in the pool
            announce.append(lead.id)
            results[n] = ItemResult(lead.id, duplicate=False, announced=True)
        else:
            results[n] = ItemResult(lead.id, duplicate=False)
    write_leads(session, leads.values())
    if changes:
        session.execute(sa.insert(acts_table), changes)
    # After the one flush; scoring never reads a lead's status, so announcing them all here leaves
    # every row as one by one. A lead another process announced meanwhile is theirs: not again.
    announced = set(lifecycle.announce_many(session, lead_ids=announce, now=now))
    for n, done in results.items():
        if done.announced and done.lead_id not in announced:
            results[n] = ItemResult(done.lead_id, duplicate=False)
    return [
        results.get(n) or ItemResult(seen[item.dedup_key], True) for n, item in enumerate(items)
    ]


def _load_leads(session: Session, emails: list[str]) -> dict[str, LeadRow]:
    stmt = select(*[_LEAD.c[name] for name in LeadRow.COLUMNS]).where(_LEAD.c.email.in_(emails))
    return {row.email: LeadRow(dict(row._mapping)) for row in session.execute(stmt)}


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
