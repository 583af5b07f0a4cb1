"""Request bodies read with hard caps: urlencoded and multipart forms, JSON. Pure, no I/O.

Every way in that takes a form body (web forms, form-builder webhooks, inbound-email webhooks)
reads it here, so one set of caps holds for all of them. The caps bound the CPU an input can
cost, not only its size: `email`'s header parser spends ~12 s on one multipart part whose
`Content-Type` carries 20,000 parameters, while python-multipart refuses a part header over
PART_HEADER_BYTES before reading it (and reads parameters in linear time).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import FormParser, parse_options_header

from storage.errors import PayloadError

MAX_FIELDS = 1000  # fields (or parts) of one post; a real form has tens
PART_HEADER_BYTES = 4096  # one header line of one part (Content-Disposition, Content-Type)
PART_HEADERS = 16  # header lines of one part; browsers send two or three
MAX_BOUNDARY = 70  # RFC 2046 section 5.1.1
HEAD_BYTES = 16 * 1024  # a request's whole head, as the listener caps it (bot.http_edge)
_CHARSET = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+-]{0,39}")  # IANA charset names, with room


@dataclass(frozen=True)
class Upload:
    """One file of a multipart post: its form field, file name, type and bytes."""

    field: str
    filename: str | None
    content_type: str | None
    data: bytes


@dataclass
class FormPost:
    """A decoded form post with values kept as bytes, so raw MIME stays byte-exact.

    `charsets` holds the charset a part declared (`Content-Type: text/plain; charset=…`), by
    field name, for the readers that decode values as text.
    """

    fields: dict[str, bytes] = field(default_factory=dict)
    files: list[Upload] = field(default_factory=list)
    charsets: dict[str, str] = field(default_factory=dict)
    repeated: dict[str, list[bytes]] = field(default_factory=dict)  # every value of a name

    def text(self, name: str, charset: str = "utf-8") -> str | None:
        value = self.raw(name)
        return None if value is None else decode(value, charset)

    def raw(self, name: str) -> bytes | None:
        """A field's bytes whether it came as a plain field or as a file part."""
        if name in self.fields:
            return self.fields[name]
        upload = next((f for f in self.files if f.field == name), None)
        return upload.data if upload is not None else None


def decode(data: bytes, charset: str | None) -> str:
    """Bytes as text in `charset`; a missing, unknown or malformed charset name reads as UTF-8.

    The name comes from the sender: `utf-8\\0`, a 2,000-character name or a codec that is not a
    text encoding (`rot13`, `zlib`) must not fail the input.
    """
    name = (charset or "").strip().strip('"')
    if not _CHARSET.fullmatch(name):
        name = "utf-8"
    try:
        text = data.decode(name, "replace")
    except (LookupError, TypeError, ValueError):
        return data.decode("utf-8", "replace")
    return text if isinstance(text, str) else data.decode("utf-8", "replace")


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def normal_content_type(content_type: str | None) -> str | None:
    """The media type, boundary and charset of a request's `Content-Type`, nothing else.

    What is stored with the body (within `raw_input.content_type`, 200 characters) and all a
    reader needs. Raises PayloadError for a boundary RFC 2046 does not allow (over 70 characters).
    """
    if not content_type:
        return None
    media, params = parse_options_header(content_type[:HEAD_BYTES])
    out = media.decode("latin-1")[:100]
    boundary = params.get(b"boundary")
    if boundary is not None:
        if not 0 < len(boundary) <= MAX_BOUNDARY:
            raise PayloadError(f"multipart boundary must be 1 to {MAX_BOUNDARY} characters")
        out += '; boundary="' + boundary.decode("latin-1").replace('"', "") + '"'
    charset = params.get(b"charset", b"").decode("latin-1")
    if _CHARSET.fullmatch(charset):
        out += f"; charset={charset}"
    return out


def parse_form(
    body: bytes, content_type: str, *, max_fields: int = MAX_FIELDS, max_field_bytes: int
) -> FormPost:
    """A urlencoded or multipart body, values kept as bytes. Raises PayloadError.

    A name given twice keeps its first value in `fields` (every value in `repeated`).
    """
    media = media_type(content_type)
    if media not in ("multipart/form-data", "application/x-www-form-urlencoded"):
        raise PayloadError(f"expected multipart/form-data or urlencoded, got {media[:100]!r}")
    post = FormPost()
    count = [0]  # fields and files so far: refused at the cap, before the rest is read

    def counted() -> None:
        count[0] += 1
        if count[0] > max_fields:
            raise PayloadError(f"too many fields (over {max_fields})")

    def keep(name: str, value: bytes) -> None:
        counted()
        post.repeated.setdefault(name, []).append(value)
        post.fields.setdefault(name, value)

    if media == "application/x-www-form-urlencoded":
        # Through latin-1, which maps each byte to one character and back: parse_qsl on bytes
        # re-encodes its results as ASCII and raises on any escaped 8-bit byte (`%C3%A9`).
        try:
            pairs = parse_qsl(
                body.decode("latin-1"),
                keep_blank_values=True,
                max_num_fields=max_fields,
                encoding="latin-1",
            )
        except ValueError as e:
            raise PayloadError(f"malformed form body: {e}") from None
        for k, v in pairs:
            keep(k.encode("latin-1").decode("utf-8", "replace"), v.encode("latin-1"))
        return post

    def on_field(f: Any) -> None:
        if f.field_name is None:
            return
        name = f.field_name.decode("utf-8", "replace")
        keep(name, f.value or b"")
        charset = _part_charset(f.content_type)
        if charset:
            post.charsets.setdefault(name, charset)

    def on_file(f: Any) -> None:
        counted()
        f.file_object.seek(0)
        post.files.append(
            Upload(
                (f.field_name or b"").decode("utf-8", "replace"),
                f.file_name.decode("utf-8", "replace") if f.file_name else None,
                f.content_type,
                f.file_object.read(),
            )
        )

    config = {
        "MAX_MEMORY_FILE_SIZE": float("inf"),  # the whole body is already capped in memory
        "MAX_FIELDS": max_fields,
        "MAX_FIELD_SIZE": max_field_bytes,
        "MAX_HEADER_COUNT": PART_HEADERS,
        "MAX_HEADER_SIZE": PART_HEADER_BYTES,
    }
    _, params = parse_options_header(content_type[:HEAD_BYTES])
    boundary = params.get(b"boundary")
    if not boundary:
        raise PayloadError("multipart body without a boundary")
    try:
        parser = FormParser(media, on_field, on_file, boundary=boundary, config=config)
        parser.write(body)
        parser.finalize()
    except (FormParserError, ValueError, TypeError, LookupError) as e:
        raise PayloadError(f"malformed form body: {str(e)[:200]}") from None
    return post


def _part_charset(content_type: str | None) -> str | None:
    if not content_type or "charset" not in content_type.lower():
        return None
    charset = parse_options_header(content_type)[1].get(b"charset", b"").decode("latin-1")
    return charset if _CHARSET.fullmatch(charset) else None


def load_json(data: bytes | str) -> Any:
    """JSON as sent; PayloadError for anything that is not (bad bytes, `[[[[…` nested too deep)."""
    try:
        return json.loads(data)
    except ValueError as e:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise PayloadError(f"malformed JSON: {str(e)[:200]}") from None
    except RecursionError:  # 100,000 `[` fit in any body limit and exhaust the C stack guard
        raise PayloadError("malformed JSON: nested too deeply") from None
