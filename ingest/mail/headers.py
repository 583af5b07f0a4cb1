"""Reading the few headers we trust from a compat32 message, decoded (RFC 2047, 8-bit), cleaned."""

from __future__ import annotations

import base64
import binascii
import quopri
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.errors import HeaderParseError
from email.header import Header, decode_header
from email.message import Message
from email.utils import parsedate_to_datetime

from ingest.mail.text import clean_line, decode_bytes

# aiosmtpd passes a bare LF inside a header line through, so the parser can see a smuggled extra
# header: only these names (and the auto-reply / list markers in classify.py) are ever consulted.
TRUSTED = frozenset(
    {"from", "reply-to", "sender", "subject", "date", "message-id", "in-reply-to", "references"}
)

SUBJECT_LIMIT = 500
_SURROGATE = re.compile("[\udc80-\udcff]")
# An RFC 2047 encoded word: charset, B or Q, payload (bounded: a 1,000-character word is junk).
ENCODED_WORD = r"=\?([^?\s]{1,40})\?([bBqQ])\?([^?\s]{0,1000})\?="
_ENCODED = re.compile(ENCODED_WORD)
_RAW_LIMIT = 4000  # a 209 KB header is not a subject; decoding it all is wasted work
_HINT_PARTS = 20  # the parts looked at for the charset of raw 8-bit headers


def header_values(msg: Message, name: str, *, rfc2047: bool = True) -> list[str]:
    """Every value of header `name`, raw 8-bit (and RFC 2047) decoded, CR/LF not yet stripped.

    Address headers pass rfc2047=False: an encoded word may hide a comma or an @ that must stay
    inside the display name (`=?UTF-8?B?Rm9vLCBCYXI=?= <foo.bar@example.com>` is "Foo, Bar").
    """
    values = msg.get_all(name, []) or []
    hint = _body_charset(msg) if any(not str(v).isascii() for v in values) else None
    return [decode_value(raw, rfc2047=rfc2047, hint=hint) for raw in values]


def decode_value(raw: object, *, rfc2047: bool = True, hint: str | None = None) -> str:
    """Decode one header value as compat32 hands it out (str with surrogates, or Header).

    Raw 8-bit bytes are UTF-8 (RFC 6532) when they decode as such, else read in `hint`, the
    charset of the message's text (legacy clients write Big5 or KOI8-R headers unencoded).
    """
    if isinstance(raw, Header):
        # compat32 wraps raw 8-bit values in an unknown-8bit Header holding surrogate-escaped text.
        chunks: list[tuple[object, object]] = getattr(raw, "_chunks", [])
        text = "".join(
            _raw_8bit(s.encode("ascii", "surrogateescape"), hint) if isinstance(s, str) else str(s)
            for s, _charset in chunks
        )
    else:
        text = str(raw)
    text = text[:_RAW_LIMIT]
    if not text.isascii() and _SURROGATE.search(text):
        # message_from_bytes smuggles raw 8-bit header bytes in as surrogates (RFC 6532 or junk).
        text = _raw_8bit(text.encode("utf-8", "surrogateescape"), hint)
    if not rfc2047 or "=?" not in text:
        return text
    try:
        parts = decode_header(text)
    except (ValueError, LookupError, AssertionError, HeaderParseError):
        # HeaderParseError: base64 of a length no encoder writes (a truncated encoded word).
        return _words_one_by_one(text)
    # decode_header keeps the spaces of plain chunks and drops those between encoded words
    # (RFC 2047 section 6.2), so concatenation is the right join.
    return "".join(
        decode_bytes(chunk, charset) if isinstance(chunk, bytes) else chunk
        for chunk, charset in parts
    )


def _words_one_by_one(text: str) -> str:
    """Each encoded word decoded on its own, padded when base64 lost its tail; one that still
    fails stays as written."""

    def word(match: re.Match[str]) -> str:
        charset, encoding, payload = match.group(1), match.group(2).lower(), match.group(3)
        try:
            if encoding == "b":
                payload = payload.rstrip("=")
                payload = payload[: len(payload) - (len(payload) % 4 == 1)]  # a lone sextet
                data = base64.b64decode(payload + "=" * (-len(payload) % 4))
            else:
                data = quopri.decodestring(payload.replace("_", " ").encode("ascii"), header=True)
        except (ValueError, binascii.Error, UnicodeEncodeError):
            return match.group(0)
        return decode_bytes(data, charset)

    return _ENCODED.sub(word, text)


def _raw_8bit(data: bytes, hint: str | None) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return decode_bytes(data, hint)


def _body_charset(msg: Message) -> str | None:
    """The charset the message declares for its text: its own, or its first text part's."""
    for i, part in enumerate(msg.walk()):
        if i >= _HINT_PARTS:
            break
        if part.get_content_maintype() == "text" and (charset := part.get_content_charset()):
            return charset
    return None


def first(msg: Message, name: str, *, limit: int = SUBJECT_LIMIT) -> str | None:
    """The first value of a header as one clean line, or None when absent or blank."""
    values = header_values(msg, name)
    return clean_line(values[0], limit=limit) if values else None


def message_id(msg: Message) -> str | None:
    """The Message-ID without angle brackets or whitespace, or None when unusable."""
    value = first(msg, "message-id", limit=1000)
    if not value:
        return None
    match = re.search(r"<([^<>\s]+)>", value)
    ident = match.group(1) if match else value.strip("<> ").split()[0] if value.strip("<> ") else ""
    return ident[:500] or None


def occurred_at(msg: Message, received_at: datetime) -> datetime:
    """The Date header when it parses and is plausible, else received_at; always aware UTC."""
    fallback = _as_utc(received_at)
    value = first(msg, "date", limit=200)
    if not value:
        return fallback
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return fallback
    parsed = _as_utc(parsed)
    # Clock-skewed senders and spam forge dates; only accept what could be true.
    if parsed.year < 1990 or parsed > fallback + timedelta(days=1):
        return fallback
    return parsed


def _as_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


@dataclass(frozen=True)
class Threading:
    """What tells a reply apart from a new conversation."""

    in_reply_to: str | None
    references: str | None


def threading(msg: Message) -> Threading:
    """The In-Reply-To and References headers, cleaned."""
    return Threading(
        in_reply_to=first(msg, "in-reply-to", limit=2000),
        references=first(msg, "references", limit=2000),
    )
