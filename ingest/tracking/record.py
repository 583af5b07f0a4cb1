"""Recording tracking events: known people's through the intake, the others kept until known.

An event names its person by an address, by a lead (a signed link), or by a visitor id that a
form, a link or an identify call tied to a lead before. Those become the lead's activities through
`ingest.intake.record_batch`, the same intake as mail and forms (so they are scored and can
announce). An event of a visitor nobody knows yet waits in `anonymous_event`; when the visitor
is named, their waiting events are recorded first, oldest first, so the lead's first touch is the
page that brought them. `record_inquiries` does the same for a form post that carries the
visitor id (`_visitor`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlmodel import Session

from ingest.intake import Item, ItemResult, Prepared, record_batch
from ingest.tracking.events import VISITOR, Identity, TrackedEvent
from scoring.types import Scorer
from storage import tracking
from storage.privacy import TOMBSTONE_DOMAIN, suppressed

VISITOR_FIELD = "_visitor"  # the visitor id on an inquiry's fields (underscore: not the lead's)


@dataclass
class Recorded:
    """What became of a batch."""

    recorded: int = 0  # new activities
    duplicate: int = 0  # events recorded before (a replay)
    anonymous: int = 0  # kept until the visitor is known
    joined: int = 0  # anonymous events that became a lead's activities now
    ignored: int = 0  # events of people forgotten on request
    announced: int = 0  # leads these events made hot

    def answer(self) -> dict[str, int]:
        return {k: v for k, v in vars(self).items() if k != "announced"}


@dataclass(frozen=True)
class EventBatch:
    """The events and identify calls of one request (or file), from one site."""

    events: Sequence[TrackedEvent]
    identities: Sequence[Identity] = ()
    site: str = ""


def record_events(
    session: Session,
    events: Sequence[TrackedEvent],
    identities: Sequence[Identity] = (),
    *,
    scorer: Scorer,
    now: datetime,
    site: str = "",
) -> Recorded:
    """Record a batch in the caller's transaction."""
    return record_many(session, [EventBatch(events, identities, site)], scorer=scorer, now=now)[0]


def record_many(
    session: Session, batches: Sequence[EventBatch], *, scorer: Scorer, now: datetime
) -> list[Recorded]:
    """Record the batches of several requests together in the caller's transaction, as one
    (a dozen statements for all of them); what became of each request's events, in order.

    Read as if the requests came one after the other in the order given: a visitor a later one
    names is known to an earlier one's events too (they join the lead now, not at the next visit).
    """
    outs = [Recorded() for _ in batches]
    visitors: dict[str, str] = {}  # visitor id -> site
    owner: dict[str, int] = {}  # visitor id -> the request that names it (else its first)
    named: dict[str, str | int] = {}  # who each visitor is said to be: an address or a lead id
    for n, b in enumerate(batches):
        for e in b.events:
            if e.visitor:
                visitors[e.visitor] = b.site
                owner.setdefault(e.visitor, n)
        for ident in b.identities:
            visitors[ident.visitor] = b.site
            owner.setdefault(ident.visitor, n)
        # An identify call, or an event with an address, says who the visitor is.
        for e in b.events:
            if e.visitor and e.email:
                named[e.visitor] = e.email
                owner[e.visitor] = n
        for ident in b.identities:
            named[ident.visitor] = ident.email or ident.lead_id or 0
            owner[ident.visitor] = n
    known = tracking.touch_visitors(session, visitors, now=now)  # locks them: see storage.tracking
    events = [(n, e) for n, b in enumerate(batches) for e in b.events]
    wanted = [v for v in named.values() if isinstance(v, int)]
    wanted += [e.lead_id for _, e in events if e.lead_id is not None]
    wanted += [i for i in known.values() if i is not None]
    emails = tracking.lead_emails(session, wanted)

    def person(visitor: str | None) -> str | None:
        if visitor is None:
            return None
        said = named.get(visitor)
        if isinstance(said, str):
            return said
        if isinstance(said, int) and said in emails:
            return emails[said]
        lead_id = known.get(visitor)
        return emails.get(lead_id) if lead_id is not None else None

    resolved = [
        (n, e, e.email or (emails.get(e.lead_id) if e.lead_id else None) or person(e.visitor))
        for n, e in events
    ]
    identified = {v: p for v in visitors if (p := person(v)) is not None}
    waiting = tracking.take_anonymous(session, identified)
    rows: list[tuple[int, Item, str]] = []
    for w in waiting:
        n = owner.get(w.visitor_id, 0)
        outs[n].joined += 1
        item = _item(
            kind=w.kind,
            occurred_at=w.occurred_at,
            dedup_key=w.dedup_key,
            source=w.source,
            detail=w.detail,
            data=w.data,
        )
        rows.append((n, item, identified[w.visitor_id]))
    rows += [(n, event_item(e), email) for n, e, email in resolved if email is not None]
    gone = _gone(session, {email for _, _, email in rows})
    kept: list[tuple[int, Item]] = []
    for n, item, email in sorted(rows, key=lambda r: r[1].occurred_at):
        if email in gone:
            outs[n].ignored += 1
        else:
            kept.append((n, _with_email(item, email)))
    items = [item for _, item in kept]
    results = record_batch(session, items, scorer=scorer, now=now) if items else []
    lead_of = {item.email: r.lead_id for item, r in zip(items, results, strict=True)}
    for (n, _), r in zip(kept, results, strict=True):
        if r.duplicate:
            outs[n].duplicate += 1
        else:
            outs[n].recorded += 1
        outs[n].announced += int(r.announced)
    # Identify calls for people with no activity in this batch: their lead, if there is one.
    missing = {p for v, p in identified.items() if p not in lead_of and p not in gone}
    lead_of.update(tracking.lead_ids(session, missing))
    links = {v: lead_of[p] for v, p in identified.items() if p in lead_of}
    tracking.link_visitors(session, {v: i for v, i in links.items() if known.get(v) != i}, now=now)
    anonymous = [
        (n, _anonymous_row(e))
        for n, e, email in resolved
        if email is None and e.visitor is not None
    ]
    stored = (
        tracking.store_anonymous_keys(session, [row for _, row in anonymous], now=now)
        if anonymous
        else set()
    )
    for n, row in anonymous:
        if row["dedup_key"] in stored:
            stored.discard(row["dedup_key"])  # a key twice in the batch is kept once
            outs[n].anonymous += 1
        else:
            outs[n].duplicate += 1
    return outs


def record_inquiries(
    session: Session,
    items: Sequence[Item],
    *,
    scorer: Scorer,
    now: datetime,
    prepared: Prepared | None = None,
) -> list[ItemResult]:
    """The intake's record_batch for inquiries, joining the visitor a form post names: their
    anonymous events are recorded just before the inquiry, as the same person's."""
    visitors: dict[int, str] = {}
    for index, item in enumerate(items):
        visitor = (item.data.get("fields") or {}).get(VISITOR_FIELD)
        if isinstance(visitor, str) and VISITOR.match(visitor):
            visitors[index] = visitor
    if not visitors:
        return record_batch(session, items, scorer=scorer, now=now, prepared=prepared)
    tracking.touch_visitors(session, dict.fromkeys(visitors.values(), ""), now=now)
    waiting: dict[str, list[Item]] = {}
    for w in tracking.take_anonymous(session, visitors.values()):
        waiting.setdefault(w.visitor_id, []).append(
            _item(
                kind=w.kind,
                occurred_at=w.occurred_at,
                dedup_key=w.dedup_key,
                source=w.source,
                detail=w.detail,
                data=w.data,
            )
        )
    merged: list[Item] = []
    positions: list[int] = []
    for index, item in enumerate(items):
        visitor = visitors.get(index)
        if visitor is not None:
            merged += [_with_email(w, item.email) for w in waiting.pop(visitor, [])]
        positions.append(len(merged))
        merged.append(item)
    if len(merged) > len(items):  # what was prepared did not know of these events
        prepared = None
    results = record_batch(session, merged, scorer=scorer, now=now, prepared=prepared)
    mine = [results[p] for p in positions]
    links = {visitors[i]: mine[i].lead_id for i in visitors}
    tracking.link_visitors(session, links, now=now)
    return mine


def event_item(event: TrackedEvent) -> Item:
    """An event as the intake records it (the address is set by the caller)."""
    fields = dict(event.fields)
    if event.visitor:
        fields[VISITOR_FIELD] = event.visitor
    return _item(
        kind=event.kind,
        occurred_at=event.occurred_at,
        dedup_key=event.dedup_key,
        source=event.source,
        detail=event.detail,
        data={"subject": None, "text": event.text, "fields": fields},
    )


def _item(
    *,
    kind: str,
    occurred_at: datetime,
    dedup_key: str,
    source: str,
    detail: str,
    data: dict[str, Any],
) -> Item:
    # No profile and no lead fields: a page view says what a person did, not who they are.
    return Item(
        email="",
        kind=kind,
        source=source,
        occurred_at=occurred_at,
        dedup_key=dedup_key,
        profile={},
        detail=detail,
        data=data,
        forwarded_by=None,
        fields={},
        raw_id=None,
    )


def _with_email(item: Item, email: str) -> Item:
    return replace(item, email=email)


def _anonymous_row(event: TrackedEvent) -> dict[str, Any]:
    item = event_item(event)
    return {
        "visitor_id": event.visitor,
        "kind": item.kind,
        "occurred_at": item.occurred_at,
        "detail": item.detail,
        "data": item.data,
        "source": item.source,
        "dedup_key": item.dedup_key,
    }


def _gone(session: Session, emails: set[str]) -> set[str]:
    """Addresses never to record for: forgotten with suppression on, or a forgotten lead's
    tombstone (a visitor id or a link that still points at it)."""
    tombstones = {e for e in emails if e.endswith("@" + TOMBSTONE_DOMAIN)}
    return tombstones | suppressed(session, sorted(emails - tombstones))
