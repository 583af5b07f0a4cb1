"""Inbound-email webhook payloads (SendGrid, Mailgun, Postmark) turned into raw RFC 5322 bytes.

Pure functions, no I/O. Raw-MIME modes hand back the provider's bytes untouched; parsed and JSON
modes are rebuilt with `email.message.EmailMessage` so the one email reader handles every way in.
Rebuilt messages are deterministic (boundaries derive from the content), so a provider's retry
of the same post stores the same bytes and is deduplicated like any repeated message.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import HeaderParser
from email.policy import SMTP, compat32
from email.utils import formataddr
from typing import Any

from ingest.bodies import FormPost, Upload, load_json
from storage.errors import PayloadError

__all__ = ["FormPost", "InboundMail", "Upload", "build_message", "mailgun_mail", "postmark_mail"]

# Headers the rebuilt body defines itself; the provider's copies describe a body we no longer have.
_BODY_HEADERS = frozenset(
    {"content-type", "content-transfer-encoding", "mime-version", "content-disposition"}
)
_FOLD = re.compile(r"\r?\n[ \t]*|\r")
# Controls have no place in a header; a lone surrogate (JSON's "\ud800") cannot be encoded at all.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}")  # a MIME type or subtype (RFC 2045)
_MAX_HEADERS = 500
_MAX_HEADER_CHARS = 8192  # one rebuilt header; a real From or Subject is a fraction of it
_MAX_ATTACHMENTS = 100
_MAX_FILENAME = 255
_MAX_NAME = 200  # the lead's name column
_FOLD_AT = 78  # RFC 5322 section 2.1.1: lines SHOULD stay within 78 characters


@dataclass(frozen=True)
class InboundMail:
    """What a webhook delivered: the message to store and how it came (for the envelope)."""

    raw: bytes
    mode: str  # "raw" (provider's MIME untouched) or "rebuilt"
    envelope: dict[str, Any] = field(default_factory=dict)


def sendgrid_mail(post: FormPost) -> InboundMail:
    """SendGrid Inbound Parse: `email` holds the MIME in raw mode; else rebuild from the parts."""
    meta = _sendgrid_envelope(_json_field(post, "envelope"))
    raw = post.raw("email")
    if raw is not None:
        return InboundMail(_nonempty(raw, "email"), "raw", meta)
    charsets = _json_field(post, "charsets")
    charsets = charsets if isinstance(charsets, dict) else {}

    def text(name: str) -> str | None:
        charset = charsets.get(name)
        return post.text(name, charset if isinstance(charset, str) else "utf-8")

    header_block = text("headers")
    if header_block is None and text("from") is None:
        raise PayloadError("SendGrid post has neither `email` (raw mode) nor `headers`/`from`")
    headers = _parse_header_block(header_block or "")
    for name in ("from", "to", "cc", "subject"):  # parsed mode also gives these on their own
        value = text(name)
        if value and not any(h.lower() == name for h, _ in headers):
            headers.append((name.title(), value))
    info = _json_field(post, "attachment-info")
    info = info if isinstance(info, dict) else {}
    attachments = []
    for upload in post.files:
        if not re.fullmatch(r"attachment\d+", upload.field):
            continue
        found = info.get(upload.field)
        described: dict[str, Any] = found if isinstance(found, dict) else {}
        attachments.append(
            Upload(
                upload.field,
                str(described.get("filename") or upload.filename or upload.field),
                str(described.get("type") or upload.content_type or "application/octet-stream"),
                upload.data,
            )
        )
    raw = build_message(headers, text=text("text"), html=text("html"), attachments=attachments)
    return InboundMail(raw, "rebuilt", meta)


def mailgun_mail(post: FormPost) -> InboundMail:
    """Mailgun route forward(): `body-mime` for URLs ending in "mime", else the parsed fields."""
    meta = {k: _meta(post.text(k)) for k in ("sender", "recipient") if post.text(k)}
    raw = post.raw("body-mime")
    if raw is not None:
        return InboundMail(_nonempty(raw, "body-mime"), "raw", meta)
    listed = _json_field(post, "message-headers")
    if not isinstance(listed, list):
        raise PayloadError("Mailgun post has neither `body-mime` nor `message-headers`")
    headers = [(str(p[0]), str(p[1])) for p in listed if isinstance(p, list) and len(p) == 2]
    attachments = [u for u in post.files if re.fullmatch(r"attachment-\d+", u.field)]
    raw = build_message(
        headers, text=post.text("body-plain"), html=post.text("body-html"), attachments=attachments
    )
    return InboundMail(raw, "rebuilt", meta)


def postmark_mail(payload: object) -> InboundMail:
    """Postmark inbound JSON: `RawEmail` when the stream includes it, else rebuilt from fields."""
    if not isinstance(payload, dict):
        raise PayloadError("Postmark payload must be a JSON object")
    meta = {
        k: _meta(str(payload[k]))
        for k in ("MessageID", "OriginalRecipient", "MailboxHash")
        if payload.get(k)
    }
    raw_email = payload.get("RawEmail")
    if isinstance(raw_email, str) and raw_email.strip():
        try:  # an escaped 8-bit byte (\udcfc) goes back to the byte it stood for
            raw = raw_email.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:  # any other lone surrogate stands for nothing
            raw = _SURROGATE.sub("\ufffd", raw_email).encode("utf-8", "surrogateescape")
        return InboundMail(raw, "raw", meta)
    sender = _postmark_from(payload)
    headers: list[tuple[str, str]] = [("From", sender)]
    for key, name in (("To", "To"), ("Cc", "Cc"), ("ReplyTo", "Reply-To")):
        if isinstance(payload.get(key), str) and payload[key].strip():
            headers.append((name, payload[key]))
    for key, name in (("Subject", "Subject"), ("Date", "Date")):
        if isinstance(payload.get(key), str):
            headers.append((name, payload[key]))
    own = {h.lower() for h, _ in headers}
    listed = payload.get("Headers") or []
    if not isinstance(listed, list):
        raise PayloadError("Postmark `Headers` must be a list of {Name, Value}")
    for item in listed:
        label = item.get("Name") if isinstance(item, dict) else None
        if isinstance(label, str) and label.lower() not in own:
            headers.append((label, str(item.get("Value") or "")))
    if not any(h.lower() == "message-id" for h, _ in headers) and meta.get("MessageID"):
        # Postmark's own id is stable across its retries: a usable deduplication key.
        headers.append(("Message-ID", f"<{meta['MessageID']}@inbound.postmarkapp.com>"))
    attachments = [_postmark_attachment(a) for a in _list(payload.get("Attachments"))]
    raw = build_message(
        headers,
        text=_str_or_none(payload.get("TextBody")),
        html=_str_or_none(payload.get("HtmlBody")),
        attachments=attachments,
    )
    return InboundMail(raw, "rebuilt", meta)


def build_message(
    headers: Iterable[tuple[str, str]],
    *,
    text: str | None,
    html: str | None,
    attachments: Iterable[Upload] = (),
) -> bytes:
    """An RFC 5322 message from header pairs and bodies; unusable headers are dropped, not fatal.

    The header block is written here, not by `email`: its folder costs seconds of CPU on 1 KB of
    some address lists (non-ASCII words between dots or commas), and its modern parser raises on
    others (`((((…`). Values are kept as sent, unfolded and stripped of controls; non-ASCII
    stays UTF-8 (RFC 6532), which the email reader decodes like any 8-bit header.
    """
    headers, attachments = list(headers)[:_MAX_HEADERS], list(attachments)[:_MAX_ATTACHMENTS]
    text, html = _clean_body(text), _clean_body(html)
    lines: list[str] = []
    for name, value in headers:
        name = name.strip()
        if not re.fullmatch(r"[!-9;-~]{1,76}", name) or name.lower() in _BODY_HEADERS:
            continue
        # An RFC 2047 word can smuggle a newline: unfold and strip every CR/LF and control first.
        value = _CONTROL.sub(" ", _FOLD.sub(" ", str(value))).strip()[:_MAX_HEADER_CHARS]
        lines.append(_fold(f"{name}: {value}"))
    body = EmailMessage(policy=SMTP)
    if not (text or "").strip() and not (html or "").strip():
        text = ""
    if text is not None:
        body.set_content(text)
        if html:
            body.add_alternative(html, subtype="html")
    else:
        body.set_content(html or "", subtype="html")
    for upload in attachments:
        maintype, _, subtype = (upload.content_type or "").partition("/")
        subtype = subtype.split(";")[0].strip()
        maintype = maintype.strip().lower()
        if not (_TOKEN.fullmatch(maintype) and _TOKEN.fullmatch(subtype)) or maintype in (
            "multipart",
            "message",
        ):
            maintype, subtype = "application", "octet-stream"
        filename = _CONTROL.sub(" ", upload.filename or "").strip()[:_MAX_FILENAME]
        body.add_attachment(
            upload.data, maintype=maintype, subtype=subtype, filename=filename or "attachment"
        )
    _fix_boundaries(body, _seed(headers, text, html, attachments))
    head = "".join(line + "\r\n" for line in lines).encode("utf-8")
    return head + body.as_bytes()


def _clean_body(text: str | None) -> str | None:
    # JSON can carry a lone surrogate ("\ud800"), which no encoding can write.
    return None if text is None else _SURROGATE.sub("\ufffd", text)


def _fold(line: str) -> str:
    """A header line folded at spaces (RFC 5322 section 2.2.3), in one linear pass.

    Unfolding (removing each CRLF) gives the line back. The first line keeps the name and the
    first word; a word longer than a line stays whole.
    """
    if len(line) <= _FOLD_AT:
        return line
    name, _, value = line.partition(" ")
    words = value.split(" ")
    out = [f"{name} {words[0]}"]
    for word in words[1:]:
        if len(out[-1]) + 1 + len(word) > _FOLD_AT:
            out.append(" " + word)
        else:
            out[-1] += " " + word
    return "\r\n".join(out)


def _seed(
    headers: list[tuple[str, str]], text: str | None, html: str | None, attachments: list[Upload]
) -> str:
    digest = hashlib.sha256()
    for part in (*(f"{n}:{v}" for n, v in headers), text or "", html or ""):
        digest.update(part.encode("utf-8", "surrogatepass") + b"\0")
    for upload in attachments:
        digest.update(upload.data + b"\0")
    return digest.hexdigest()[:24]


def _fix_boundaries(msg: EmailMessage, seed: str) -> None:
    # The generator would pick random boundaries: the same post twice must give the same bytes.
    for number, part in enumerate(msg.walk()):
        if part.is_multipart():
            part.set_boundary(f"=_leadbot_{seed}_{number}")


def _parse_header_block(block: str) -> list[tuple[str, str]]:
    parsed = HeaderParser(policy=compat32).parsestr(block.lstrip() + "\n\n", headersonly=True)
    return [(name, str(value)) for name, value in parsed.items()]


def _postmark_from(payload: Mapping[str, Any]) -> str:
    full = payload.get("FromFull")
    if isinstance(full, dict) and isinstance(full.get("Email"), str) and full["Email"].strip():
        name = full["Name"] if isinstance(full.get("Name"), str) else ""
        # Not validated here: the email reader refuses an ambiguous address with a reason. The
        # name is cut to what a lead keeps: a 2,000-character one would push the address out.
        name = _CONTROL.sub(" ", name).strip()[:_MAX_NAME]
        return formataddr((name, _CONTROL.sub("", full["Email"]).strip()))
    sender = payload.get("From")
    if isinstance(sender, str) and sender.strip():
        return sender
    raise PayloadError("Postmark payload has no `From`/`FromFull`: no sender")


def _postmark_attachment(item: object) -> Upload:
    if not isinstance(item, dict) or not isinstance(item.get("Content"), str):
        raise PayloadError("Postmark attachment without base64 `Content`")
    try:
        data = base64.b64decode(item["Content"], validate=True)
    except (binascii.Error, ValueError):
        raise PayloadError("Postmark attachment `Content` is not base64") from None
    name = item.get("Name") if isinstance(item.get("Name"), str) else None
    ctype = item.get("ContentType") if isinstance(item.get("ContentType"), str) else None
    return Upload("attachment", name, ctype, data)


def _json_field(post: FormPost, name: str) -> object:
    value = post.text(name)
    if value is None:
        return None
    try:
        return load_json(value)
    except PayloadError:
        raise PayloadError(f"field `{name}` is not valid JSON") from None


def _meta(value: str | None, limit: int = 500) -> str:
    """A provider's envelope value fit to keep: one line, no controls, at most `limit` chars."""
    return _CONTROL.sub(" ", value or "").strip()[:limit]


def _sendgrid_envelope(envelope: object) -> dict[str, Any]:
    """SendGrid's SMTP envelope (`{"to": [...], "from": "..."}`), and only that: the field is
    client JSON, and nothing else of it is kept."""
    if not isinstance(envelope, dict):
        return {}
    to = envelope.get("to")
    kept: dict[str, Any] = {}
    if isinstance(to, list):
        kept["to"] = [_meta(t, 320) for t in to[:50] if isinstance(t, str)]
    if isinstance(envelope.get("from"), str):
        kept["from"] = _meta(envelope["from"], 320)
    return {"envelope": kept}


def _nonempty(raw: bytes, name: str) -> bytes:
    if not raw.strip():
        raise PayloadError(f"field `{name}` is empty")
    return raw


def _list(value: object) -> list[object]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise PayloadError("expected a JSON list")
    return value


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None
