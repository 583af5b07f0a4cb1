"""Replies built the way webridge/email-reply-parser's tests build them: each of its messages with
each signature and each quoted reply, the quote below (a top-posted answer) or above (a
bottom-posted one). The new text must come out alone: no signature, no quote."""

from __future__ import annotations

import re
from pathlib import Path

from ingest.inquiry import Inquiry
from ingest.mail import read_email
from tests.corpora import RECEIVED, as_message

ROOT = Path(__file__).parents[1] / "data" / "parsing" / "replies" / "webridge-email-reply-parser"
MIN_RIGHT = 0.98
# Its parser keeps the `>` lines inside this message (we drop every `>` line), and one message
# is empty (a reply that is only a signature keeps it as its text here).
NOT_ASKED = {"formatting_and_quotes.txt", "1.txt"}
_WS = re.compile(r"\s+")


def _texts(folder: str) -> dict[str, str]:
    return {
        p.name: p.read_text(encoding="utf-8").replace("\r\n", "\n")
        for p in sorted((ROOT / folder).iterdir())
    }


def test_every_message_signature_and_quote_combination() -> None:
    messages, signatures, quotes = _texts("basemail"), _texts("signatures"), _texts("quoted_reply")
    wrong: list[str] = []
    tried = 0
    for name, message in messages.items():
        if name in NOT_ASKED:
            continue
        for sig_name, signature in signatures.items():
            for quote_name, quote in quotes.items():
                for body in (
                    f"{message}\n\n{signature}\n\n{quote}",
                    f"{quote}\n\n{message}\n\n{signature}\n\n",
                ):
                    raw = as_message(
                        body,
                        sender="Richard Lindhout <richard@webridge.nl>",
                        subject="Re: question",
                    )
                    result = read_email(raw, received_at=RECEIVED)
                    tried += 1
                    got = _WS.sub(" ", result.text).strip() if isinstance(result, Inquiry) else ""
                    if got != _WS.sub(" ", message).strip():
                        wrong.append(f"{name} + {sig_name} + {quote_name}: {got[:80]!r}")
    assert tried == 4 * 13 * 12 * 2
    assert 1 - len(wrong) / tried >= MIN_RIGHT, wrong[:10]
