"""Labelled parsing corpora (tests/data/parsing/): what a message should read as, per category.

Each category module (forwards, replies, signatures, machine) exposes:
    CATEGORY: str                      the category's name in bench/parsing.py
    LIBRARY: str                       the best installable library measured beside ours
    cases() -> list[Case]              the labelled cases, from tests/data/parsing/<category>/
    ours(case) -> Outcome              our reader's verdict on one case (read_email, no I/O)
    library(case) -> Outcome | None    the library's verdict; None when it is not installed
Both the suite (tests/ingest/test_parsing_*.py) and bench/parsing.py use these, so the
figures in docs/performance.md are the ones the tests hold.
"""

from __future__ import annotations

import hashlib
import importlib
import pkgutil
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from types import ModuleType

PARSING = Path(__file__).resolve().parents[1] / "data" / "parsing"
REP_DOMAIN = "rep.example"  # the rep's own domain: LEADBOT_INTERNAL_DOMAINS in every case
INTERNAL = frozenset({REP_DOMAIN})
RECEIVED = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


@dataclass(frozen=True)
class Case:
    """One labelled message: `group` is the client and/or language it comes from, when known."""

    name: str
    group: str
    raw: bytes  # a whole RFC 5322 message, as `leadbot ingest` would read it
    expected: dict[str, str]  # category-specific labels (sender, text, title, "not_a_lead", …)


@dataclass(frozen=True)
class Outcome:
    """A verdict on one case: right or not; `wrong` marks a harmful miss (a wrong or machine lead)."""

    right: bool
    wrong: bool = False
    detail: str = ""


def as_forward(
    body: str, *, subject: str = "Fwd: inquiry", rep: str = f"sam@{REP_DOMAIN}"
) -> bytes:
    """A rep's message carrying `body` as its text/plain part, the way the rep's client sends it."""
    msg = EmailMessage()
    msg["From"] = f"Sam Rep <{rep}>"
    msg["To"] = f"leads@{REP_DOMAIN}"
    msg["Subject"] = subject
    msg["Date"] = "Mon, 05 Jan 2026 09:30:00 +0000"
    msg["Message-ID"] = f"<{hashlib.sha256(body.encode()).hexdigest()[:24]}@{REP_DOMAIN}>"
    msg.set_content(body)
    return msg.as_bytes(policy=SMTP)


def as_message(body: str, *, sender: str, subject: str = "Re: your offer") -> bytes:
    """A message from an outside person (a reply, a signature sample) with `body` as its text."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = f"sales@{REP_DOMAIN}"
    msg["Subject"] = subject
    msg["Date"] = "Mon, 05 Jan 2026 09:30:00 +0000"
    msg.set_content(body)
    return msg.as_bytes(policy=SMTP)


def categories() -> list[ModuleType]:
    """Every category module of this package, in name order."""
    return [
        importlib.import_module(f"{__name__}.{info.name}")
        for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name)
        if not info.name.startswith("_")
    ]
