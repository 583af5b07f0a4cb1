"""The signature corpus through the whole pipeline: every message is stored and becomes a lead,
the lead holds the fields its message was read with, and the fields are right often enough."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select

from bot.runtime import Runtime
from ingest.inquiry import Inquiry
from storage.models import Lead, RawInput, RawStatus
from tests.corpora import signatures
from tests.corpora.signatures import FIELDS, messages, raw_of, read

FLOOR = 0.80  # of the labelled fields, over every source
FIELD_FLOOR = 0.70  # of each field (name, title, company, phone) alone


def test_every_signature_message_becomes_a_lead_with_the_fields_it_was_read_with(
    runtime: Runtime,
) -> None:
    # A later message of the same address fills the fields that are still empty, never others.
    expected: dict[str, dict[str, str | None]] = {}
    drafts = []
    for record in messages():
        raw = raw_of(record)
        inquiry = read(raw)
        assert isinstance(inquiry, Inquiry), record["id"]
        fields = expected.setdefault(inquiry.email, dict.fromkeys(FIELDS))
        for field in FIELDS:
            fields[field] = fields[field] or getattr(inquiry, field)
        drafts.append(runtime.pipeline.draft(raw, channel="file"))
    # What `accept` and `process` do one by one, in one commit each, as a busy receiver does.
    accepted = runtime.pipeline.accept_many(drafts)
    assert all(new for _id, new in accepted)
    raw_ids = [raw_id for raw_id, _new in accepted]
    runtime.pipeline.process_batch(raw_ids)
    with runtime.store.session() as session:
        raws = list(session.scalars(select(RawInput).where(RawInput.id.in_(raw_ids))))  # type: ignore[attr-defined]
        leads = {lead.email: lead for lead in session.scalars(select(Lead))}
    assert len(raws) == len(raw_ids)
    statuses = Counter(r.status for r in raws)
    assert statuses == {RawStatus.PROCESSED: len(raw_ids)}, statuses
    assert set(leads) >= set(expected)
    for email, fields in expected.items():
        assert {f: getattr(leads[email], f) for f in FIELDS} == fields, email


def test_signature_fields_are_right_often_enough() -> None:
    right: Counter[str] = Counter()
    total: Counter[str] = Counter()
    wrong: list[str] = []
    for case in signatures.cases():
        outcome = signatures.ours(case)
        field = case.expected["field"]
        total[field] += 1
        right[field] += outcome.right
        if outcome.wrong:
            wrong.append(f"{case.name}: {outcome.detail}")
    assert total.total() >= 400
    assert right.total() / total.total() >= FLOOR, (right, total)
    for field in FIELDS:
        assert right[field] / total[field] >= FIELD_FLOOR, (field, right[field], total[field])
    assert not wrong  # a field filled from the wrong place is worse than an empty one
