"""Digests: in a burst, a channel's further announcements go out together as one message.

Above `burst` announcements in `minutes` in one channel, an announcement becomes an item waiting
for the channel's next digest (a `digest` outbox message, one waiting per channel, due a few
seconds later so the rest of the burst joins it). Sending the digest takes the channel's waiting
items (an UPDATE that settles concurrent senders), posts them, and records where; a lead claimed
from its line gets a card of its own then. Below the rate, cards are single again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, exc, func, select, update
from sqlmodel import Session

from storage.models import Lead, OutboxMessage, SlackDigestItem, SlackPost, utcnow
from storage.outbox import enqueue
from storage.slack import enqueue_refresh

DIGEST = "digest"  # outbox kind: post the channel's waiting items as one message
DIGEST_UPDATE = "update_digest"  # outbox kind: re-render a posted digest (someone was forgotten)
ITEM: Any = SlackDigestItem.__table__.c  # type: ignore[attr-defined]
POST: Any = SlackPost.__table__.c  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Burst:
    size: int  # more than this many announcements ...
    minutes: float  # ... in this many minutes in one channel: a digest
    gather_seconds: float = 5.0  # how long a digest waits for the rest of the burst

    @property
    def on(self) -> bool:
        return self.size > 0 and self.minutes > 0


def recent_announcements(session: Session, channel: str, *, since: datetime) -> int:
    """Cards posted and leads put in digests in `channel` since `since`."""
    cards = session.scalar(
        select(func.count()).where(POST.channel == channel, POST.created_at >= since)
    )
    digested = session.scalar(
        select(func.count()).where(ITEM.channel == channel, ITEM.queued_at >= since)
    )
    return int(cards or 0) + int(digested or 0)


def defer_if_burst(
    session: Session,
    *,
    outbox_id: int,
    lead_id: int,
    channel: str,
    burst: Burst,
    now: datetime | None = None,
) -> bool:
    """True when the announcement `outbox_id` waits for a digest instead of becoming a card
    (also when it already did: a retried send)."""
    now = now or utcnow()
    if session.get(SlackDigestItem, outbox_id) is not None:
        return True
    if not burst.on:
        return False
    since = now - timedelta(minutes=burst.minutes)
    if recent_announcements(session, channel, since=since) < burst.size:
        return False
    try:  # a concurrent retry of the same message inserted it first: the same outcome
        with session.begin_nested():
            session.add(
                SlackDigestItem(
                    outbox_id=outbox_id, lead_id=lead_id, channel=channel, queued_at=now
                )
            )
    except exc.IntegrityError:
        return True
    # Its line in the digest is its card now; an older card (a lead announced again) is not.
    lead = session.get(Lead, lead_id)
    if lead is not None:
        lead.slack_channel = lead.slack_ts = None
    enqueue_digest(session, channel, due=now + timedelta(seconds=burst.gather_seconds), now=now)
    session.flush()
    return True


def enqueue_digest(
    session: Session, channel: str, *, due: datetime, now: datetime | None = None
) -> OutboxMessage | None:
    """The channel's next digest, unless one is waiting already (it will take this item too)."""
    row = enqueue_refresh(
        session, kind=DIGEST, key=channel, lead_id=None, payload={"channel": channel}, now=now
    )
    if row is not None:
        row.next_attempt_at = due
    return row


def take(session: Session, *, digest_id: int, channel: str, limit: int) -> list[SlackDigestItem]:
    """The items of digest `digest_id`: those it took before (a retry), else up to `limit` of
    the channel's waiting ones, oldest first, which no other digest can take any more."""
    mine = _items(session, digest_id)
    if mine:
        return mine
    oldest = (
        select(ITEM.outbox_id)
        .where(ITEM.channel == channel, ITEM.digest_id.is_(None))
        .order_by(ITEM.queued_at, ITEM.outbox_id)
        .limit(limit)
        .scalar_subquery()
    )
    session.execute(
        update(SlackDigestItem)
        .where(ITEM.outbox_id.in_(oldest), ITEM.digest_id.is_(None))
        .values(digest_id=digest_id)
    )
    return _items(session, digest_id)


def _items(session: Session, digest_id: int) -> list[SlackDigestItem]:
    stmt = (
        select(SlackDigestItem)
        .where(ITEM.digest_id == digest_id)
        .order_by(ITEM.queued_at, ITEM.outbox_id)
    )
    return list(session.scalars(stmt))


def waiting(session: Session, channel: str) -> int:
    stmt = select(func.count()).where(ITEM.channel == channel, ITEM.digest_id.is_(None))
    return int(session.scalar(stmt) or 0)


def pending(session: Session, item: SlackDigestItem) -> bool:
    """The digest that will show this item is still to be sent (so its line does not exist yet)."""
    if item.ts is not None:
        return False
    if item.digest_id is None:  # waiting to be taken by the channel's next digest
        out: Any = OutboxMessage.__table__.c  # type: ignore[attr-defined]
        stmt = select(out.id).where(
            out.status == "pending", out.dedup_key.like(f"{DIGEST}:{item.channel}:%")
        )
        return session.scalar(stmt.limit(1)) is not None
    digest = session.get(OutboxMessage, item.digest_id)
    return digest is not None and digest.status == "pending"


def drop(session: Session, *, digest_id: int, lead_ids: list[int]) -> None:
    """Leave these leads out of a digest (sent back or disqualified before it went out)."""
    if lead_ids:
        session.execute(
            delete(SlackDigestItem).where(ITEM.digest_id == digest_id, ITEM.lead_id.in_(lead_ids))
        )


def posted(session: Session, *, digest_id: int, ts: str) -> None:
    session.execute(update(SlackDigestItem).where(ITEM.digest_id == digest_id).values(ts=ts[:32]))


def current_item(session: Session, lead: Lead) -> SlackDigestItem | None:
    """The digest line that stands for the lead's card: its latest announcement was digested
    and it has no card of its own since."""
    if lead.slack_ts is not None or lead.id is None:
        return None
    stmt = (
        select(SlackDigestItem)
        .where(ITEM.lead_id == lead.id)
        .order_by(ITEM.queued_at.desc(), ITEM.outbox_id.desc())
        .limit(1)
    )
    item = session.scalar(stmt)
    if item is None or (lead.announced_at is not None and item.queued_at < lead.announced_at):
        return None
    return item


def digest_leads(session: Session, digest_id: int) -> list[Lead]:
    """The leads of a digest, in its order."""
    items = _items(session, digest_id)
    leads = {
        lead.id: lead
        for lead in session.scalars(
            select(Lead).where(Lead.id.in_([i.lead_id for i in items]))  # type: ignore[union-attr]
        )
    }
    return [leads[i.lead_id] for i in items if i.lead_id in leads]


def where_posted(session: Session, leads: list[Lead]) -> dict[int, tuple[str, str]]:
    """Where each lead is in Slack: its card, else the digest line that stands for it."""
    out: dict[int, tuple[str, str]] = {}
    for lead in leads:
        if lead.id is None:
            continue
        if lead.slack_channel and lead.slack_ts:
            out[lead.id] = (lead.slack_channel, lead.slack_ts)
            continue
        item = current_item(session, lead)
        if item is not None and item.ts:
            out[lead.id] = (item.channel, item.ts)
    return out


def forget_lead(session: Session, lead_id: int, *, now: datetime | None = None) -> int:
    """A forgotten person leaves every digest: each posted one is rendered again without them."""
    items = list(session.scalars(select(SlackDigestItem).where(ITEM.lead_id == lead_id)))
    digests = {(i.digest_id, i.channel, i.ts) for i in items if i.digest_id and i.ts}
    session.execute(delete(SlackDigestItem).where(ITEM.lead_id == lead_id))
    for digest_id, channel, ts in sorted(digests):
        enqueue(
            session,
            kind=DIGEST_UPDATE,
            lead_id=None,
            payload={"digest_id": digest_id, "channel": channel, "ts": ts},
            now=now,
        )
    return len(digests)
