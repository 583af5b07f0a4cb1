"""The lead lifecycle: the only code that changes a lead's status.

Every transition is one conditional UPDATE, so a race (two reps clicking Claim at once, two
`serve` processes announcing) is settled by the database: exactly one statement matches the row.

    nurturing ──announce──> announced ──claim──> claimed ──win──> won
        ^                       │  └──reassign──> ^  │ └───lose──> lost
        └──────nurture──────────┴─────────────────┴──┘  (reassign: claimed to another rep too)
    any status ──disqualify──> disqualified
    lost, written to since and hot again ──announce──> announced (its last owner is told)
    won, lost ──reopen──> claimed by its owner;  disqualified, nurturing ──reopen──> announced

Every change is an activity naming who made it, when, and why.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, insert, or_, select, true, update
from sqlmodel import Session, col

from storage.db import insert_rows, table
from storage.errors import TransitionRefused
from storage.leads import get_lead
from storage.models import Activity, Lead, LeadRow, LeadStatus, utcnow
from storage.outbox import enqueue_many, message

log = logging.getLogger("leadbot.lifecycle")

S = LeadStatus


def _transition(
    session: Session,
    *,
    lead_id: int,
    action: str,
    from_statuses: Iterable[LeadStatus],
    to_status: LeadStatus,
    actor: str,
    now: datetime | None,
    reason: str | None = None,
    guard: ColumnElement[bool] | None = None,
    values: dict[str, Any] | None = None,
    data: dict[str, Any] | None = None,
) -> Lead:
    now = now or utcnow()
    stmt = (
        update(Lead)
        .where(col(Lead.id) == lead_id)
        .where(col(Lead.status).in_([s.value for s in from_statuses]))
        .values(status=to_status.value, updated_at=now, **(values or {}))
        .returning(Lead)
    )
    if guard is not None:
        stmt = stmt.where(guard)
    # UPDATE … RETURNING refreshes the lead in this session in the same statement.
    lead = session.scalars(stmt, execution_options={"populate_existing": True}).first()
    if lead is None:
        current = get_lead(session, lead_id=lead_id)
        session.refresh(current)
        raise TransitionRefused(
            f"cannot {action} lead {current.email}: it is {current.status}"
            + (f" (owner {current.owner})" if current.owner else ""),
            status=current.status,
            owner=current.owner,
        )
    session.add(
        Activity(
            lead_id=lead_id,
            kind=action,
            occurred_at=now,
            actor=actor,
            detail=reason or "",
            data=data or {},
        )
    )
    session.flush()
    # One line per lead action, by id (never the address: logs travel further than the database).
    log.info("lead #%s %s by %s: now %s", lead_id, action, actor, to_status.value)
    return lead


def _owner_or_manager(actor: str, *, manager: bool) -> ColumnElement[bool]:
    """A claimed lead belongs to its owner: only they (or a manager) may nurture or close it."""
    if manager:
        return true()
    return or_(col(Lead.status) != S.CLAIMED.value, col(Lead.owner) == actor)


def _require(reason: str | None, action: str) -> str:
    text = (reason or "").strip()
    if not text:
        raise TransitionRefused(f"{action} needs a reason")
    return text[:500]


def announce(
    session: Session,
    *,
    lead_id: int,
    now: datetime | None = None,
    reason: str = "crossed the hot threshold",
    channel: str | None = None,
) -> Lead:
    """nurturing → announced, and the announcement enters the outbox in the same transaction."""
    now = now or utcnow()
    lead = _transition(
        session,
        lead_id=lead_id,
        action="announced",
        from_statuses=[S.NURTURING],
        to_status=S.ANNOUNCED,
        actor="leadbot",
        now=now,
        reason=reason,
        values=_announced(now),
    )
    enqueue_many(session, [_announcement(lead_id, now, channel)])
    return lead


def _announced(now: datetime) -> dict[str, Any]:
    """What announcing sets besides the status: a fresh round, nobody's yet."""
    return {"announced_at": now, "owner": None, "claimed_at": None}


def _announcement(lead_id: int, now: datetime, channel: str | None = None) -> dict[str, Any]:
    return message(
        kind="announce",
        lead_id=lead_id,
        payload={"channel": channel} if channel else {},
        dedup_key=f"announce:{lead_id}:{now.isoformat()}",
        now=now,
    )


def announced_on_insert(now: datetime) -> dict[str, Any]:
    """The columns of a lead created already announced (`announce_many(inserted=…)`): the INSERT
    carries them, so there is nothing to read or update afterwards."""
    return {"status": S.ANNOUNCED.value, "updated_at": now, **_announced(now)}


def announce_many(
    session: Session,
    *,
    lead_ids: Sequence[int],
    now: datetime | None = None,
    reason: str = "crossed the hot threshold",
    inserted: Collection[int] = (),
    history: Sequence[dict[str, Any]] = (),
) -> list[int]:
    """announce() for several leads in three statements (a busy inbox's batch): the same rows.

    Leads no longer nurturing (announced by another process a moment ago) are left out, not
    refused; returns the ids announced, in the order given. Those of `inserted` were created in
    this transaction with `announced_on_insert` (nobody else can see them yet): only their
    activity and card are written. `history`: the caller's other activity rows of the batch (the
    same columns), inserted in the same statement as the announcements'.
    """
    now = now or utcnow()
    known = [i for i in dict.fromkeys(lead_ids) if i not in inserted]
    returning: dict[int, str | None] = {}
    done: set[int] = set(inserted)
    if known:
        # A lost lead that wrote again comes back too; its last owner is told (below).
        lost = select(col(Lead.id), col(Lead.owner)).where(
            col(Lead.id).in_(known), col(Lead.status) == S.LOST.value
        )
        returning = {i: owner for i, owner in session.execute(lost)}
        stmt = (
            update(Lead)
            .where(col(Lead.id).in_(known))
            .where(
                or_(
                    col(Lead.status) == S.NURTURING.value,
                    and_(col(Lead.status) == S.LOST.value, _wrote_since_closed()),
                )
            )
            .values(status=S.ANNOUNCED.value, updated_at=now, **_announced(now))
            .returning(col(Lead.id))
        )
        # "fetch": exactly the rows the database updated are updated in the session too.
        done |= set(session.scalars(stmt, execution_options={"synchronize_session": "fetch"}))
    ids = [i for i in dict.fromkeys(lead_ids) if i in done]
    if not ids:
        insert_rows(session, table(Activity), list(history))
        return []
    # Core, not the ORM's bulk insert: no RETURNING (storage.db.insert_rows).
    insert_rows(
        session,
        table(Activity),
        list(history)
        + [
            {
                "lead_id": i,
                "kind": "announced",
                "occurred_at": now,
                "actor": "leadbot",
                "detail": "lost, wrote again: " + reason if i in returning else reason,
                "data": {"from": S.LOST.value, "owner": returning[i]} if i in returning else {},
                "source": "",
                "raw_id": None,
                "dedup_key": None,
            }
            for i in ids
        ],
    )
    told = [
        message(
            kind="dm",
            lead_id=i,
            payload={"user": returning[i], "event": "returned", "status": S.LOST.value},
            dedup_key=f"dm:returned:{i}:{now.isoformat()}",
            now=now,
        )
        for i in ids
        if returning.get(i)
    ]
    enqueue_many(session, [_announcement(i, now) for i in ids] + told)
    return ids


def _wrote_since_closed() -> ColumnElement[bool]:
    return col(Lead.last_activity_at) > col(Lead.closed_at)


def claim(session: Session, *, lead_id: int, user: str, now: datetime | None = None) -> Lead:
    """announced → claimed by `user`; a second claimant gets TransitionRefused naming the owner."""
    now = now or utcnow()
    return _transition(
        session,
        lead_id=lead_id,
        action="claimed",
        from_statuses=[S.ANNOUNCED],
        to_status=S.CLAIMED,
        actor=user,
        now=now,
        values={"owner": user, "claimed_at": now},
    )


def _decide(
    session: Session,
    *,
    lead_id: int,
    action: str,
    from_statuses: Iterable[LeadStatus],
    to_status: LeadStatus,
    actor: str,
    reason: str | None,
    reason_required: bool,
    manager: bool,
    now: datetime | None,
    values: dict[str, Any],
    data: dict[str, Any] | None = None,
) -> Lead:
    """A rep's decision on a lead: guarded by ownership, recorded with its reason."""
    now = now or utcnow()
    text = _require(reason, action) if reason_required else ((reason or "").strip()[:500] or None)
    return _transition(
        session,
        lead_id=lead_id,
        action=action,
        from_statuses=from_statuses,
        to_status=to_status,
        actor=actor,
        now=now,
        reason=text,
        guard=_owner_or_manager(actor, manager=manager),
        values={"status_reason": text, **{k: (now if v is _NOW else v) for k, v in values.items()}},
        data=data,
    )


_NOW = object()  # placeholder in `values` for the transition's timestamp


def nurture(
    session: Session,
    *,
    lead_id: int,
    actor: str,
    reason: str,
    manager: bool = False,
    now: datetime | None = None,
) -> Lead:
    """announced/claimed → nurturing; not announced again until new activity lifts it."""
    return _decide(
        session, lead_id=lead_id, action="nurtured", from_statuses=[S.ANNOUNCED, S.CLAIMED],
        to_status=S.NURTURING, actor=actor, reason=reason, reason_required=True, manager=manager,
        now=now, values={"owner": None, "nurtured_at": _NOW},
    )  # fmt: skip


MAX_DEAL_VALUE = 1e15  # a forged or mistyped value beyond any deal stays out of the sums


def win(
    session: Session,
    *,
    lead_id: int,
    actor: str,
    reason: str | None = None,
    value: float | None = None,
    manager: bool = False,
    now: datetime | None = None,
) -> Lead:
    """claimed → won (the reason and the deal's value are optional)."""
    if value is not None and not 0 <= value < MAX_DEAL_VALUE:
        raise TransitionRefused(f"a deal value must be between 0 and {MAX_DEAL_VALUE:g}")
    return _decide(
        session, lead_id=lead_id, action="won", from_statuses=[S.CLAIMED], to_status=S.WON,
        actor=actor, reason=reason, reason_required=False, manager=manager, now=now,
        values={"closed_at": _NOW, "deal_value": value},
        data={"value": value} if value is not None else None,
    )  # fmt: skip


def lose(
    session: Session,
    *,
    lead_id: int,
    actor: str,
    reason: str,
    code: str | None = None,
    manager: bool = False,
    now: datetime | None = None,
) -> Lead:
    """claimed → lost, with a reason (and `code`, one of the configured reasons, to count by)."""
    return _decide(
        session, lead_id=lead_id, action="lost", from_statuses=[S.CLAIMED], to_status=S.LOST,
        actor=actor, reason=reason, reason_required=True, manager=manager, now=now,
        values={"closed_at": _NOW, "reason_code": _code(code)}, data=_code_data(code),
    )  # fmt: skip


def disqualify(
    session: Session,
    *,
    lead_id: int,
    actor: str,
    reason: str,
    code: str | None = None,
    manager: bool = False,
    now: datetime | None = None,
) -> Lead:
    """Any status → disqualified (spam, competitor, student…), with a reason (and its `code`)."""
    return _decide(
        session, lead_id=lead_id, action="disqualified",
        from_statuses=[s for s in S if s is not S.DISQUALIFIED], to_status=S.DISQUALIFIED,
        actor=actor, reason=reason, reason_required=True, manager=manager, now=now,
        values={"closed_at": _NOW, "owner": None, "reason_code": _code(code)},
        data=_code_data(code),
    )  # fmt: skip


def _code(code: str | None) -> str | None:
    return (code or "").strip()[:80] or None


def _code_data(code: str | None) -> dict[str, Any] | None:
    return {"code": _code(code)} if _code(code) else None


def _same_owner(owner: str | None) -> ColumnElement[bool]:
    """The owner is still the one read: a change made meanwhile refuses the transition."""
    return col(Lead.owner).is_(None) if owner is None else col(Lead.owner) == owner


def reassign(
    session: Session,
    *,
    lead_id: int,
    actor: str,
    to: str,
    reason: str | None = None,
    manager: bool = False,
    now: datetime | None = None,
) -> Lead:
    """announced/claimed → claimed by `to`. A claimed lead is reassigned by its owner or a manager;
    an unclaimed one by anyone allowed to act (it is a claim made for someone else)."""
    now = now or utcnow()
    current = get_lead(session, lead_id=lead_id)
    session.refresh(current)
    before = current.owner
    if current.status == S.CLAIMED and before == to:
        raise TransitionRefused(
            f"lead {current.email} is already {to}'s", status=current.status, owner=before
        )
    return _transition(
        session,
        lead_id=lead_id,
        action="reassigned",
        from_statuses=[S.ANNOUNCED, S.CLAIMED],
        to_status=S.CLAIMED,
        actor=actor,
        now=now,
        reason=(reason or "").strip()[:500] or None,
        guard=and_(_owner_or_manager(actor, manager=manager), _same_owner(before)),
        values={"owner": to, "claimed_at": func.coalesce(col(Lead.claimed_at), now)},
        data={"from": before, "to": to},
    )


REOPENABLE = (S.WON, S.LOST, S.DISQUALIFIED, S.NURTURING)


def reopen(
    session: Session,
    *,
    lead_id: int,
    actor: str,
    reason: str | None = None,
    manager: bool = False,
    now: datetime | None = None,
) -> Lead:
    """won/lost → claimed by its owner again; disqualified/nurturing (nobody's) → announced, and
    announced anew when it never had a card. A lead with an owner is reopened by them or a manager."""
    now = now or utcnow()
    current = get_lead(session, lead_id=lead_id)
    session.refresh(current)
    status, owner = current.status, current.owner
    if status not in REOPENABLE:
        raise TransitionRefused(
            f"cannot reopen lead {current.email}: it is {status}", status=status, owner=owner
        )
    target = S.CLAIMED if owner else S.ANNOUNCED
    guard = _same_owner(owner)
    if owner and not manager:
        guard = and_(guard, col(Lead.owner) == actor)
    closed = {"closed_at": None, "status_reason": None, "reason_code": None, "deal_value": None}
    lead = _transition(
        session,
        lead_id=lead_id,
        action="reopened",
        from_statuses=[S(status)],
        to_status=target,
        actor=actor,
        now=now,
        reason=(reason or "").strip()[:500] or None,
        guard=guard,
        values={**closed, **(_announced(now) if target is S.ANNOUNCED else {})},
        data={"from": status, "to": target.value},
    )
    if target is S.ANNOUNCED and lead.slack_ts is None:
        enqueue_many(session, [_announcement(lead_id, now)])
    return lead


def last_owner(session: Session, lead: Lead) -> str | None:
    """Its owner, or whoever had it last (disqualifying and nurturing clear the owner)."""
    if lead.owner:
        return lead.owner
    stmt = (
        select(Activity)
        .where(col(Activity.lead_id) == lead.id)
        .where(col(Activity.kind).in_(("claimed", "reassigned")))
        .order_by(col(Activity.id).desc())
        .limit(1)
    )
    last = session.scalar(stmt)
    if last is None:
        return None
    return str(last.data.get("to") or "") or None if last.kind == "reassigned" else last.actor


def eligible_for_announcement(lead: Lead | LeadRow, *, hot_threshold: float) -> bool:
    """Hot, in the pool, and not sent back to nurturing since its last real activity (no flapping);
    or lost, and hot again with activity since it was lost."""
    if lead.score < hot_threshold:
        return False
    if lead.status == S.LOST:
        return (
            lead.last_activity_at is not None
            and lead.closed_at is not None
            and lead.last_activity_at > lead.closed_at
        )
    if lead.status != S.NURTURING:
        return False
    if lead.nurtured_at is None:
        return True
    return lead.last_activity_at is not None and lead.last_activity_at > lead.nurtured_at


def close_imported(
    session: Session, *, lead_id: int, won: bool, reason: str, now: datetime | None = None
) -> Lead:
    """nurturing → won/lost from a historical import; a lead in a rep's hands is never closed."""
    status = S.WON if won else S.LOST
    return _transition(
        session,
        lead_id=lead_id,
        action=status.value,
        from_statuses=[S.NURTURING],
        to_status=status,
        actor="import",
        now=now,
        reason=reason[:500],
        values={"closed_at": now or utcnow(), "status_reason": reason[:500]},
    )


def close_imported_many(
    session: Session, *, lead_ids: list[int], won: bool, reason: str, now: datetime | None = None
) -> list[int]:
    """close_imported for many leads at once (one UPDATE, one executemany): those still nurturing
    are closed, the others (in a rep's hands, already closed) are left as they are."""
    if not lead_ids:
        return []
    now = now or utcnow()
    status = S.WON if won else S.LOST
    closed = [
        i
        for i in session.scalars(
            update(Lead)
            .where(col(Lead.id).in_(lead_ids))
            .where(col(Lead.status) == S.NURTURING.value)
            .values(status=status.value, updated_at=now, closed_at=now, status_reason=reason[:500])
            .returning(col(Lead.id)),
            execution_options={"synchronize_session": False},
        )
        if i is not None
    ]
    if closed:
        session.execute(
            insert(Activity),
            [
                {
                    "lead_id": i,
                    "kind": status.value,
                    "occurred_at": now,
                    "actor": "import",
                    "detail": reason[:500],
                    "data": {},
                }
                for i in closed
            ],
        )
        log.info("%d imported lead(s) %s by import", len(closed), status.value)
    return closed
