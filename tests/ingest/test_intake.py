"""A batch recorded at once (ingest.intake, storage.batch) leaves exactly the rows of one-by-one recording."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import Session

from ingest.inquiry import Inquiry
from ingest.intake import Item, prepare_batch, record_batch
from ingest.pipeline import READERS, Pipeline
from scoring.rules import load_rules
from storage.db import Store
from storage.models import Activity, Lead, OutboxMessage, RawInput, RawStatus
from storage.raw import mark_raw
from tests.reference import record_inquiry, score_lead

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
HOT = "We would like pricing and a quote for 40 seats, and a demo next week.\nBudget approved.\n"
PLAIN = "Does your product work with shared inboxes?\n"


def message(tag: str, who: str, msgid: str, body: str, *, extra: str = "", name: str = "") -> bytes:
    msg = EmailMessage()
    msg["From"] = f"{name or who.title()} <{who}.{tag}@acme.example>"
    msg["To"] = "leads@leads.example.com"
    msg["Subject"] = "Pricing for 40 seats" if body == HOT else "Question about inboxes"
    msg["Message-ID"] = f"<{msgid}.{tag}@acme.example>"
    minute = {"m5": 1}.get(msgid, int(msgid[1:]) * 2)  # m5 arrives late: written before m4
    msg["Date"] = f"Mon, 23 Nov 2026 09:{minute:02d}:00 +0000"
    if extra:
        msg["X-Copy"] = extra  # other bytes, same Message-ID: a second delivery of one message
    msg.set_content(f"Hello,\n\n{body}\nThanks,\n{name or who.title()}\n")
    return msg.as_bytes()


def scenario(tag: str) -> tuple[list[bytes], list[bytes]]:
    """(seed, batch): the seed makes an existing lead; the batch repeats messages and people."""
    seed = [message(tag, "carol", "m0", PLAIN)]
    batch = [
        message(tag, "alice", "m1", PLAIN),
        message(tag, "alice", "m1", PLAIN, extra="again"),  # same Message-ID twice: one activity
        message(tag, "bob", "m2", PLAIN),
        message(tag, "bob", "m3", HOT, name="Bob Builder"),  # same new person twice: one lead
        message(tag, "carol", "m0", PLAIN, extra="late copy"),  # seen before the batch
        message(tag, "carol", "m4", HOT, name="Carol Jones"),  # existing lead turns hot
        message(tag, "carol", "m5", HOT),  # hot again in the same batch: announced once
    ]
    return seed, batch


def reference(pipeline: Pipeline, raw_id: int) -> None:
    """The per-inquiry path: record_inquiry, score_lead, mark_raw, as the pipeline did before."""
    with pipeline.store.session() as session:
        raw = session.get(RawInput, raw_id)
        assert raw is not None
        inq = READERS[raw.kind](raw, pipeline.context)
        assert isinstance(inq, Inquiry)
        msgid = inq.dedup_key[6:] if inq.dedup_key.startswith("msgid:") else None
        rec = record_inquiry(
            session,
            email=inq.email,
            kind=inq.kind,
            source=inq.source,
            occurred_at=inq.occurred_at,
            dedup_key=inq.dedup_key,
            profile={k: getattr(inq, k) for k in ("name", "company", "title", "phone", "country")},
            detail=(inq.subject or inq.text[:200]).strip()[:500],
            data={"subject": inq.subject, "text": inq.text[:20_000], "fields": inq.fields},
            forwarded_by=inq.forwarded_by,
            fields={k: v for k, v in inq.fields.items() if not k.startswith("_")},
            raw_id=raw_id,
            now=NOW,
        )
        if rec.duplicate:
            reason = f"same message as an earlier one ({inq.dedup_key[:80]})"
            status = RawStatus.DUPLICATE
            mark_raw(
                session, raw_id, status=status, reason=reason, lead_id=rec.lead.id, message_id=msgid
            )
            return
        score_lead(session, lead=rec.lead, scorer=pipeline.scorer, now=NOW)
        mark_raw(session, raw_id, status=RawStatus.PROCESSED, lead_id=rec.lead.id, message_id=msgid)


def snapshot(session: Session, tag: str) -> dict[str, Any]:
    """Every row the scenario `tag` produced, ids replaced by emails and the tag by `T`."""
    leads = {x.id: x for x in session.scalars(select(Lead)) if tag in x.email}
    email = {i: x.email for i, x in leads.items()}
    out: dict[str, Any] = {
        "leads": sorted(repr(x.model_dump(exclude={"id"})) for x in leads.values()),
        "activities": sorted(
            repr((email[a.lead_id], a.model_dump(exclude={"id", "lead_id", "raw_id"})))
            for a in session.scalars(select(Activity))
            if a.lead_id in email
        ),
        "raw": sorted(
            repr((r.status, r.reason, r.message_id, email.get(r.lead_id or 0), r.attempts))
            for r in session.scalars(select(RawInput))
            if tag in r.content.decode()
        ),
        "outbox": sorted(
            (o.kind, email[o.lead_id])
            for o in session.scalars(select(OutboxMessage))
            if o.lead_id in email
        ),
    }
    return {k: [str(v).replace(tag, "T") for v in rows] for k, rows in out.items()}


def seeded(store: Store, *tags: str) -> tuple[Pipeline, dict[str, list[int]]]:
    """A pipeline, each tag's seed recorded one by one, and each tag's batch accepted (raw ids)."""
    pipeline = Pipeline(store, scorer=load_rules(hot_threshold=30), clock=lambda: NOW)
    runs: dict[str, list[int]] = {}
    for tag in tags:
        seed, batch = scenario(tag)
        for content in seed:
            reference(pipeline, pipeline.accept(content)[0])
        runs[tag] = [pipeline.accept(content)[0] for content in batch]
    return pipeline, runs


def test_a_batch_with_repeats_gives_the_rows_of_one_by_one(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    pipeline, runs = seeded(store, "batchx", "singlx")
    with caplog.at_level(logging.WARNING, logger="leadbot.ingest"):
        outcomes = pipeline.process_batch(runs["batchx"])
    assert "one by one" not in caplog.text  # recorded as one batch, not by the fallback
    for raw_id in runs["singlx"]:
        reference(pipeline, raw_id)

    assert [o.status for o in outcomes] == [
        RawStatus.PROCESSED,
        RawStatus.DUPLICATE,
        RawStatus.PROCESSED,
        RawStatus.PROCESSED,
        RawStatus.DUPLICATE,
        RawStatus.PROCESSED,
        RawStatus.PROCESSED,
    ]
    assert [o.announced for o in outcomes].count(True) == 2  # bob and carol, carol only once
    assert outcomes[0].lead_id == outcomes[1].lead_id
    assert outcomes[2].lead_id == outcomes[3].lead_id
    with store.session() as session:
        got, want = snapshot(session, "batchx"), snapshot(session, "singlx")
    assert len(got["leads"]) == 3
    assert len(got["outbox"]) == 2
    assert any("score_changed" in a for a in got["activities"])
    assert got == want


def items_of(pipeline: Pipeline, raw_ids: list[int]) -> list[Item]:
    with pipeline.store.session() as session:
        raws = [session.get(RawInput, i) for i in raw_ids]
    out = []
    for raw in raws:
        assert raw is not None and raw.id is not None
        inq = READERS[raw.kind](raw, pipeline.context)
        assert isinstance(inq, Inquiry)
        out.append(Pipeline._item(raw.id, inq))
    return out


def test_rows_made_stale_by_another_writer_are_prepared_again(store: Store) -> None:
    """The batch is prepared on a snapshot; another connection then records two of its messages
    (creating a person the plan thought new, and changing an existing lead's history). The
    write sees it and prepares again inside its transaction: the rows are those of one by one."""
    pipeline, runs = seeded(store, "stalex", "singlx")
    items = items_of(pipeline, runs["stalex"])
    with store.reading() as snapshot_session:
        prepared = prepare_batch(snapshot_session, items, scorer=pipeline.scorer, now=NOW)
    for n in (0, 5):  # alice's m1 (a new person), carol's m4 (an existing lead turns hot)
        reference(pipeline, runs["stalex"][n])
    with store.session() as session:
        results = record_batch(session, items, scorer=pipeline.scorer, now=NOW, prepared=prepared)
    for n in (0, 5, *range(7)):
        reference(pipeline, runs["singlx"][n])

    assert [r.duplicate for r in results] == [True, True, False, False, True, True, False]
    assert results[0].lead_id == results[1].lead_id
    with store.session() as session:
        got, want = snapshot(session, "stalex"), snapshot(session, "singlx")
    for table_rows in ("leads", "activities", "outbox"):
        assert got[table_rows] == want[table_rows]


def test_rows_still_as_read_are_written_as_prepared(store: Store) -> None:
    pipeline, runs = seeded(store, "planx")
    items = items_of(pipeline, runs["planx"])
    with store.reading() as snapshot_session:
        prepared = prepare_batch(snapshot_session, items, scorer=pipeline.scorer, now=NOW)
    assert [x.id < 0 for x in prepared.leads].count(True) == 2  # alice and bob, not yet inserted
    with store.session() as session:
        results = record_batch(session, items, scorer=pipeline.scorer, now=NOW, prepared=prepared)
    assert [x.id > 0 for x in prepared.leads].count(True) == 3  # the plan itself was written
    assert [r.announced for r in results].count(True) == 2
