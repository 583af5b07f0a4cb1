"""Walking MIME parts under a cap and decoding the readable body, whatever its charset."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.message import Message
from functools import cached_property

from ingest.mail.html import html_to_text
from ingest.mail.text import decode_bytes, normalise_body, unflow

TEXT_LIMIT = 100_000  # characters of body text kept for an inquiry
_PAYLOAD_LIMIT = 4 * TEXT_LIMIT  # bytes of a text part decoded; the rest cannot reach the inquiry
_HTML_PAYLOAD_LIMIT = 2_000_000
_CTYPE_LIMIT = 4000  # a Content-Type with 8,000 parameters is read no further than this
_FLOWED = re.compile(r"""format\s*=\s*["']?flowed""", re.IGNORECASE)
_DELSP = re.compile(r"""delsp\s*=\s*["']?yes""", re.IGNORECASE)
_META_SCAN = 4096
_META_CHARSET = re.compile(
    rb"""<meta[^>]{0,500}?charset\s*=\s*["']?([A-Za-z0-9_.:-]{1,40})""", re.I
)
# A charset name as IANA spells them: `utf-8\0` or a 2,000-character "name" is read as none.
_CHARSET = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9][A-Za-z0-9._:+-]{0,39})""", re.IGNORECASE)


@dataclass
class Body:
    """The readable parts of a message: its text, and any attached messages (forwards)."""

    text: str = ""
    html: str = ""  # the first HTML part, decoded; read as text only when asked (html_text)
    attached: list[Message] = field(default_factory=list)
    parts_seen: int = 0
    truncated: bool = False

    @cached_property
    def html_text(self) -> str:
        """The text of the HTML part. Converting a large HTML part costs tens of milliseconds, so
        it is done only when the plain text does not already give what the reader needs."""
        return _capped(normalise_body(html_to_text(self.html))) if self.html else ""

    @property
    def best(self) -> str:
        """Plain text when there is some, else the text of the HTML part."""
        return self.text if self.text.strip() else self.html_text


def content_type(part: Message) -> str:
    """The part's media type, lower case; text/plain when missing or malformed (RFC 2045 5.2)."""
    raw = part.get("content-type")
    if raw is None:
        return "message/rfc822" if part.get_default_type() == "message/rfc822" else "text/plain"
    value = str(raw)[:_CTYPE_LIMIT].split(";", 1)[0].strip().lower()
    return value if value.count("/") == 1 else "text/plain"


def charset_of(part: Message) -> str | None:
    """The declared charset, read with a regex so a header with thousands of parameters is cheap."""
    raw = part.get("content-type")
    if raw is None:
        return None
    match = _CHARSET.search(str(raw)[:_CTYPE_LIMIT])
    return match.group(1) if match else None


def parts_of(part: Message) -> list[Message] | None:
    """The parts inside a multipart or message/* part; None for a leaf.

    Never get_payload() for this: on a leaf with 8-bit bytes it decodes them with the declared
    charset and only catches LookupError, so a label Python knows but cannot decode text with
    (`undefined`, `idna`, `utf-8\\0`) raises UnicodeError or ValueError out of the parser.
    """
    if not part.is_multipart():
        return None
    payload = part.get_payload()
    return [p for p in payload if isinstance(p, Message)] if isinstance(payload, list) else None


def is_attachment(part: Message) -> bool:
    """True when the sender marked the part as an attachment."""
    disposition = part.get("content-disposition")
    if disposition is None:
        return False
    return str(disposition)[:200].strip().lower().startswith("attachment")


def decode_part(part: Message, *, limit: int) -> str:
    """The text of a leaf part, transfer-decoded and charset-decoded with a fallback chain."""
    try:
        payload = part.get_payload(decode=True)
    except (ValueError, TypeError, AssertionError, LookupError):
        payload = None
    if not isinstance(payload, bytes):
        try:
            raw = part.get_payload()
        except ValueError:  # UnicodeError too: see parts_of
            raw = ""
        payload = raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else b""
    charset = charset_of(part)
    if charset is None and content_type(part) == "text/html":
        # No charset in the MIME header: the HTML's own <meta charset> is the best evidence.
        meta = _META_CHARSET.search(payload[:_META_SCAN])
        charset = meta.group(1).decode("ascii") if meta else None
    return decode_bytes(payload[:limit], charset)


def extract_body(msg: Message, *, max_parts: int) -> Body:
    """Collect the first plain-text and first HTML body and every attached message.

    Walks at most `max_parts` parts in the order they are written (depth first, a footer part
    after the alternative it follows), without recursion, so a message with 10,000 parts or deep
    nesting costs bounded work; attached messages are not entered.
    """
    body = Body()
    plain: list[str] = []
    html: list[str] = []
    stack: list[Message] = [msg]
    while stack:
        if body.parts_seen >= max_parts:
            body.truncated = True
            break
        part = stack.pop()
        body.parts_seen += 1
        ctype = content_type(part)
        payload = parts_of(part)
        if ctype.startswith("message/"):
            # delivery-status and disposition-notification payloads are header blocks, not mail.
            attached = ctype in ("message/rfc822", "message/global") and isinstance(payload, list)
            inner = payload[0] if attached and isinstance(payload, list) and payload else None
            if isinstance(inner, Message):
                body.attached.append(inner)
            continue
        if part.is_multipart() and isinstance(payload, list):
            stack.extend(p for p in reversed(payload) if isinstance(p, Message))
            continue
        if is_attachment(part) or not ctype.startswith("text/"):
            continue
        if ctype == "text/html" and not html:
            html.append(decode_part(part, limit=_HTML_PAYLOAD_LIMIT))
        elif ctype == "text/plain" and sum(map(len, plain)) < TEXT_LIMIT:
            # Several inline text parts (a note, then a footer) all belong to the body.
            text = decode_part(part, limit=_PAYLOAD_LIMIT)
            params = str(part.get("content-type", ""))[:_CTYPE_LIMIT]
            if _FLOWED.search(params):
                text = unflow(text, delsp=_DELSP.search(params) is not None)
            plain.append(text)
    body.text = _capped(normalise_body("\n\n".join(plain)))
    if html:
        body.html = html[0]
    return body


def message_text(msg: Message, *, max_parts: int) -> str:
    """The best readable text of a message (used for attached, forwarded messages)."""
    return extract_body(msg, max_parts=max_parts).best


def _capped(text: str) -> str:
    return text[:TEXT_LIMIT]
