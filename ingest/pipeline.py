"""One pipeline for every way in: accept (commit raw) first, then read, record, score.

`accept` is what a receiver calls before it answers the sender; `process` runs afterwards, off the
event loop. A crash between the two loses nothing: `process_pending` (run at start-up) finishes
what was accepted but not processed, and `reprocess` retries inputs that failed to parse.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.parser import BytesHeaderParser
from email.policy import compat32
from typing import Any

from sqlalchemy import exc
from sqlmodel import Session

from ingest.auth import ENVELOPE_KEY, SenderCheck, ToJudge, facts
from ingest.fit import fit_item
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
from storage.raw import (
    RawDraft,
    RawMark,
    claim_and_read,
    mark_raw,
    mark_raws,
    raw_ids_with_status,
    release_raws,
    set_envelopes,
    store_raws,
)

log = logging.getLogger("leadbot.ingest")


Reader = Callable[[RawInput, ReadContext], Inquiry | NotALead]
_MAX_UNSAVED = 10_000  # sender verdicts kept in memory until their batch is committed

INTERNAL_ERROR = "internal error"  # how a reason starts when the fault is ours, not the input's


def internal_reason(error: Exception) -> str:
    """Why an input failed through no fault of its own, for the admin: the error's type and the
    first line of its message, never the SQL statement and parameters SQLAlchemy appends (they
    carry other inputs' data) nor a database's DETAIL line."""
    if isinstance(error, exc.StatementError) and error.orig is not None:
        detail = str(error.orig)
    else:
        detail = str(error)
    first = detail.strip().split("\n", 1)[0][:300]
    return f"{INTERNAL_ERROR}: {type(error).__name__}: {first}"


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
        sender_check: SenderCheck | None = None,
    ) -> None:
        self.store = store
        self.scorer = scorer
        self.context = context or ReadContext()
        self.clock = clock
        self.sender_check = sender_check
        # Verdicts worked out but not yet committed: a batch retried input by input reuses them.
        self._verdicts: dict[int, dict[str, Any]] = {}
        self._on_announced: list[Callable[[], None]] = []

    def on_announced(self, listener: Callable[[], None]) -> None:
        """Call `listener` (from the recording thread) after each committed batch of this
        process that announced a lead: `serve` passes the outbox dispatcher's wake, so a card
        for a form post or an IMAP message goes out now, not at the dispatcher's next poll."""
        self._on_announced.append(listener)

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
        claim: bool = False,
    ) -> RawDraft:
        """Check one input and describe it for `accept_many` (`claim`: committed claimed, to be
        processed next by this process with `process_claimed`). Raises InputRejected."""
        if kind == "email":
            check_email_bytes(content)
        return RawDraft(content, kind, channel, content_type, envelope or {}, self.clock(), claim)

    def accept_many(self, drafts: Sequence[RawDraft]) -> list[tuple[int, bool]]:
        """Commit several checked inputs in one transaction: (raw id, new) for each."""
        return store_raws(self.store, drafts)

    def process(
        self, raw_id: int, *, statuses: Sequence[RawStatus] = (RawStatus.PENDING,)
    ) -> Outcome:
        """Read, record and score one stored input. Never raises for bad input: it marks it.

        An input another process holds, or no longer in `statuses`, is left alone: the outcome
        says what it is now (pending while someone else works on it)."""
        outcomes = self.process_batch([raw_id], statuses=statuses)
        if outcomes:
            return outcomes[0]
        with self.store.reading() as session:
            raw = session.get(RawInput, raw_id)
            if raw is None:
                raise LookupError(f"no raw input {raw_id}")
            return Outcome(raw_id, RawStatus(raw.status), raw.reason, raw.lead_id)

    def process_batch(
        self, raw_ids: list[int], *, statuses: Sequence[RawStatus] = (RawStatus.PENDING,)
    ) -> list[Outcome]:
        """Process several stored inputs in one transaction (what a busy receiver has queued).

        Only what this call claims (storage.raw.claim_raws): inputs still in `statuses` that no
        other worker, sweep or request holds, so each accepted input is processed once.
        Reading is pure and per input; recording shares one transaction, so a burst costs one
        commit. If recording fails unexpectedly, each input is retried alone so one bad input
        cannot hold back the others.
        """
        # Claimed and read in one transaction; the suppression check and the recording share
        # the next one on PostgreSQL: two transactions a batch.
        return self.process_claimed(claim_and_read(self.store, raw_ids, statuses=statuses))

    def process_claimed(self, raws: list[RawInput]) -> list[Outcome]:
        """Process inputs this process holds the claim of: read by `claim_and_read`, or
        committed claimed a moment ago and kept in memory (storage.raw.claimed_raw)."""
        if not raws:
            return []
        try:
            return self._process_claimed(raws)
        except BaseException:
            # Marked inputs are released already; the rest go back for the sweep at once.
            with contextlib.suppress(StoreUnavailable):  # else their claims run out after the lease
                release_raws(self.store, [raw.id or 0 for raw in raws])
            raise

    def _process_claimed(self, raws: list[RawInput]) -> list[Outcome]:
        judged = self._judge(raws)
        marks: list[Outcome] = []
        inquiries: list[tuple[int, Inquiry]] = []
        for raw in raws:
            assert raw.id is not None
            result = self._read(raw)
            if isinstance(result, Outcome):
                marks.append(result)
            else:
                inquiries.append((raw.id, result))
        auth = {raw.id: (raw.envelope or {}).get(ENVELOPE_KEY) for raw in raws}

        def unsuppressed(session: Session) -> list[Item]:
            """The items of the inquiries whose person was not forgotten with suppression on
            (not made a lead again); those are marked archived."""
            nonlocal inquiries
            gone = suppressed(session, [inq.email for _, inq in inquiries])
            if gone:
                marks.extend(
                    Outcome(raw_id, RawStatus.ARCHIVED, "suppressed: forgotten on request")
                    for raw_id, inq in inquiries
                    if inq.email in gone
                )
                inquiries = [(raw_id, inq) for raw_id, inq in inquiries if inq.email not in gone]
            return [self._item(raw_id, inq, facts(auth.get(raw_id))) for raw_id, inq in inquiries]

        try:
            now = self.clock()
            # On SQLite the Python work (profiles, scoring) runs on a snapshot before the write
            # transaction, which holds the lock every receiver needs to commit. PostgreSQL has no
            # such lock: preparing inside the transaction saves the snapshot and its re-check.
            prepared = None
            items: list[Item] = []
            if self.store.single_writer:
                with self.store.reading() as snapshot:
                    items = unsuppressed(snapshot)
                    prepared = prepare_batch(snapshot, items, scorer=self.scorer, now=now)
            with self.store.session() as session:
                if not self.store.single_writer:
                    items = unsuppressed(session)
                if judged:  # kept with the raw input, in the transaction that marks it
                    set_envelopes(session, {r.id or 0: r.envelope for r in raws if r.id in judged})
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
            if any(o.announced for o in recorded_outcomes):
                for listener in self._on_announced:
                    listener()
            for raw_id in judged:
                self._verdicts.pop(raw_id, None)
        except StoreUnavailable:
            raise
        except Exception as e:
            if len(raws) > 1:
                log.warning("batch of %d failed (%s); processing one by one", len(raws), e)
                return [o for raw in raws for o in self._process_claimed([raw])]
            log.exception("recording raw input %s failed; kept as failed", raws[0].id)
            reason = internal_reason(e)
            raw_id = raws[0].id or 0
            envelope = raws[0].envelope if raw_id in judged else None
            self._verdicts.pop(raw_id, None)
            return [self._mark(raw_id, RawStatus.FAILED, reason, envelope=envelope)]
        for outcome in [*marks, *recorded_outcomes]:
            self._log(outcome)
        return sorted([*marks, *recorded_outcomes], key=lambda o: o.raw_id)

    def _judge(self, raws: list[RawInput]) -> set[int]:
        """Who sent each email not judged before (at receipt: a reprocessed input keeps the
        verdict it got then); the verdicts go into the raws' envelopes, their ids are returned."""
        if self.sender_check is None or not self.sender_check.options.active:
            return set()
        todo = [
            r
            for r in raws
            if r.kind == "email" and r.id is not None and ENVELOPE_KEY not in (r.envelope or {})
        ]
        if len(self._verdicts) > _MAX_UNSAVED:  # left by batches the store never took: redo them
            self._verdicts.clear()
        fresh = [r for r in todo if r.id not in self._verdicts]
        self._verdicts.update(
            self.sender_check.judge_many(
                [ToJudge(r.id or 0, r.content, r.channel, r.envelope or {}) for r in fresh]
            )
        )
        for r in todo:
            r.envelope = {**(r.envelope or {}), ENVELOPE_KEY: self._verdicts[r.id or 0]}
        return {r.id or 0 for r in todo}

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
            return Outcome(raw.id, RawStatus.FAILED, internal_reason(e))
        if isinstance(result, NotALead):
            status = RawStatus.REVIEW if result.kind == "review" else RawStatus.ARCHIVED
            return Outcome(raw.id, status, f"{result.kind}: {result.reason}")
        return result

    def _mark(
        self,
        raw_id: int,
        status: RawStatus,
        reason: str,
        *,
        envelope: dict[str, Any] | None = None,
    ) -> Outcome:
        with self.store.session() as session:
            if envelope is not None:
                set_envelopes(session, {raw_id: envelope})
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
    def _item(raw_id: int, inq: Inquiry, auth_facts: dict[str, str] | None = None) -> Item:
        # Sender verdicts are facts of this one message (the activity), never of the lead.
        # Fit to the columns here, the one way every inquiry is recorded (ingest.fit).
        return fit_item(
            Item(
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
                data={
                    "subject": inq.subject,
                    "text": inq.text[:20_000],
                    "fields": {**inq.fields, **(auth_facts or {})},
                },
                forwarded_by=inq.forwarded_by,
                fields={k: v for k, v in inq.fields.items() if not k.startswith("_")},
                raw_id=raw_id,
            )
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
        """Process every input in `statuses` that nobody holds; how many this call processed."""
        with self.store.reading() as session:
            ids = raw_ids_with_status(session, *statuses)
        done = 0
        for raw_id in ids:  # one by one: a claim is held only while its input is processed
            done += len(self.process_batch([raw_id], statuses=statuses))
        return done
