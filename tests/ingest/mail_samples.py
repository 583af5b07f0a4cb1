"""Realistic messages written by us (not captured mail), each with the outcome read_email owes.

They reproduce the header and body shapes of Outlook, OWA, Gmail, Apple Mail, Thunderbird, Foxmail
and mobile clients, in the charsets and languages leads write in. See
tests/data/emails/generated/README.md.
"""

from __future__ import annotations

import base64
import quopri
from dataclasses import dataclass, field

INTERNAL = frozenset({"ourco.com"})


@dataclass(frozen=True)
class Sample:
    """A raw message and what reading it must give (lead fields, or a NotALead kind)."""

    id: str
    raw: bytes
    expect: dict[str, str | None] = field(default_factory=dict)
    not_a_lead: str | None = None  # NotALead kind when the message is not a lead
    text_has: tuple[str, ...] = ()
    text_lacks: tuple[str, ...] = ()


def word(text: str, charset: str) -> str:
    """An RFC 2047 B-encoded word in `charset`."""
    return f"=?{charset}?B?{base64.b64encode(text.encode(charset)).decode()}?="


def message(
    body: str | bytes,
    *,
    sender: str = "Jane Doe <jane@acme-corp.example>",
    subject: str = "Inquiry",
    ctype: str = "text/plain; charset=utf-8",
    cte: str = "8bit",
    headers: str = "",
    msgid: str | None = None,
) -> bytes:
    """A single-part message; `body` str is UTF-8 encoded, bytes are used as they are."""
    data = body.encode("utf-8") if isinstance(body, str) else body
    ident = msgid or f"<{abs(hash((sender, subject, data))) % 10**12}@sample.example>"
    head = (
        f"From: {sender}\nTo: leads@ourco.com\nSubject: {subject}\nMessage-ID: {ident}\n"
        f"Date: Mon, 02 Nov 2026 09:00:00 +0100\n{headers}MIME-Version: 1.0\n"
        f"Content-Type: {ctype}\nContent-Transfer-Encoding: {cte}\n\n"
    )
    return head.encode("utf-8") + data


def raw(text: str) -> bytes:
    return text.encode("utf-8")


def rep(body: str, subject: str, *, ctype: str = "text/plain; charset=utf-8") -> bytes:
    """A rep's forward from the internal domain."""
    return message(body, sender="Rita Rep <rita@ourco.com>", subject=subject, ctype=ctype)


def qp(text: str, charset: str) -> bytes:
    return quopri.encodestring(text.encode(charset))


def b64(text: str, charset: str) -> bytes:
    return base64.encodebytes(text.encode(charset))
