"""The forward corpus through the whole pipeline: every case settles and the stored lead is the
original sender (never the rep, never a To or Cc address), for at least 95 % of the cases."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.runtime import Runtime, build_runtime
from storage.db import Store
from storage.leads import get_lead
from storage.models import RawInput, RawStatus
from tests.conftest import make_settings
from tests.corpora import REP_DOMAIN, Case, forwards

SETTLED = {RawStatus.PROCESSED, RawStatus.DUPLICATE, RawStatus.REVIEW}
MIN_RIGHT = 0.95


@pytest.fixture
def runtime(store: Store) -> Runtime:
    """The conftest runtime, with the corpus's rep domain as our own."""
    return build_runtime(make_settings(store.url, internal_domains=REP_DOMAIN), store=store)


def test_the_corpus_is_what_its_licence_note_says() -> None:
    cases = forwards.cases()
    assert len(cases) >= 200
    assert len({c.name for c in cases}) == len(cases)
    groups = {c.group.split("/")[0] for c in cases}
    assert {"apple_mail", "gmail", "outlook_live", "thunderbird", "yahoo", "hubspot"} <= groups
    assert len({c.group.split("/")[1] for c in cases}) >= 23  # languages (pt and pt_br apart)


def test_every_forward_settles_as_its_original_sender(runtime: Runtime) -> None:
    cases = forwards.cases()
    stored: dict[int, list[Case]] = {}
    for case in cases:
        raw_id, new = runtime.pipeline.accept(case.raw, channel="file")
        if new:
            runtime.pipeline.process(raw_id)
        # Outlook Live's one body under the same `Fw:` in five languages is the same bytes.
        stored.setdefault(raw_id, []).append(case)
    right: list[str] = []
    wrong: list[str] = []
    with runtime.store.session() as s:
        raws = {r.id: r for r in s.scalars(select(RawInput))}
        assert set(raws) == set(stored), "a case was lost"
        for raw_id, case in ((i, c) for i, same in stored.items() for c in same):
            raw = raws[raw_id]
            assert raw.status in SETTLED, (case.name, raw.status, raw.reason)
            sender = case.expected["sender"]
            if raw.status == RawStatus.REVIEW:
                if not sender:
                    right.append(case.name)
                continue
            lead = get_lead(s, lead_id=raw.lead_id)
            if sender and lead.email == sender and lead.forwarded_by == f"sam@{REP_DOMAIN}":
                right.append(case.name)
            else:
                wrong.append(f"{case.name}: lead {lead.email}, expected {sender or 'review'}")
    assert not wrong, wrong
    missed = sorted({c.name for c in cases} - set(right))
    assert len(right) / len(cases) >= MIN_RIGHT, missed


def test_the_reader_alone_agrees_with_the_pipeline() -> None:
    """What bench/parsing.py prints: the same verdicts from read_email, with no harmful miss."""
    outcomes = [forwards.ours(case) for case in forwards.cases()]
    assert not [o.detail for o in outcomes if o.wrong]
    assert sum(o.right for o in outcomes) / len(outcomes) >= MIN_RIGHT
