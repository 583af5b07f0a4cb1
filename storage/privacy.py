"""A person's data on request: everything held about them (export), erased everywhere (forget),
and raw mail kept only as long as needed (prune).

Forgetting leaves an anonymous tombstone: the lead row keeps its id, status, score, source and
owner, and its activities keep their kind and time, so funnel counts still add up; every field
that says who the person is, what they wrote, and every raw message that holds their address is
gone. What was posted about them in Slack is redacted through the outbox (`redact`), so a Slack
outage delays it without losing it. With suppression on, a keyed hash of the address (never the
address) keeps the next newsletter reply from making them a lead again.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email import message_from_bytes
from email.message import Message
from email.policy import compat32
from typing import Any

import sqlalchemy as sa
from sqlalchemy import CursorResult, delete, select, update
from sqlmodel import Session, col

from storage import slack_digest
from storage.db import Store
from storage.errors import LeadNotFound
from storage.models import (
    Activity,
    Lead,
    Note,
    OutboxMessage,
    RawInput,
    RawStatus,
    ScoringState,
    SlackPost,
    SuppressedAddress,
    utcnow,
)
from storage.outbox import enqueue
from storage.public import activity_public, lead_detail, note_public
from storage.tracking import forget_visitors, visitors_of

REDACT = "redact"  # the outbox kind that redacts a forgotten person's Slack messages
KEY_NAME = "forget_key"
TOMBSTONE_DOMAIN = "forgotten.invalid"  # RFC 2606: never a real address
SCAN_BATCH = 200
# Raw inputs whose content may be pruned: what needs a person (review, failed) is kept.
PRUNABLE = (RawStatus.PROCESSED, RawStatus.DUPLICATE, RawStatus.ARCHIVED)


def _lead(session: Session, email: str) -> Lead:
    lead = session.scalars(select(Lead).where(col(Lead.email) == email.strip().lower())).first()
    if lead is None:
        raise LeadNotFound(f"no lead {email}")
    return lead


def _raws_of(session: Session, lead: Lead) -> list[RawInput]:
    """The raw inputs that made the lead's activities, and any other that holds the address."""
    needle = lead.email.encode()
    found: dict[int, RawInput] = {
        r.id or 0: r
        for r in session.scalars(select(RawInput).where(col(RawInput.lead_id) == lead.id))
    }
    last = 0
    while True:  # in batches: a scan of every kept input must not hold them all in memory
        batch = list(
            session.scalars(
                select(RawInput)
                .where(col(RawInput.id) > last)
                .order_by(col(RawInput.id))
                .limit(SCAN_BATCH)
            )
        )
        if not batch:
            break
        for raw in batch:
            if raw.id not in found and needle in bytes(raw.content or b"").lower():
                found[raw.id or 0] = raw
            session.expunge(raw)
        last = batch[-1].id or last
    return sorted(found.values(), key=lambda r: r.id or 0)


def _text(raw: RawInput) -> str:
    content = bytes(raw.content or b"")
    if raw.kind != "email":
        return content.decode("utf-8", "replace")
    try:
        return message_from_bytes(content, policy=compat32).as_string()
    except RecursionError:  # parts nested hundreds of levels deep: the bytes as they came
        return content.decode("utf-8", "replace")


def export_person(session: Session, email: str) -> dict[str, Any]:
    """Everything held about a person, as JSON-ready data: the lead with its scores and reasons,
    activities, notes, touches, and the raw messages as text."""
    lead = _lead(session, email)
    activities = list(session.scalars(select(Activity).where(col(Activity.lead_id) == lead.id)))
    notes = list(session.scalars(select(Note).where(col(Note.lead_id) == lead.id)))
    raws = _raws_of(session, lead)
    return {
        **lead_detail(lead, activities, notes),
        "activities": [{**activity_public(a), "data": a.data} for a in activities],
        "notes": [note_public(n) for n in notes],
        "visitor_ids": visitors_of(session, lead.id or 0),  # browsers known to be theirs
        "raw_inputs": [
            {
                "id": r.id,
                "kind": r.kind,
                "channel": r.channel,
                "received_at": r.received_at.isoformat() if r.received_at else None,
                "status": r.status,
                "envelope": r.envelope,
                "text": _text(r),
            }
            for r in raws
        ],
    }


@dataclass
class Forgotten:
    lead_id: int
    activities: int = 0
    notes: int = 0
    raw_inputs: int = 0
    slack_messages: int = 0
    suppressed: bool = False
    details: dict[str, Any] = field(default_factory=dict)


def forget_person(
    session: Session,
    email: str,
    *,
    reason: str,
    by: str,
    suppress: bool,
    now: datetime | None = None,
) -> Forgotten:
    """Erase a person; the caller commits, then calls `compact` so no bytes of them stay on disk."""
    now = now or utcnow()
    lead = _lead(session, email)
    lead_id = lead.id or 0
    address = lead.email
    raws = _raws_of(session, lead)
    raw_ids = [r.id for r in raws]
    result = Forgotten(lead_id=lead_id, raw_inputs=len(raw_ids))
    # Slack: the card becomes a neutral text, the bot's thread replies are deleted.
    cards = {
        (p.channel, p.ts)
        for p in session.scalars(select(SlackPost).where(col(SlackPost.lead_id) == lead_id))
    }
    if lead.slack_channel and lead.slack_ts:
        cards.add((lead.slack_channel, lead.slack_ts))
    replies = set()
    for message in session.scalars(
        select(OutboxMessage).where(
            col(OutboxMessage.lead_id) == lead_id, col(OutboxMessage.kind) == "thread"
        )
    ):
        posted = message.result or {}
        if posted.get("channel") and posted.get("ts"):
            replies.add((str(posted["channel"]), str(posted["ts"])))
    # Nothing left in the outbox says anything about them; what was not sent yet never will be.
    session.execute(
        delete(OutboxMessage).where(
            col(OutboxMessage.lead_id) == lead_id, col(OutboxMessage.status) != "sent"
        )
    )
    session.execute(
        update(OutboxMessage)
        .where(col(OutboxMessage.lead_id) == lead_id)
        .values(payload={}, result={})
    )
    if raw_ids:
        review_keys = [
            f"review:{i}:{s.value}" for i in raw_ids for s in (RawStatus.REVIEW, RawStatus.FAILED)
        ]
        session.execute(delete(OutboxMessage).where(col(OutboxMessage.dedup_key).in_(review_keys)))
    slack_digest.forget_lead(session, lead_id, now=now)  # its line leaves every digest
    if cards or replies:
        enqueue(
            session,
            kind=REDACT,
            lead_id=None,
            payload={"cards": sorted(map(list, cards)), "replies": sorted(map(list, replies))},
            now=now,
        )
        result.slack_messages = len(cards) + len(replies)
    # Activities keep kind, time, source and the rep who acted: funnel counts still add up.
    result.activities = _count(
        session.execute(
            update(Activity)
            .where(col(Activity.lead_id) == lead_id)
            .values(detail="", data={}, raw_id=None, dedup_key=None)
        )
    )
    session.execute(  # their own messages name them as the actor
        update(Activity)
        .where(col(Activity.lead_id) == lead_id, sa.func.lower(col(Activity.actor)) == address)
        .values(actor="forgotten")
    )
    result.notes = _count(session.execute(delete(Note).where(col(Note.lead_id) == lead_id)))
    forget_visitors(session, lead_id)  # the browsers known to be theirs (tracking)
    if raw_ids:
        session.execute(
            update(Activity).where(col(Activity.raw_id).in_(raw_ids)).values(raw_id=None)
        )
        session.execute(delete(RawInput).where(col(RawInput.id).in_(raw_ids)))
    session.execute(
        update(Lead)
        .where(col(Lead.id) == lead_id)
        .values(
            email=f"forgotten-{lead_id}@{TOMBSTONE_DOMAIN}",
            domain="",
            name=None,
            company=None,
            title=None,
            phone=None,
            country=None,
            fields={},
            first_touch=None,
            latest_touch=None,
            reasons=[],
            status_reason=None,
            score_plan=None,
            edited_fields=[],
            slack_channel=None,
            slack_ts=None,
            updated_at=now,
        )
    )
    session.add(
        Activity(
            lead_id=lead_id,
            kind="forgotten",
            occurred_at=now,
            actor=by[:320],
            detail=reason[:500],
        )
    )
    if suppress:
        digest = address_digest(session, address)
        exists = session.get(SuppressedAddress, digest)
        if exists is None:
            session.add(SuppressedAddress(digest=digest, created_at=now))
        result.suppressed = True
    return result


def _count(result: object) -> int:
    """Rows an UPDATE or DELETE touched."""
    return int(result.rowcount or 0) if isinstance(result, CursorResult) else 0


def _key(session: Session) -> bytes:
    """The suppression key, made on first use and kept in the database (never the addresses)."""
    row = session.get(ScoringState, KEY_NAME)
    if row is None:
        row = ScoringState(name=KEY_NAME, value=secrets.token_hex(32))
        session.add(row)
        session.flush()
    return bytes.fromhex(row.value)


def address_digest(session: Session, address: str) -> str:
    return hmac.new(_key(session), address.strip().lower().encode(), hashlib.sha256).hexdigest()


def suppressed(session: Session, addresses: list[str]) -> set[str]:
    """Which of these addresses were forgotten with suppression on (one query; none when no one
    was)."""
    if not addresses or session.scalar(select(sa.func.count()).select_from(SuppressedAddress)) == 0:
        return set()
    digests = {address_digest(session, a): a for a in addresses}
    stmt = select(col(SuppressedAddress.digest)).where(
        col(SuppressedAddress.digest).in_(list(digests))
    )
    return {digests[d] for d in session.scalars(stmt)}


def compact(store: Store) -> None:
    """After a forget: no freed page, index segment or log frame still holds what was erased.

    SQLite: the search index is merged (FTS5 keeps deleted terms in old segments until then), the
    free pages are overwritten (VACUUM) and the write-ahead log truncated. PostgreSQL: the touched
    tables are rewritten (VACUUM FULL: dead row versions stay in the files until then; it locks
    each table for the seconds the rewrite takes).
    """
    if store.dialect == "sqlite":
        # The driver connection itself: SQLAlchemy's begin hook would open a transaction, and
        # VACUUM cannot run inside one (pysqlite autocommits with isolation_level None).
        raw = store.engine.raw_connection()
        try:
            cur = raw.cursor()
            if cur.execute("SELECT 1 FROM sqlite_master WHERE name = 'lead_search'").fetchone():
                cur.execute("INSERT INTO lead_search(lead_search) VALUES ('optimize')")
            cur.execute("VACUUM")
            cur.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            cur.close()
        finally:
            raw.close()
    elif store.dialect == "postgresql":
        with store.engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            for name in ("lead", "activity", "note", "raw_input", "outbox", "tracking_visitor"):
                conn.exec_driver_sql(f"VACUUM FULL {name}")


def prune_raw(session: Session, *, days: float, now: datetime | None = None) -> tuple[int, int]:
    """Raw inputs past retention: attachments dropped at half of `days`, the whole content at
    `days` (the row stays: its hash and Message-ID still deduplicate a resend). Inputs that wait
    for a person are kept. Returns (stripped, emptied)."""
    now = now or utcnow()
    emptied = _count(
        session.execute(
            update(RawInput)
            .where(
                col(RawInput.status).in_([s.value for s in PRUNABLE]),
                col(RawInput.received_at) < now - timedelta(days=days),
                col(RawInput.size) > 0,
            )
            .values(content=b"", size=0, envelope={"pruned_at": now.isoformat()})
        )
    )
    stripped = 0
    half = now - timedelta(days=days / 2)
    candidates = select(col(RawInput.id)).where(
        col(RawInput.status).in_([s.value for s in PRUNABLE]),
        col(RawInput.received_at) < half,
        col(RawInput.kind) == "email",
        col(RawInput.size) > 0,
        ~sa.cast(col(RawInput.envelope), sa.String).contains("attachments_dropped"),
    )
    for raw_id in list(session.scalars(candidates)):
        raw = session.get(RawInput, raw_id)
        if raw is None:
            continue
        smaller = without_attachments(bytes(raw.content))
        raw.envelope = {**(raw.envelope or {}), "attachments_dropped": now.isoformat()}
        if smaller is not None:
            raw.content, raw.size = smaller, len(smaller)
            stripped += 1
    return stripped, emptied


def without_attachments(content: bytes) -> bytes | None:
    """The message with every attachment part replaced by a one-line note; None when it has none."""
    try:
        msg = message_from_bytes(content, policy=compat32)
        return _dropped(msg)
    except RecursionError:  # nested hundreds of levels deep: kept whole rather than lost
        return None


def _dropped(msg: Message) -> bytes | None:
    dropped = False
    for part in msg.walk():
        if part.is_multipart():
            continue
        disposition = str(part.get("Content-Disposition") or "").lower()
        maintype = part.get_content_maintype()
        if "attachment" in disposition or maintype not in ("text", "multipart", "message"):
            name = part.get_filename() or "attachment"
            for header in ("Content-Disposition", "Content-Transfer-Encoding", "Content-Type"):
                del part[header]
            part["Content-Type"] = "text/plain; charset=utf-8"
            part.set_payload(f"[attachment {name} removed after the retention period]\n")
            dropped = True
    return msg.as_bytes() if dropped else None


__all__ = [
    "REDACT",
    "Forgotten",
    "address_digest",
    "compact",
    "export_person",
    "forget_person",
    "prune_raw",
    "suppressed",
]
