"""Machine mail through the whole pipeline: no bounce, complaint or auto-reply becomes a lead."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
from sqlmodel import col, select

from bot.runtime import Runtime, build_runtime
from storage.db import Store
from storage.errors import InputRejected
from storage.models import RawInput, RawStatus
from tests.conftest import make_settings
from tests.corpora import REP_DOMAIN, machine

BATCH = 100  # what a worker records in one transaction
SETTLED = {
    RawStatus.PROCESSED,
    RawStatus.DUPLICATE,
    RawStatus.ARCHIVED,
    RawStatus.REVIEW,
    RawStatus.FAILED,
}


@pytest.fixture
def rep_runtime(store: Store) -> Iterator[Runtime]:
    """The real runtime, with the corpus's own domain as the team's (tests/corpora)."""
    yield build_runtime(make_settings(store.url, internal_domains=REP_DOMAIN), store=store)


def test_no_machine_mail_becomes_a_lead_through_the_pipeline(rep_runtime: Runtime) -> None:
    cases = machine.cases()
    assert len(cases) > 1000, "corpus not found under tests/data/parsing/machine"
    pipeline = rep_runtime.pipeline
    drafts, kept, refused = [], [], []
    for case in cases:
        try:
            drafts.append(pipeline.draft(case.raw, channel="file"))
        except InputRejected:
            refused.append(case)  # no header at all: the sender is told, nothing stored
            continue
        kept.append(case)
    accepted = pipeline.accept_many(drafts)
    ids = [raw_id for raw_id, _new in accepted]
    for start in range(0, len(ids), BATCH):
        pipeline.process_batch(ids[start : start + BATCH])
    with rep_runtime.store.reading() as session:
        rows = {r.id: r for r in session.scalars(select(RawInput).where(col(RawInput.id).in_(ids)))}

    # Nothing accepted is lost or left half-done, and nothing crashed the reader.
    assert len(rows) == len(set(ids))
    assert {r.status for r in rows.values()} <= SETTLED
    assert not [r.reason for r in rows.values() if (r.reason or "").startswith("internal error")]
    # Only what is no message at all may be refused, never a person's mail. Known limit: the
    # edge check reads an mbox "From " line up to an LF, so a CR-only file that starts with one
    # (four of sisimai's mac/ folder) is refused although the reader would read it.
    assert [c.name for c in refused if not machine.machine(c)] == []
    unreadable = [c for c in refused if machine.ours(c).detail.startswith("ParseError")]
    cr_mbox = [c for c in refused if c.raw.startswith(b"From ") and b"\n" not in c.raw[:2000]]
    assert len(unreadable) + len(cr_mbox) == len(refused), [c.name for c in refused]

    made = [
        c.name for c, i in zip(kept, ids, strict=True) if machine.machine(c) and rows[i].lead_id
    ]
    assert made == [], f"leads made from machine mail: {made[:10]}"
    people = [(c, rows[i]) for c, i in zip(kept, ids, strict=True) if not machine.machine(c)]
    lost = [c.name for c, row in people if row.lead_id is None]
    assert lost == [], f"people's messages that made no lead: {lost}"
    statuses = Counter(rows[i].status for c, i in zip(kept, ids, strict=True) if machine.machine(c))
    assert statuses[RawStatus.ARCHIVED] > len(kept) // 2, statuses


def test_no_harmful_verdict_on_any_case() -> None:
    outcomes = {case.name: machine.ours(case) for case in machine.cases()}
    harmful = {name: o.detail for name, o in outcomes.items() if o.wrong}
    assert harmful == {}
    right = sum(o.right for o in outcomes.values())
    assert right >= 0.99 * len(outcomes), [n for n, o in outcomes.items() if not o.right][:20]


def test_every_source_has_people_beside_machine_mail() -> None:
    groups = Counter(case.group for case in machine.cases())
    assert groups[machine.NEGATIVE] >= 50
    assert sum(n for g, n in groups.items() if g.startswith("bsd/")) == 629
