"""Machine-made answers to our own mail: read receipts (RFC 8098) and calendar replies (RFC 5546)."""

# ruff: noqa: RUF001 - the vocabulary is Cyrillic, Turkish and CJK text on purpose

from __future__ import annotations

import re
from email.message import Message
from itertools import islice

from ingest.inquiry import NotALead

_PARTS_SCANNED = 50  # a calendar reply has two or three parts; hostile nesting is not walked
_CALENDAR_LIMIT = 20_000
# iTIP methods that answer an invitation we sent (accepted, declined, counter-proposals);
# REQUEST and PUBLISH are a person inviting us, which is engagement and stays a lead.
_ANSWER_METHODS = frozenset({"reply", "cancel", "counter", "declinecounter", "refresh"})
_METHOD_PARAM = re.compile(r"""method\s*=\s*["']?([a-z-]+)""", re.IGNORECASE)
_METHOD_LINE = re.compile(rb"^METHOD:\s*([A-Za-z-]+)", re.MULTILINE)

# Outlook, Exchange, Notes and Gmail read receipts sent as plain messages instead of
# multipart/report: a localised "Read:" subject and a body that says the message was read.
_READ_SUBJECT = re.compile(
    r"^\s*(read|gelesen|lu|le[íi]do|letto|lido|gelezen|przeczytano|прочитано|прочитан[оа]?|"
    r"okundu|läst|læst|lest|luettu|已读|已讀|読み取り済み|開封済み|읽음|נקרא|مقروء)\s*[:：]",
    re.IGNORECASE,
)
_READ_BODY = re.compile(
    r"(was read on|has been read|wurde am .{0,80}gelesen|a été lu|fue leído|è stato letto|"
    r"foi lido|is gelezen|została przeczytana|был[ао]? прочитан|okundu|lästes|已读|已被读取|"
    r"開封されました|읽었습니다)",
    re.IGNORECASE,
)
_RECEIPT_TEXT_LIMIT = 2000  # a receipt is a few lines; a long body is a person writing


def calendar_response(msg: Message) -> NotALead | None:
    """NotALead for an invitation's Accepted / Declined / Tentative answer (iTIP METHOD:REPLY)."""
    for part in islice(msg.walk(), _PARTS_SCANNED):
        ctype = str(part.get("content-type", ""))[:2000]
        if not ctype.lower().lstrip().startswith(("text/calendar", "application/ics")):
            continue
        method = _method(part, ctype)
        if method in _ANSWER_METHODS:
            return NotALead("auto_reply", f"calendar response (METHOD:{method.upper()})")
    return None


def _method(part: Message, ctype: str) -> str | None:
    param = _METHOD_PARAM.search(ctype)
    if param:
        return param.group(1).lower()
    try:
        payload = part.get_payload(decode=True)
    except (ValueError, TypeError, AssertionError, LookupError):
        return None
    if not isinstance(payload, bytes):
        return None
    line = _METHOD_LINE.search(payload[:_CALENDAR_LIMIT])
    return line.group(1).decode("ascii", "replace").lower() if line else None


def read_receipt(msg: Message, subject: str | None, text: str) -> NotALead | None:
    """NotALead for a read receipt, as a report or as Outlook's plain "Read: …" message."""
    report_type = str(msg.get("content-type", ""))[:2000].lower()
    if "disposition-notification" in report_type:
        return NotALead("auto_reply", "read receipt (message disposition notification)")
    if (
        subject
        and _READ_SUBJECT.match(subject)
        and len(text) <= _RECEIPT_TEXT_LIMIT
        and _READ_BODY.search(text)
    ):
        return NotALead("auto_reply", f"read receipt: {subject[:80]!r}")
    return None
