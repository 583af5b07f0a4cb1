"""Forwards by a rep: the original sender of the forwarded message is the lead, the rep forwarded_by.

Bodies are public fixtures (tests/data/parsing/forwards/, sources in its LICENSES.md), each sent
as the text (or, for the HTML fixtures, the HTML) of a message from a rep at rep.example. The
labels are in cases.json: `sender` is the original sender's address, or null where the forward
gives none (a name only, or no header block): a person has to say, so review is the right verdict.
"""

from __future__ import annotations

import email
import json
import re
from email.message import EmailMessage
from email.policy import SMTP, default
from functools import cache
from typing import Any

from ingest.inquiry import Inquiry, NotALead
from ingest.mail import read_email
from storage.errors import ParseError
from tests.corpora import INTERNAL, PARSING, RECEIVED, REP_DOMAIN, Case, Outcome, as_forward

try:  # the libraries measured beside ours: the bench extra, not a dependency
    import quotequail as qq
except ImportError:  # pragma: no cover
    qq = None
try:
    from emailforwardparser.forward_parser import get_forwarded_metadata
except ImportError:  # pragma: no cover
    get_forwarded_metadata = None

CATEGORY = "forwards"
LIBRARY = "email-forward-parser 0.1.3 (get_forwarded_metadata)"
DATA = PARSING / "forwards"
REP = f"sam@{REP_DOMAIN}"
REVIEW = "review"
_CRISP_SUBJECT = "Integer consequat non purus"  # the original subject of every crisp fixture


def _subject(entry: dict[str, Any]) -> str:
    """The rep's subject: the fixture's own when it has one (Outlook's localised `FW:`, `VS:`,
    `Redir.:`…), else the `Fwd:` every other client writes. crisp's variant-4 fixtures carry a
    `Re:` subject: the rep forwards that thread, so it gets a `Fwd:` in front like any other."""
    if "subject" in entry:
        return str(entry["subject"])
    if "subject_file" in entry:
        subject = (DATA / entry["subject_file"]).read_text(encoding="utf-8").strip()
        return f"Fwd: {subject}" if subject.lower().startswith("re:") else subject
    return f"Fwd: {_CRISP_SUBJECT}" if entry["name"].startswith("crisp/") else "Fwd: inquiry"


def _raw(body: str, subject: str, *, html: bool) -> bytes:
    raw = as_forward(body, subject=subject, rep=REP)
    if not html:
        return raw
    msg = email.message_from_bytes(raw, policy=default)
    assert isinstance(msg, EmailMessage)
    msg.set_content(body, subtype="html")  # the fixture is the forward's only (HTML) part
    return msg.as_bytes(policy=SMTP)


@cache
def _cases() -> tuple[Case, ...]:
    entries = json.loads((DATA / "cases.json").read_text(encoding="utf-8"))
    found: list[Case] = []
    for entry in entries:
        body = (DATA / entry["body"]).read_text(encoding="utf-8")
        subject = _subject(entry)
        expected = {"subject": subject, "body": body}
        expected["sender"] = entry["sender"] or ""
        if not entry["sender"]:
            expected["not_a_lead"] = REVIEW
        raw = _raw(body, subject, html=bool(entry.get("html")))
        found.append(Case(name=entry["name"], group=entry["group"], raw=raw, expected=expected))
    return tuple(found)


def cases() -> list[Case]:
    """Every labelled forward, in the order of cases.json."""
    return list(_cases())


def judge(case: Case, result: Inquiry | NotALead) -> Outcome:
    """Right: the expected sender as the lead with the rep as forwarded_by, or review where the
    forward names nobody. Wrong (harmful): a lead for anybody else, or any lead where a person
    had to decide. A NotALead (or no result) where a sender was expected is a miss, not wrong."""
    sender = case.expected["sender"]
    if isinstance(result, Inquiry):
        if sender and result.email == sender and result.forwarded_by == REP:
            return Outcome(right=True)
        return Outcome(right=False, wrong=True, detail=f"lead {result.email}, expected {sender}")
    if not sender:
        return Outcome(right=result.kind == REVIEW, detail=result.kind)
    return Outcome(right=False, detail=f"{result.kind}: {result.reason}")


def ours(case: Case) -> Outcome:
    """Our reader's verdict: read_email on the whole message, rep.example internal."""
    try:
        result = read_email(case.raw, internal_domains=INTERNAL, received_at=RECEIVED)
    except ParseError as exc:
        return Outcome(right=False, detail=f"failed: {exc}")
    return judge(case, result)


_ADDRESS = re.compile(r"[^\s<>\"'()\[\],;:]+@[^\s<>\"'()\[\],;:]+")


def library(case: Case) -> Outcome | None:
    """email-forward-parser's verdict on the same body and subject: its original From address."""
    if get_forwarded_metadata is None:
        return None
    found = get_forwarded_metadata(case.expected["body"], case.expected["subject"])
    address = found.email.from_.address if found.forwarded else ""
    return _judge_address(case, address)


def quotequail(case: Case) -> Outcome | None:
    """quotequail's unwrap (unwrap_html for the HTML fixtures) on the same body, for comparison."""
    if qq is None:
        return None
    body = case.expected["body"]
    found = (qq.unwrap_html(body) if body.lstrip().startswith("<") else qq.unwrap(body)) or {}
    sender = str(found.get("from") or "") if found.get("type") == "forward" else ""
    match = _ADDRESS.search(sender)
    return _judge_address(case, match.group(0) if match else "")


def _judge_address(case: Case, address: str) -> Outcome:
    sender = case.expected["sender"]
    if not address:
        return Outcome(right=not sender, detail="no sender")
    if address.lower() == sender.lower():
        return Outcome(right=True)
    return Outcome(right=False, wrong=True, detail=f"sender {address}, expected {sender}")
