"""Periodic Slack work over stored leads: SLA reminders and escalations, new activity into threads.

Each message has a dedup key tied to the lead's current announcement, so it is queued exactly
once however many `serve` processes run the job, and again only after a new announcement.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exc, func, select
from sqlmodel import Session

from storage.leads import LIFECYCLE_KINDS
from storage.lifecycle import last_owner
from storage.models import Activity, Lead, LeadStatus, SlackCursor
from storage.outbox import enqueue
from storage.slack import enqueue_refresh

ACTIVITY_CURSOR = "activity_threads"
# Engagement that scores but gets no thread reply of its own: visits, videos, clicks, custom events
# (docs/tracking.md). Downloads and webinars, rarer and telling, still do.
QUIET_KINDS = frozenset({"page_visit", "video", "email_click", "event"})
LOGGED_SOURCE = "slack"  # activities a rep logged in Slack (ingest.logged): already threaded
ACT: Any = Activity.__table__.c  # type: ignore[attr-defined]
LEAD: Any = Lead.__table__.c  # type: ignore[attr-defined]


@dataclass
class SlaReport:
    reminders: int = 0
    escalations: int = 0
    activities: int = 0


def unclaimed_since(session: Session, *, before: datetime, limit: int = 500) -> list[Lead]:
    """Announced, still unclaimed, announced at or before `before`."""
    stmt = (
        select(Lead)
        .where(LEAD.status == LeadStatus.ANNOUNCED.value, LEAD.announced_at <= before)
        .order_by(LEAD.announced_at, LEAD.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def enqueue_sla(
    session: Session,
    *,
    now: datetime,
    reminder_minutes: float,
    escalation_minutes: float,
    targets: list[str],
    reminder_targets: list[str] | None = None,
    broadcast: bool = False,
) -> SlaReport:
    """Queue the reminder after `reminder_minutes` (mentioning `reminder_targets`, broadcast to
    the channel when `broadcast`), the escalation after `escalation_minutes`."""
    report = SlaReport()
    reminder: dict[str, Any] = {"targets": list(reminder_targets or [])}
    if broadcast:
        reminder["broadcast"] = True
    # (thread event, activity kind: one of storage.leads.LIFECYCLE_KINDS, so scoring ignores it)
    steps = [
        ("sla_reminder", "sla_reminder", reminder_minutes, reminder),
        ("sla_escalation", "sla_escalated", escalation_minutes, {"targets": targets}),
    ]
    for kind, activity_kind, minutes, extra in steps:
        if minutes <= 0:
            continue
        for lead in unclaimed_since(session, before=now - timedelta(minutes=minutes)):
            assert lead.id is not None and lead.announced_at is not None
            key = f"{kind}:{lead.id}:{lead.announced_at.isoformat()}"
            payload = {"event": kind, "minutes": minutes, **extra}
            if enqueue(
                session, kind="thread", lead_id=lead.id, payload=payload, dedup_key=key, now=now
            ):
                session.add(
                    Activity(lead_id=lead.id, kind=activity_kind, occurred_at=now, actor="leadbot",
                             detail=f"unclaimed for {minutes:g} min")
                )  # fmt: skip
                if kind == "sla_reminder":
                    report.reminders += 1
                else:
                    report.escalations += 1
    session.flush()
    return report


def _cursor(session: Session) -> SlackCursor:
    row = session.get(SlackCursor, ACTIVITY_CURSOR)
    if row is not None:
        return row
    # First run: start from now, rather than thread every activity ever recorded.
    start = session.scalar(select(func.max(ACT.id))) or 0
    try:
        with session.begin_nested():
            row = SlackCursor(name=ACTIVITY_CURSOR, value=int(start))
            session.add(row)
    except exc.IntegrityError:
        row = session.get(SlackCursor, ACTIVITY_CURSOR)
        assert row is not None
    return row


OPEN = (LeadStatus.ANNOUNCED, LeadStatus.CLAIMED)
CLOSED = (LeadStatus.WON, LeadStatus.LOST, LeadStatus.DISQUALIFIED)


def _latest(session: Session, lead_id: int, kinds: tuple[str, ...]) -> int | None:
    stmt = select(func.max(ACT.id)).where(ACT.lead_id == lead_id, ACT.kind.in_(kinds))
    return session.scalar(stmt)


def enqueue_new_activity(session: Session, *, now: datetime, limit: int = 500) -> int:
    """Activity on an announced or claimed lead after its announcement goes to the card's thread
    (and to its owner, in a DM); on a won, lost or disqualified lead after it was closed, to the
    thread and to its last owner (a lost lead hot again is announced again by the intake, which
    tells the owner itself)."""
    cursor = _cursor(session)
    stmt = (
        select(Activity)
        .where(ACT.id > cursor.value, ACT.kind.not_in(LIFECYCLE_KINDS))
        .order_by(ACT.id)
        .limit(limit)
    )
    queued = 0
    activities = list(session.scalars(stmt))
    for activity in activities:
        lead = session.get(Lead, activity.lead_id)
        if lead is None or activity.id is None or lead.status not in (*OPEN, *CLOSED):
            continue
        # The inquiry that made it hot is on the card already; one there when it was closed is
        # what the rep decided on.
        since = _latest(session, lead.id or 0, ("announced",) if lead.status in OPEN else CLOSED)
        if since is None or activity.id < since:
            continue
        announced_id = session.scalar(
            select(func.max(ACT.id)).where(ACT.lead_id == lead.id, ACT.kind == "announced")
        )
        if announced_id is None or activity.id is None or activity.id < announced_id:
            continue  # the inquiry that made it hot is on the card already
        if activity.kind in QUIET_KINDS or activity.source == LOGGED_SOURCE:
            # A page view each is noise in a thread, and a rep's logged call has its own reply:
            # only the card's score moves.
            enqueue_refresh(session, kind="update_card", key=str(lead.id), lead_id=lead.id, now=now)
            continue
        payload = {"event": "activity", "kind": activity.kind, "activity_id": activity.id}
        if lead.status in CLOSED:
            payload["status"] = lead.status
        key = f"activity:{activity.id}"
        if enqueue(
            session, kind="thread", lead_id=lead.id, payload=payload, dedup_key=key, now=now
        ):
            queued += 1
            enqueue_refresh(session, kind="update_card", key=str(lead.id), lead_id=lead.id, now=now)
            # The owner is told in person: a thread reply notifies nobody who is not in it.
            owner = last_owner(session, lead) if lead.status in CLOSED else lead.owner
            if owner and owner != activity.actor:  # not about a call they logged themselves
                enqueue(session, kind="dm", lead_id=lead.id, payload={**payload, "user": owner},
                        dedup_key=f"dm:{key}", now=now)  # fmt: skip
    if activities:
        cursor.value = max(cursor.value, int(activities[-1].id or 0))
    session.flush()
    return queued
