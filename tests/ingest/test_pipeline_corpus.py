"""Every real message in the shared corpus goes through the whole pipeline: none crashes, none is lost."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.runtime import Runtime
from storage.errors import InputRejected
from storage.models import RawInput, RawStatus
from tests.conftest import DATA

CORPUS_DIRS = [DATA / "corpus", DATA / "emails"]
SETTLED = {
    RawStatus.PROCESSED,
    RawStatus.DUPLICATE,
    RawStatus.ARCHIVED,
    RawStatus.REVIEW,
    RawStatus.FAILED,
}


def corpus() -> list[Path]:
    return sorted(
        p
        for d in CORPUS_DIRS
        if d.is_dir()
        for p in d.rglob("*")
        if p.is_file() and p.suffix != ".md"
    )


def test_every_corpus_message_is_stored_and_settled(runtime: Runtime) -> None:
    files = corpus()
    if len(files) < 20:
        pytest.fail(f"corpus not found under {DATA}")
    refused: list[str] = []
    for path in files:
        try:
            raw_id, new = runtime.pipeline.accept(path.read_bytes(), channel="file")
        except InputRejected:
            refused.append(path.name)  # not a message at all: the sender is told, nothing stored
            continue
        if new:
            runtime.pipeline.process(raw_id)
    with runtime.store.session() as s:
        raws = list(s.scalars(select(RawInput)))
    statuses = Counter(r.status for r in raws)
    assert set(statuses) <= SETTLED, statuses
    assert all(r.reason for r in raws if r.status == RawStatus.FAILED)
    assert not [r.reason for r in raws if (r.reason or "").startswith("internal error")]
    assert statuses[RawStatus.PROCESSED] > len(files) // 3
    # Only inputs without any header may be refused before storing.
    assert len(refused) <= 5, refused
