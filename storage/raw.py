"""The raw-input archive: every accepted email or submission is committed here before we answer."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Select, select, update
from sqlalchemy.orm import defer
from sqlmodel import Session, col

from storage.columns import fit, fit_json
from storage.db import Store, insert_ignore_many, table
from storage.errors import InputRejected
from storage.models import OutboxMessage, RawInput, RawStatus, utcnow
from storage.outbox import enqueue_many, message

_RAW = table(RawInput)


@dataclass(frozen=True)
class RawDraft:
    """One input to commit: what `store_raws` stores besides the digest, size and status."""

    content: bytes
    kind: str
    channel: str
    content_type: str | None = None
    envelope: dict[str, Any] = field(default_factory=dict)
    received_at: datetime | None = None
    # Committed already claimed (storage.raw.claim_raws) by the process that commits it, which
    # processes it next from memory (`claimed_raw`): no claim and no read of its own, and the
    # pending sweep never takes it in between. Its claim runs out after the lease as any other.
    claim: bool = False


def store_raws(store: Store, drafts: Sequence[RawDraft]) -> list[tuple[int, bool]]:
    """Commit several inputs in one transaction: (raw id, True if new) for each, in order.

    What several SMTP sessions accepted at the same moment share one commit (one fsync on
    PostgreSQL, one write-lock handover on SQLite). The same bytes twice, in the batch or
    before it, are stored once: the first copy is new, every other one names its id.
    """
    with store.transaction() as conn:
        return store_raws_on(conn, drafts)


def store_raws_on(conn: sa.Connection, drafts: Sequence[RawDraft]) -> list[tuple[int, bool]]:
    """`store_raws` in the caller's transaction (with other work that must commit with it)."""
    digests = [hashlib.sha256(d.content).hexdigest() for d in drafts]
    rows: dict[str, dict[str, Any]] = {}
    now = utcnow()
    for digest, d in zip(digests, drafts, strict=True):
        if digest not in rows:
            rows[digest] = {**_values(d, digest), "claimed_at": now if d.claim else None}
    if conn.dialect.name == "sqlite":
        made = _insert_sqlite(conn, list(rows.values()))
    else:
        made = {
            str(sha): int(i)
            for i, sha in insert_ignore_many(conn, _RAW, list(rows.values()), "sha256")
        }
    known = [sha for sha in rows if sha not in made]
    found: dict[str, int] = {}
    if known:
        stmt = select(_RAW.c.sha256, _RAW.c.id).where(_RAW.c.sha256.in_(known))
        found = {str(sha): int(i) for sha, i in conn.execute(stmt)}
    out: list[tuple[int, bool]] = []
    for digest in digests:
        if digest in made:
            out.append((made.pop(digest), True))  # popped: a later copy in the batch is not new
            found[digest] = out[-1][0]
        else:
            out.append((found[digest], False))
    return out


def _values(d: RawDraft, digest: str) -> dict[str, Any]:
    """The columns of a draft as stored."""
    return {
        "kind": fit(_RAW.c.kind, d.kind),
        "channel": fit(_RAW.c.channel, d.channel),
        "sha256": digest,
        "content": d.content,
        "content_type": fit(_RAW.c.content_type, d.content_type or "") or None,
        "size": len(d.content),
        "envelope": fit_json(d.envelope),
        "received_at": d.received_at or utcnow(),
    }


def claimed_raw(raw_id: int, draft: RawDraft) -> RawInput:
    """The input `store_raws` committed new for a claiming `draft` (RawDraft.claim), as a
    detached row: what `claim_and_read` would have read, without the statements."""
    assert draft.claim and draft.received_at is not None, "a claiming draft with its time"
    values = _values(draft, hashlib.sha256(draft.content).hexdigest())
    return RawInput(id=raw_id, status=RawStatus.PENDING, attempts=0, **values)


_SQLITE_INSERT = (
    "INSERT INTO raw_input (kind, channel, sha256, content, content_type, size, envelope,"
    " received_at, claimed_at, status, attempts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0)"
    " ON CONFLICT (sha256) DO NOTHING RETURNING id"
)


def _sqlite_time(at: datetime) -> str:
    return (
        (at.astimezone(UTC) if at.tzinfo else at)
        .replace(tzinfo=None)
        .strftime("%Y-%m-%d %H:%M:%S.%f")
    )


def _insert_sqlite(conn: sa.Connection, rows: list[dict[str, Any]]) -> dict[str, int]:
    """The INSERT on the DBAPI cursor: SQLAlchemy's execution costs twice SQLite's own work."""
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    made: dict[str, int] = {}
    try:
        for r in rows:
            claimed = r["claimed_at"]
            cursor.execute(
                _SQLITE_INSERT,
                (
                    r["kind"], r["channel"], r["sha256"], r["content"], r["content_type"],
                    r["size"], json.dumps(r["envelope"]), _sqlite_time(r["received_at"]),
                    None if claimed is None else _sqlite_time(claimed),
                ),
            )  # fmt: skip
            row = cursor.fetchone()
            if row is not None:
                made[r["sha256"]] = int(row[0])
    finally:
        cursor.close()
    return made


def mark_raw(
    session: Session,
    raw_id: int,
    *,
    status: RawStatus,
    reason: str | None = None,
    lead_id: int | None = None,
    message_id: str | None = None,
) -> None:
    values: dict[str, Any] = {
        "status": status,
        "reason": fit(_RAW.c.reason, reason[:2000]) if reason else None,
        "processed_at": utcnow(),
        "attempts": col(RawInput.attempts) + 1,
        "claimed_at": None,
    }
    if lead_id is not None:
        values["lead_id"] = lead_id
    if message_id is not None:
        values["message_id"] = message_id[:998]
    session.execute(update(RawInput).where(col(RawInput.id) == raw_id).values(**values))
    tell_a_person(session, [RawMark(raw_id, status, reason)])


def raw_ids_with_status(session: Session, *statuses: RawStatus, limit: int = 10_000) -> list[int]:
    stmt = (
        select(col(RawInput.id))
        .where(col(RawInput.status).in_(list(statuses)))
        .order_by(col(RawInput.id))
        .limit(limit)
    )
    return [i for i in session.scalars(stmt) if i is not None]


CLAIM_LEASE_S = 300.0  # a claim older than this is taken to be a dead process's, and retaken


def claim_raws(
    store: Store,
    raw_ids: Sequence[int],
    *,
    statuses: Sequence[RawStatus] = (RawStatus.PENDING,),
    lease_s: float = CLAIM_LEASE_S,
) -> list[int]:
    """Take inputs to process: those of `raw_ids` still in one of `statuses` that nobody holds
    (or whose holder's claim is older than the lease). One UPDATE, so of two processes claiming
    the same input exactly one gets it (PostgreSQL re-checks the WHERE after the row lock; SQLite
    has one writer). The claim ends when the input is marked (`mark_raws`) or released."""
    if not raw_ids:
        return []
    with store.transaction() as conn:
        return sorted(int(i) for i in conn.execute(_claim(raw_ids, statuses, lease_s)).scalars())


def claim_and_read(
    store: Store,
    raw_ids: Sequence[int],
    *,
    statuses: Sequence[RawStatus] = (RawStatus.PENDING,),
    lease_s: float = CLAIM_LEASE_S,
) -> list[RawInput]:
    """`claim_raws`, and the inputs it claimed read (detached, in id order), in the claim's own
    transaction: one checkout and one commit instead of two for a batch to process."""
    if not raw_ids:
        return []
    with store.session() as session:
        claimed = list(session.execute(_claim(raw_ids, statuses, lease_s)).scalars())
        if not claimed:
            return []
        stmt = select(RawInput).where(col(RawInput.id).in_(claimed)).order_by(col(RawInput.id))
        raws = list(session.scalars(stmt))
        for raw in raws:
            session.expunge(raw)
    return raws


def _claim(raw_ids: Sequence[int], statuses: Sequence[RawStatus], lease_s: float) -> Any:
    """The UPDATE … RETURNING id that claims those of `raw_ids` nobody holds."""
    now = utcnow()
    return (
        update(_RAW)
        .where(
            _RAW.c.id.in_(list(raw_ids)),
            _RAW.c.status.in_([s.value for s in statuses]),
            sa.or_(
                _RAW.c.claimed_at.is_(None), _RAW.c.claimed_at < now - timedelta(seconds=lease_s)
            ),
        )
        .values(claimed_at=now)
        .returning(_RAW.c.id)
    )


def release_raws(store: Store, raw_ids: Sequence[int]) -> None:
    """Give up claims without marking the inputs (processing could not finish): the next sweep
    takes them at once instead of after the lease."""
    if raw_ids:
        with store.transaction() as conn:
            conn.execute(update(_RAW).where(_RAW.c.id.in_(list(raw_ids))).values(claimed_at=None))


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
            "b_reason": fit(_RAW.c.reason, m.reason[:2000]) if m.reason else None,
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
            "claimed_at": None,
        }
        if has_lead:
            values["lead_id"] = sa.bindparam("b_lead")
        if has_msgid:
            values["message_id"] = sa.bindparam("b_msgid")
        stmt = sa.update(raw).where(raw.c.id == sa.bindparam("b_id")).values(**values)
        session.connection().execute(stmt, rows)
    tell_a_person(session, marks)


# --- inputs a person has to look at ---------------------------------------------------------------

NEEDS_A_PERSON = (RawStatus.REVIEW, RawStatus.FAILED)


HEAD_BYTES = 65536  # enough of a message for its header fields
NOTICE = "review"  # the outbox kind that tells a person an input waits for them


def tell_a_person(session: Session, marks: Sequence[RawMark]) -> None:
    """No input waits unseen: each one newly kept for review or failed gets an outbox notice, in
    the transaction that marks it (the rep who forwarded it or the managers are told; without
    Slack, the log). One notice per input and status: reading it again does not nag."""
    at = utcnow()
    notices = [
        message(
            kind=NOTICE,
            lead_id=None,
            payload={
                "raw_id": m.raw_id,
                "status": m.status.value,
                "reason": (m.reason or "")[:500],
            },
            dedup_key=f"{NOTICE}:{m.raw_id}:{m.status.value}",
            now=at,
        )
        for m in marks
        if m.status in NEEDS_A_PERSON
    ]
    if notices:
        enqueue_many(session, notices)


def _waiting_with_head() -> Select[tuple[RawInput, bytes]]:
    """Inputs waiting for a person, each with the first HEAD_BYTES of its content (a list or a
    notice needs the headers, not messages of up to 25 MB)."""
    head = sa.func.substr(RawInput.content, 1, HEAD_BYTES)
    return (
        select(RawInput, head)
        .options(defer(RawInput.content))  # type: ignore[arg-type]
        .where(col(RawInput.status).in_([s.value for s in NEEDS_A_PERSON]))
    )


def kept_head(session: Session, raw_id: int) -> tuple[RawInput, bytes] | None:
    """One input still waiting for a person, with the head of its content; None once it is not."""
    found = session.execute(_waiting_with_head().where(col(RawInput.id) == raw_id)).first()
    return None if found is None else (found[0], bytes(found[1] or b""))


@dataclass(frozen=True)
class Attention:
    """What a manager should look at: inputs waiting for a person, and undeliverable messages."""

    review: int
    failed: int
    dead: int
    oldest: list[tuple[RawInput, bytes]]  # the oldest few waiting, with their heads


def attention(session: Session, *, limit: int = 5) -> Attention:
    counts = dict(
        session.execute(
            select(col(RawInput.status), sa.func.count())
            .where(col(RawInput.status).in_(list(NEEDS_A_PERSON)))
            .group_by(col(RawInput.status))
        ).all()
    )
    dead = session.scalar(
        select(sa.func.count())
        .select_from(OutboxMessage)
        .where(col(OutboxMessage.status) == "dead")
    )
    return Attention(
        review=int(counts.get(RawStatus.REVIEW, 0)),
        failed=int(counts.get(RawStatus.FAILED, 0)),
        dead=int(dead or 0),
        oldest=needing_review(session, limit=limit),
    )


def needing_review(session: Session, *, limit: int = 1000) -> list[tuple[RawInput, bytes]]:
    """Inputs kept for review or failed, oldest first, each with the head of its content."""
    stmt = _waiting_with_head().order_by(col(RawInput.id)).limit(limit)
    return [(raw, bytes(first or b"")) for raw, first in session.execute(stmt)]


def raw_for_review(session: Session, raw_id: int) -> RawInput:
    """One input kept for review or failed; InputRejected when there is none such."""
    raw = session.get(RawInput, raw_id)
    if raw is None:
        raise InputRejected(f"no input {raw_id}")
    if raw.status not in NEEDS_A_PERSON:
        raise InputRejected(f"input {raw_id} is {raw.status}, not waiting for review")
    return raw


def resolve_review(session: Session, raw_id: int, *, email: str, name: str | None, by: str) -> None:
    """Name the sender a person found for a kept input: it goes back to pending, and reading it
    again makes that person the lead (`envelope["resolved_sender"]`)."""
    raw = raw_for_review(session, raw_id)
    envelope = {**(raw.envelope or {}), "resolved_sender": {"email": email, "name": name, "by": by}}
    session.execute(
        update(RawInput)
        .where(col(RawInput.id) == raw_id)
        .values(envelope=envelope, status=RawStatus.PENDING, reason=None)
    )


def dismiss_review(session: Session, raw_id: int, *, reason: str, by: str) -> None:
    """A kept input a person decided is not a lead: archived with their reason."""
    raw_for_review(session, raw_id)
    mark_raw(session, raw_id, status=RawStatus.ARCHIVED, reason=f"dismissed by {by}: {reason}")


def set_envelopes(session: Session, envelopes: Mapping[int, dict[str, Any]]) -> None:
    """Replace the envelopes of raw inputs (what was learnt about them after receipt, such as the
    sender verdicts of ingest.auth), in one executemany."""
    if not envelopes:
        return
    raw = table(RawInput)
    stmt = (
        sa.update(raw)
        .where(raw.c.id == sa.bindparam("b_id"))
        .values(envelope=sa.bindparam("b_env"))
    )
    session.connection().execute(
        stmt, [{"b_id": raw_id, "b_env": env} for raw_id, env in envelopes.items()]
    )
