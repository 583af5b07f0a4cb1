"""Hostile mail through the whole pipeline on both backends: kept, marked with a reason that
says what is wrong (never an internal error), and readable afterwards by review, export, prune."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import EX_OK, main
from bot.runtime import Runtime
from ingest.mail import MAX_DEPTH
from storage.models import RawInput, RawStatus
from storage.privacy import export_person, without_attachments
from tests.ingest.test_mail_hostile import TRICK_CHARSETS, nested, rfc822_nested


def settle(runtime: Runtime, data: bytes) -> RawInput:
    raw_id, new = runtime.pipeline.accept(data, channel="file")
    assert new
    runtime.pipeline.process(raw_id)
    with runtime.store.reading() as s:
        row = s.get(RawInput, raw_id)
    assert row is not None
    return row


@pytest.mark.parametrize("data", [nested(1000), nested(5000), rfc822_nested(1000)])
def test_mime_nested_too_deep_is_kept_and_failed_with_its_reason(
    runtime: Runtime, data: bytes
) -> None:
    row = settle(runtime, data)
    assert row.status == RawStatus.FAILED
    assert row.reason == f"MIME parts nested more than {MAX_DEPTH} levels deep"
    assert bytes(row.content) == data


@pytest.mark.parametrize("charset", TRICK_CHARSETS)
def test_a_codec_that_is_no_charset_still_makes_the_lead(runtime: Runtime, charset: str) -> None:
    data = (
        f"From: =?{charset}?q?Jane?= <jane.{charset}@acme.example>\nTo: leads@leads.example.com\n"
        f'Subject: Quote\nContent-Type: text/plain; charset="{charset}"\n\n'
        "Caf\xe9: a quote for 25 seats please\n"
    ).encode("latin-1")
    row = settle(runtime, data)
    assert row.status == RawStatus.PROCESSED, row.reason
    assert row.lead_id is not None


def test_a_failed_deep_message_is_shown_exported_and_pruned_without_a_crash(
    runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settle(runtime, nested(0))  # Jane becomes a lead
    deep = settle(runtime, nested(1000))
    assert without_attachments(bytes(deep.content)) is None  # kept whole, not a RecursionError
    with runtime.store.session() as s:
        exported = export_person(s, "jane@acme.example")
    texts = [r["text"] for r in exported["raw_inputs"]]
    assert any("Deep quote please" in t for t in texts), exported.keys()

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LEADBOT_DATABASE_URL", runtime.store.url)
    capsys.readouterr()
    assert main(["review", "show", str(deep.id)]) == EX_OK
    shown = capsys.readouterr().out
    # The reason, then the message as it came (its first 20,000 characters).
    assert "nested more than" in shown and "boundary=b100\n" in shown
