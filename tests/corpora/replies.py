"""Replies: the person's new text kept, the conversation it quotes cut (tests/data/parsing/replies/).

cases.toml labels each fixture with what its library's own tests say the new text is (`text`:
phrases that must all be in the inquiry's text) and a distinctive piece of the quoted text
(`quote`: phrases that must all be gone). Whitespace is normalised before comparing, so a
re-wrapped line still counts. A fixture that is a whole message (.eml) is read as it is; a body
is sent as a reply from an outside person.
"""

from __future__ import annotations

import email
import re
import tomllib
from email.message import EmailMessage, Message
from email.policy import SMTP, default
from email.utils import parseaddr
from functools import cache

from ingest.inquiry import Inquiry
from ingest.mail import read_email
from ingest.mail.html import html_to_text
from storage.errors import ParseError
from tests.corpora import INTERNAL, PARSING, RECEIVED, REP_DOMAIN, Case, Outcome, as_message

CATEGORY = "replies"
LIBRARY = "talon (extract_from_plain)"
ROOT = PARSING / "replies"
SENDER = "Pat Buyer <pat@buyer.example>"

_WS = re.compile(r"\s+")


def cases() -> list[Case]:
    """Every labelled reply in cases.toml, its fixture read byte for byte."""
    table = tomllib.loads((ROOT / "cases.toml").read_text(encoding="utf-8"))
    out: list[Case] = []
    for entry in table["case"]:
        path = ROOT / entry["file"]
        data = path.read_bytes()
        subject = entry.get("subject", "Re: your offer")
        if path.suffix == ".eml":
            raw = data
        elif path.suffix == ".html":
            raw = _as_html(data.decode("utf-8"), subject=subject)
        else:
            body = data.decode("utf-8").replace("\r\n", "\n")
            raw = as_message(body, sender=SENDER, subject=subject)
        expected = {
            "sender": _sender(raw),
            "text": "\n".join(entry["text"]),
            "quote": "\n".join(entry.get("quote", [])),
        }
        out.append(Case(entry.get("name", entry["file"]), entry["group"], raw, expected))
    return out


def _as_html(markup: str, *, subject: str) -> bytes:
    """An HTML-only reply from the outside person, the way a webmail client sends one."""
    msg = EmailMessage()
    msg["From"] = SENDER
    msg["To"] = f"sales@{REP_DOMAIN}"
    msg["Subject"] = subject
    msg["Date"] = "Mon, 05 Jan 2026 09:30:00 +0000"
    msg.set_content(markup, subtype="html")
    return msg.as_bytes(policy=SMTP)


def _sender(raw: bytes) -> str:
    """The address in the fixture's From: the lead a reply must give."""
    msg = email.message_from_bytes(raw, policy=default)
    return parseaddr(str(msg.get("From", "")))[1].lower()


def judge(case: Case, text: str | None) -> Outcome:
    """Right when every expected phrase is in `text` and no quoted phrase is (whitespace folded)."""
    if text is None:
        return Outcome(False, detail="no inquiry")
    got = _fold(text)
    missing = [p for p in case.expected["text"].split("\n") if p and _fold(p) not in got]
    kept = [p for p in case.expected["quote"].split("\n") if p and _fold(p) in got]
    if missing:
        return Outcome(False, detail=f"lost {missing[0][:60]!r}")
    if kept:
        return Outcome(False, detail=f"kept quote {kept[0][:60]!r}")
    return Outcome(True)


def ours(case: Case) -> Outcome:
    """Our reader's verdict on one case; a lead other than the reply's sender is a harmful miss."""
    try:
        verdict = read_email(case.raw, internal_domains=INTERNAL, received_at=RECEIVED)
    except ParseError as exc:
        return Outcome(False, detail=f"failed: {exc}")
    if not isinstance(verdict, Inquiry):
        return Outcome(False, detail=f"not a lead: {verdict.kind}")
    if verdict.email != case.expected["sender"]:
        return Outcome(False, wrong=True, detail=f"lead {verdict.email}, not the sender")
    return judge(case, verdict.text)


def body_of(case: Case) -> str:
    """The plain text a quote-stripping library is given: the text part, else the HTML as text."""
    msg = email.message_from_bytes(case.raw, policy=default)
    part = msg.get_body(preferencelist=("plain",))
    if isinstance(part, Message):
        return str(part.get_content()).replace("\r\n", "\n")
    part = msg.get_body(preferencelist=("html",))
    if isinstance(part, Message):
        return html_to_text(str(part.get_content()))
    return ""


@cache
def _talon_ready() -> None:
    import talon

    talon.init()  # loads its signature classifiers: once


def _talon(text: str) -> str:
    from talon import quotations

    _talon_ready()
    return str(quotations.extract_from_plain(text))


def _mail_parser_reply(text: str) -> str:
    from mailparser_reply import EmailReplyParser
    from mailparser_reply.constants import MAIL_LANGUAGES

    return str(EmailReplyParser(languages=list(MAIL_LANGUAGES)).parse_reply(text=text))


def _email_reply_parser(text: str) -> str:
    from email_reply_parser import EmailReplyParser

    return str(EmailReplyParser.parse_reply(text))


def _quotequail(text: str) -> str:
    import quotequail

    return "\n".join(part for shown, part in quotequail.quote(text, quote_intro_line=True) if shown)


LIBRARIES = {
    "talon (extract_from_plain)": _talon,
    "mail-parser-reply": _mail_parser_reply,
    "email-reply-parser": _email_reply_parser,
    "quotequail": _quotequail,
}


def library_text(case: Case, name: str) -> str | None:
    """What library `name` keeps of the case's text; None when it is not installed."""
    try:
        return LIBRARIES[name](body_of(case))
    except ImportError:
        return None


def library(case: Case, name: str = LIBRARY) -> Outcome | None:
    """The best library's verdict (see LIBRARY), None when it is not installed."""
    try:
        text = library_text(case, name)
    except Exception as exc:  # a library crashing on a message is a wrong answer, not ours to fix
        return Outcome(False, detail=f"{name} raised {type(exc).__name__}")
    return None if text is None else judge(case, text)


def _fold(text: str) -> str:
    return _WS.sub(" ", text).strip().casefold()
