"""Storage for the Slack bot: posted cards, seen events, App Home lists and outbox refreshes."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, exc, func, select
from sqlmodel import Session

from storage.leads import LIFECYCLE_KINDS, get_lead
from storage.models import (
    Activity,
    Lead,
    LeadStatus,
    Note,
    OutboxMessage,
    SlackEvent,
    SlackHomeUser,
    SlackPost,
    utcnow,
)
from storage.outbox import enqueue, enqueue_many
from storage.outbox import message as outbox_message

OUT: Any = OutboxMessage.__table__.c  # type: ignore[attr-defined]
# Slack retries an event for about an hour at most; a day of ids is plenty.
EVENT_MEMORY = timedelta(days=1)
# App Homes kept up to date: of people who opened theirs this recently (opening it again
# publishes it anyway), so a workspace's every past visitor is not re-rendered on each change.
HOME_RECENT = timedelta(days=14)


def remember_event(session: Session, event_id: str, *, now: datetime | None = None) -> bool:
    """True the first time `event_id` is seen; the primary key settles concurrent deliveries."""
    now = now or utcnow()
    try:
        with session.begin_nested():
            session.add(SlackEvent(event_id=event_id[:64], seen_at=now))
    except exc.IntegrityError:
        return False
    seen: Any = SlackEvent.__table__.c  # type: ignore[attr-defined]
    session.execute(delete(SlackEvent).where(seen.seen_at < now - EVENT_MEMORY))
    return True


def post_of(session: Session, outbox_id: int) -> SlackPost | None:
    return session.get(SlackPost, outbox_id)


def record_post(
    session: Session,
    *,
    outbox_id: int,
    lead_id: int,
    channel: str,
    ts: str,
    now: datetime | None = None,
) -> Lead:
    """Remember where an announcement went: the card to update and the thread for later news."""
    session.add(
        SlackPost(
            outbox_id=outbox_id, lead_id=lead_id, channel=channel, ts=ts, created_at=now or utcnow()
        )
    )
    lead = get_lead(session, lead_id=lead_id)
    lead.slack_channel, lead.slack_ts = channel, ts
    session.flush()
    return lead


def announce_pending(session: Session, lead_id: int) -> bool:
    """An announcement of this lead still waits in the outbox (so its thread does not exist yet)."""
    stmt = select(OUT.id).where(
        OUT.lead_id == lead_id, OUT.kind == "announce", OUT.status == "pending"
    )
    return session.scalar(stmt.limit(1)) is not None


def latest_inquiry(session: Session, lead_id: int) -> Activity | None:
    """The newest thing the person said or did (not what we did to the lead)."""
    stmt = (
        select(Activity)
        .where(Activity.lead_id == lead_id)  # type: ignore[arg-type]
        .where(Activity.kind.not_in(LIFECYCLE_KINDS))  # type: ignore[attr-defined]
        .order_by(Activity.id.desc())  # type: ignore[union-attr]
        .limit(1)
    )
    return session.scalar(stmt)


def card_inquiry(session: Session, lead_id: int) -> Activity | None:
    """What the card shows as the ask: the newest thing the person said before the lead's latest
    announcement, so a reply goes to the thread and never replaces the original ask."""
    announced = session.scalar(
        select(func.max(Activity.id)).where(  # type: ignore[arg-type]
            Activity.lead_id == lead_id,  # type: ignore[arg-type]
            Activity.kind == "announced",  # type: ignore[arg-type]
        )
    )
    stmt = (
        select(Activity)
        .where(Activity.lead_id == lead_id)  # type: ignore[arg-type]
        .where(Activity.kind.not_in(LIFECYCLE_KINDS))  # type: ignore[attr-defined]
        .order_by(Activity.id.desc())  # type: ignore[union-attr]
        .limit(1)
    )
    if announced is not None:
        before = session.scalar(stmt.where(Activity.id < announced))
        if before is not None:
            return before
    return session.scalar(stmt)


def get_activity(session: Session, activity_id: int) -> Activity | None:
    return session.get(Activity, activity_id)


def last_notes(session: Session, lead_ids: list[int]) -> dict[int, Note]:
    """The newest note of each of these leads (those that have one)."""
    if not lead_ids:
        return {}
    note: Any = Note.__table__.c  # type: ignore[attr-defined]
    newest = (
        select(func.max(note.id)).where(note.lead_id.in_(lead_ids)).group_by(note.lead_id)
    ).scalar_subquery()
    stmt = select(Note).where(note.id.in_(newest))
    return {n.lead_id: n for n in session.scalars(stmt)}


def hot_open_leads(session: Session, *, limit: int = 20) -> list[Lead]:
    """Hot leads nobody has closed: announced, claimed, or hot but still in the pool."""
    open_statuses = (
        LeadStatus.NURTURING.value,
        LeadStatus.ANNOUNCED.value,
        LeadStatus.CLAIMED.value,
    )
    stmt = (
        select(Lead)
        .where(Lead.temperature == "hot")  # type: ignore[arg-type]
        .where(Lead.status.in_(open_statuses))  # type: ignore[attr-defined]
        .order_by(Lead.score.desc(), Lead.id)  # type: ignore[attr-defined,arg-type]
        .limit(limit)
    )
    return list(session.scalars(stmt))


def touch_home_user(session: Session, user_id: str, *, now: datetime | None = None) -> None:
    row = session.get(SlackHomeUser, user_id)
    if row is None:
        try:
            with session.begin_nested():
                session.add(SlackHomeUser(user_id=user_id, opened_at=now or utcnow()))
        except exc.IntegrityError:
            return
    else:
        row.opened_at = now or utcnow()


def home_users(session: Session, *, limit: int = 500, since: datetime | None = None) -> list[str]:
    """Who opened the App Home (since `since`), the most recent first."""
    home: Any = SlackHomeUser.__table__.c  # type: ignore[attr-defined]
    stmt = select(home.user_id).order_by(home.opened_at.desc()).limit(limit)
    if since is not None:
        stmt = stmt.where(home.opened_at >= since)
    return list(session.scalars(stmt))


def _waiting(session: Session, prefix: str) -> bool:
    """A refresh with this key prefix is queued and not yet taken: it will render the new state."""
    stmt = select(OUT.id).where(
        OUT.status == "pending",
        OUT.locked_until.is_(None),
        OUT.dedup_key.like(prefix + "%"),
    )
    return session.scalar(stmt.limit(1)) is not None


def enqueue_refresh(
    session: Session,
    *,
    kind: str,
    key: str,
    lead_id: int | None,
    payload: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> OutboxMessage | None:
    """Queue a re-render (card, App Home) unless one waits: sends render the state of then."""
    prefix = f"{kind}:{key}:"
    if _waiting(session, prefix):
        return None
    return enqueue(
        session,
        kind=kind,
        lead_id=lead_id,
        payload=payload,
        dedup_key=prefix + uuid.uuid4().hex,
        now=now,
    )


def enqueue_lead_changed(
    session: Session,
    lead: Lead,
    *,
    thread: dict[str, Any] | None = None,
    thread_key: str | None = None,
    now: datetime | None = None,
) -> None:
    """After a change to `lead`: update its card, tell its thread, refresh every App Home."""
    assert lead.id is not None
    enqueue_refresh(session, kind="update_card", key=str(lead.id), lead_id=lead.id, now=now)
    if thread is not None:
        enqueue(
            session, kind="thread", lead_id=lead.id, payload=thread, dedup_key=thread_key, now=now
        )
    enqueue_home_refresh(session, now=now)


def enqueue_home_refresh(session: Session, *, now: datetime | None = None) -> int:
    """A re-render of the App Home of everyone who opened it lately, except those whose refresh
    is already waiting (it will render the new state): two statements however many they are."""
    now = now or utcnow()
    users = home_users(session, since=now - HOME_RECENT)
    if not users:
        return 0
    keys = session.scalars(
        select(OUT.dedup_key).where(
            OUT.status == "pending", OUT.locked_until.is_(None), OUT.dedup_key.like("home:%")
        )
    )
    waiting = {str(k).split(":")[1] for k in keys if k}
    rows = [
        outbox_message(
            kind="home",
            lead_id=None,
            payload={"user": user},
            dedup_key=f"home:{user}:{uuid.uuid4().hex}",
            now=now,
        )
        for user in users
        if user not in waiting
    ]
    return enqueue_many(session, rows)
