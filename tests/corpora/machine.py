"""Machine mail corpus: bounces, feedback reports and auto-replies (never a lead) beside people's mail.

Every file under tests/data/parsing/machine/ except negative/ is machine mail, read as its bytes
are: right is a NotALead, or a ParseError (no usable sender, so it never becomes a lead either).
negative/ holds people who write about a bounce, an absence or a delivery: right is an Inquiry.
Sources and licences: tests/data/parsing/machine/LICENSES.md.
"""

from __future__ import annotations

import email
import re
from email.message import Message
from email.policy import compat32
from functools import cache
from pathlib import Path

from ingest.inquiry import Inquiry
from ingest.mail import read_email
from storage.errors import ParseError
from tests.corpora import INTERNAL, PARSING, RECEIVED, Case, Outcome

CATEGORY = "machine"
LIBRARY = "flufl.bounce"

ROOT = PARSING / "machine"
NEGATIVE = "negative"
# sisimai's folders that hold people's messages, by file name: the rest of not/ is a bounce.
_PEOPLE = frozenset(
    {"sisimai/maildir/not/is-not-bounce-01.eml", "sisimai/maildir/not/is-not-bounce-02.eml"}
)
_NOT_MESSAGES = frozenset({"LICENSE", "COPYING.LESSER"})
_NUMBERED = re.compile(r"[-_.]?\d+$")


@cache
def cases() -> list[Case]:
    """Every message of the corpus, machine mail and people's, in path order."""
    found: list[Case] = []
    for path in sorted(p for p in ROOT.rglob("*") if p.is_file()):
        if path.name in _NOT_MESSAGES or path.suffix == ".md":
            continue
        rel = path.relative_to(ROOT).as_posix()
        person = rel.startswith(f"{NEGATIVE}/") or rel in _PEOPLE
        found.append(
            Case(
                name=rel,
                group=NEGATIVE if person else _group(path),
                raw=path.read_bytes(),
                expected={"not_a_lead": "no" if person else "yes"},
            )
        )
    return found


def _group(path: Path) -> str:
    """sisimai/maildir/bsd/lhost-postfix-12.eml -> "bsd/lhost-postfix"; other sources by name."""
    rel = path.relative_to(ROOT)
    stem = _NUMBERED.sub("", path.stem) or path.stem
    if rel.parts[0] == "sisimai":
        folder = rel.parts[-2] if rel.parts[1] == "maildir" else rel.parts[1]
        return f"{folder}/{stem}"
    return f"{rel.parts[0]}"


def machine(case: Case) -> bool:
    return case.expected["not_a_lead"] == "yes"


def ours(case: Case) -> Outcome:
    """Our reader's verdict: machine mail must not become an Inquiry, a person's message must."""
    try:
        verdict = read_email(case.raw, internal_domains=INTERNAL, received_at=RECEIVED)
    except ParseError as exc:
        # No usable sender: never a lead, which is right for machine mail and a miss for a person.
        return Outcome(right=machine(case), detail=f"ParseError: {exc}")
    if isinstance(verdict, Inquiry):
        if machine(case):
            return Outcome(
                right=False, wrong=True, detail=f"lead {verdict.email} from machine mail"
            )
        return Outcome(right=True)
    detail = f"{verdict.kind}: {verdict.reason}"
    if machine(case):
        return Outcome(right=True, detail=detail)
    return Outcome(right=False, wrong=verdict.kind != "review", detail=f"person made {detail}")


def library(case: Case) -> Outcome | None:
    """flufl.bounce's verdict: machine mail when it finds any failed address in the message."""
    try:
        from flufl.bounce import scan_message
    except ImportError:
        return None
    try:
        msg: Message = email.message_from_bytes(case.raw, policy=compat32)
        found = bool(scan_message(msg))
    except Exception as exc:  # a library crash is its miss, not ours
        return Outcome(right=False, detail=f"flufl.bounce raised {type(exc).__name__}")
    if machine(case):
        return Outcome(right=found, wrong=not found)
    return Outcome(right=not found, wrong=found)
