"""The message parser fed in pieces: the same message as the standard library's one-shot parse,
for a fraction of the memory (issue 11: a 25 MB message cost the worker 9 times its size)."""

from __future__ import annotations

import email
import os
import tracemalloc
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.policy import compat32
from pathlib import Path

import pytest

import ingest.mail
from ingest.mail import parse_bytes

EMAILS = sorted((Path(__file__).parents[1] / "data" / "emails").rglob("*.eml"))


@pytest.mark.parametrize("chunk", [1, 7, 64, 1 << 16])
def test_pieces_give_the_message_a_whole_parse_gives(
    chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pieces of 1 and 7 bytes cut every CRLF and boundary line in two somewhere."""
    monkeypatch.setattr(ingest.mail, "FEED_CHUNK", chunk)
    assert EMAILS
    for path in EMAILS:
        raw = path.read_bytes()
        whole = email.message_from_bytes(raw, policy=compat32)
        pieces = parse_bytes(raw)
        assert pieces.as_bytes(policy=compat32) == whole.as_bytes(policy=compat32), path.name
        assert [p.get_content_type() for p in pieces.walk()] == [
            p.get_content_type() for p in whole.walk()
        ]
        assert [type(d) for d in pieces.defects] == [type(d) for d in whole.defects], path.name


def test_a_big_attachment_costs_a_fraction_of_a_whole_parse() -> None:
    msg = EmailMessage()
    msg["From"] = "Big Sender <big@bigcorp.example>"
    msg["Subject"] = "Quote with a large attachment"
    msg.set_content("Please quote 500 seats.")
    msg.add_attachment(os.urandom(3 * 2**20), maintype="application", subtype="octet-stream")
    raw = msg.as_bytes(policy=SMTP_POLICY)

    def peak(parse: object) -> float:
        tracemalloc.start()
        try:
            parse(raw)  # type: ignore[operator]
            return tracemalloc.get_traced_memory()[1] / len(raw)
        finally:
            tracemalloc.stop()

    whole = peak(lambda r: email.message_from_bytes(r, policy=compat32))
    pieces = peak(parse_bytes)
    assert pieces < 3.2 < whole, (pieces, whole)  # about 2.7 against 7.7 times the message
