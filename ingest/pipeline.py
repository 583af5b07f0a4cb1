"""One pipeline for every way in: accept (commit raw) first, then read, record, score.

`accept` is what a receiver calls before it answers the sender; `process` runs afterwards, off the
event loop. A crash between the two loses nothing: `process_pending` (run at start-up) finishes
what was accepted but not processed, and `reprocess` retries inputs that failed to parse.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.parser import BytesHeaderParser
from email.policy import compat32
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from ingest.forms.reader import read_form
from ingest.inquiry import Inquiry, NotALead, ReadContext
from ingest.intake import Item, Prepared, prepare_batch
from ingest.mail import read_email
from ingest.tracking.record import record_inquiries
from scoring.types import Scorer
from storage.db import Store
from storage.errors import InputRejected, ParseError, StoreUnavailable
from storage.models import RawInput, RawStatus, utcnow
from storage.privacy import suppressed
from storage.raw import RawDraft, RawMark, mark_raw, mark_raws, raw_ids_with_status, store_raws

log = logging.getLogger("leadbot.ingest")


Reader = Callable[[RawInput, ReadContext], Inquiry | NotALead]


def _read_email(raw: RawInput, ctx: ReadContext) -> Inquiry | NotALead:
    return read_email(
        raw.content,
        internal_domains=ctx.internal_domains,
        received_at=raw.received_at,
        max_parts=ctx.max_parts,
        resolved=(raw.envelope or {}).get("resolved_sender"),
    )


# How each kind of stored raw input is read: every way in stores "email" or "form".
READERS: dict[str, Reader] = {"email": _read_email, "form": read_form}


_HEAD = 65536  # how much of a message the check reads
_FIELD = re.compile(rb"[\x21-\x39\x3b-\x7e]+:")  # a header field name and its colon (RFC 5322)


def check_email_bytes(content: bytes) -> None:
    """Refuse, before storing, only what cannot be a message at all (empty, or no header field).

    Anything with a header is kept, even without a From: parsing then marks it failed with the
    reason, and it can be reprocessed (a sender is never bounced for a message we could read).
    Runs on the receiver's event loop for every message, so it reads at most the first 64 KiB,
    and two header fields at the top settle it without the parser.
    """
    head = content[: _HEAD + 4096].lstrip()
    if len(head) < _HEAD and len(content) > _HEAD + 4096:  # a long blank run first: exactly
        head = content.lstrip()
    if not head:
        raise InputRejected("empty message")
    head = head[:_HEAD].split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0]
    if head.startswith(b"From "):  # an mbox separator line before the headers
        head = head.partition(b"\n")[2]
    first = head.split(b"\n", 2)
    if len(first) >= 2 and _FIELD.match(first[0]) and _FIELD.match(first[1]):
        return  # the parser would find at least these two fields
    headers = BytesHeaderParser(policy=compat32).parsebytes(head + b"\n\n", headersonly=True)
    if not headers.keys() or (headers.defects and len(headers.keys()) < 2):
        raise InputRejected("not an RFC 5322 message: no header fields")


@dataclass
class Outcome:
    raw_id: int
    status: RawStatus
    reason: str | None = None
    lead_id: int | None = None
    announced: bool = False


class Pipeline:
    """Accepts raw input and turns it into leads, activities, scores and announcements."""

    def __init__(
        self,
        store: Store,
        *,
        scorer: Scorer,
        context: ReadContext | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.scorer = scorer
        self.context = context or ReadContext()
        self.clock = clock

    def accept(self, content: bytes, **options: Any) -> tuple[int, bool]:
        """Commit the raw input (options as for `draft`). Raises StoreUnavailable (retry later)
        or InputRejected."""
        return self.accept_many([self.draft(content, **options)])[0]

    def draft(
        self,
        content: bytes,
        *,
        kind: str = "email",
        channel: str = "smtp",
        content_type: str | None = None,
        envelope: dict[str, Any] | None = None,
    ) -> RawDraft:
        """Check one input and describe it for `accept_many`. Raises InputRejected."""
        if kind == "email":
            check_email_bytes(content)
        return RawDraft(content, kind, channel, content_type, envelope or {}, self.clock())

    def accept_many(self, drafts: Sequence[RawDraft]) -> list[tuple[int, bool]]:
        """Commit several checked inputs in one transaction: (raw id, new) for each."""
        return store_raws(self.store, drafts)

    def process(self, raw_id: int) -> Outcome:
        """Read, record and score one stored input. Never raises for bad input: it marks it."""
        outcomes = self.process_batch([raw_id])
        if not outcomes:
            raise LookupError(f"no raw input {raw_id}")
        return outcomes[0]

    def process_batch(self, raw_ids: list[int]) -> list[Outcome]:
        """Process several stored inputs in one transaction (what a busy receiver has queued).

        Reading is pure and per input; recording shares one transaction, so a burst costs one
        commit. If recording fails unexpectedly, each input is retried alone so one bad input
        cannot hold back the others.
        """
        with self.store.reading() as session:
            raws = list(
                session.scalars(
                    select(RawInput).where(col(RawInput.id).in_(raw_ids)).order_by(col(RawInput.id))
                )
            )
            for raw in raws:
                session.expunge(raw)
        marks: list[Outcome] = []
        inquiries: list[tuple[int, Inquiry]] = []
        for raw in raws:
            assert raw.id is not None
            result = self._read(raw)
            if isinstance(result, Outcome):
                marks.append(result)
            else:
                inquiries.append((raw.id, result))
        if inquiries:  # a person forgotten with suppression on is not made a lead again
            with self.store.reading() as session:
                gone = suppressed(session, [inq.email for _, inq in inquiries])
            if gone:
                marks += [
                    Outcome(raw_id, RawStatus.ARCHIVED, "suppressed: forgotten on request")
                    for raw_id, inq in inquiries
                    if inq.email in gone
                ]
                inquiries = [(raw_id, inq) for raw_id, inq in inquiries if inq.email not in gone]
        try:
            items = [self._item(raw_id, inq) for raw_id, inq in inquiries]
            now = self.clock()
            # On SQLite the Python work (profiles, scoring) runs on a snapshot before the write
            # transaction, which holds the lock every receiver needs to commit. PostgreSQL has no
            # such lock: preparing inside the transaction saves the snapshot and its re-check.
            prepared = None
            if self.store.single_writer:
                with self.store.reading() as snapshot:
                    prepared = prepare_batch(snapshot, items, scorer=self.scorer, now=now)
            with self.store.session() as session:
                recorded = self._record_all(session, items, now=now, prepared=prepared)
                mark_raws(
                    session,
                    [RawMark(m.raw_id, m.status, m.reason) for m in marks]
                    + [
                        RawMark(o.raw_id, o.status, o.reason, o.lead_id, msgid)
                        for o, msgid in recorded
                    ],
                )
            recorded_outcomes = [o for o, _ in recorded]
        except StoreUnavailable:
            raise
        except Exception as e:
            if len(raws) > 1:
                log.warning("batch of %d failed (%s); processing one by one", len(raws), e)
                return [o for raw in raws for o in self.process_batch([raw.id or 0])]
            log.exception("recording raw input %s failed; kept as failed", raws[0].id)
            reason = f"internal error: {type(e).__name__}: {e}"
            return [self._mark(raws[0].id or 0, RawStatus.FAILED, reason)]
        for outcome in [*marks, *recorded_outcomes]:
            self._log(outcome)
        return sorted([*marks, *recorded_outcomes], key=lambda o: o.raw_id)

    def _read(self, raw: RawInput) -> Inquiry | Outcome:
        assert raw.id is not None
        reader = READERS.get(raw.kind)
        try:
            if reader is None:
                raise ParseError(f"no reader for input kind {raw.kind!r}")
            result = reader(raw, self.context)
        except ParseError as e:
            return Outcome(raw.id, RawStatus.FAILED, str(e))
        except Exception as e:  # a parser bug must not lose the message: keep it, say why
            log.exception("reading raw input %s failed", raw.id)
            return Outcome(raw.id, RawStatus.FAILED, f"internal error: {type(e).__name__}: {e}")
        if isinstance(result, NotALead):
            status = RawStatus.REVIEW if result.kind == "review" else RawStatus.ARCHIVED
            return Outcome(raw.id, status, f"{result.kind}: {result.reason}")
        return result

    def _mark(self, raw_id: int, status: RawStatus, reason: str) -> Outcome:
        with self.store.session() as session:
            mark_raw(session, raw_id, status=status, reason=reason)
        outcome = Outcome(raw_id, status, reason)
        self._log(outcome)
        return outcome

    @staticmethod
    def _log(outcome: Outcome) -> None:
        if outcome.status in (RawStatus.PROCESSED, RawStatus.DUPLICATE):
            log.info(
                "raw input %s -> lead %s (%s)%s",
                outcome.raw_id,
                outcome.lead_id,
                outcome.status.value,
                " announced" if outcome.announced else "",
            )
        else:
            log.info("raw input %s %s: %s", outcome.raw_id, outcome.status.value, outcome.reason)

    @staticmethod
    def _item(raw_id: int, inq: Inquiry) -> Item:
        return Item(
            email=inq.email,
            kind=inq.kind,
            source=inq.source,
            occurred_at=inq.occurred_at,
            dedup_key=inq.dedup_key,
            profile={
                "name": inq.name,
                "company": inq.company,
                "title": inq.title,
                "phone": inq.phone,
                "country": inq.country,
            },
            detail=(inq.subject or inq.text[:200]).strip()[:500],
            data={"subject": inq.subject, "text": inq.text[:20_000], "fields": inq.fields},
            forwarded_by=inq.forwarded_by,
            fields={k: v for k, v in inq.fields.items() if not k.startswith("_")},
            raw_id=raw_id,
        )

    def _record_all(
        self, session: Session, items: list[Item], *, now: datetime, prepared: Prepared | None
    ) -> list[tuple[Outcome, str | None]]:
        """Record and score the batch (ingest.intake; a form's visitor joins the lead through
        ingest.tracking); each outcome with its Message-ID."""
        results = record_inquiries(session, items, scorer=self.scorer, now=now, prepared=prepared)
        out: list[tuple[Outcome, str | None]] = []
        for item, res in zip(items, results, strict=True):
            assert item.raw_id is not None  # every inquiry comes from a raw input
            key = item.dedup_key
            msgid = key[6:] if key.startswith("msgid:") else None
            if res.duplicate:
                reason = f"same message as an earlier one ({key[:80]})"
                out.append((Outcome(item.raw_id, RawStatus.DUPLICATE, reason, res.lead_id), msgid))
            else:
                outcome = Outcome(
                    item.raw_id, RawStatus.PROCESSED, None, res.lead_id, res.announced
                )
                out.append((outcome, msgid))
        return out

    def process_safely(self, raw_id: int) -> Outcome | None:
        """For background workers: a store outage leaves the input pending for the next start."""
        try:
            return self.process(raw_id)
        except StoreUnavailable as e:
            log.warning("raw input %s left pending: %s", raw_id, e)
        except Exception:
            log.exception("processing raw input %s failed; it stays pending", raw_id)
        return None

    def process_pending(self) -> int:
        """Finish everything accepted but not processed (after a crash or an outage)."""
        return self._run_all(RawStatus.PENDING)

    def reprocess_failed(self) -> int:
        return self._run_all(RawStatus.FAILED, RawStatus.REVIEW)

    def _run_all(self, *statuses: RawStatus) -> int:
        with self.store.session() as session:
            ids = raw_ids_with_status(session, *statuses)
        for raw_id in ids:
            self.process(raw_id)
        return len(ids)
