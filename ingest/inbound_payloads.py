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
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import HeaderParser
from email.policy import SMTP, compat32
from email.utils import formataddr
from typing import Any

from storage.errors import PayloadError

# Headers the rebuilt body defines itself; the provider's copies describe a body we no longer have.
_BODY_HEADERS = frozenset(
    {"content-type", "content-transfer-encoding", "mime-version", "content-disposition"}
)
_FOLD = re.compile(r"\r?\n[ \t]*|\r")
_MAX_HEADERS = 500
_MAX_ATTACHMENTS = 100


@dataclass(frozen=True)
class Upload:
    """One file of a multipart post: its form field, file name, type and bytes."""

    field: str
    filename: str | None
    content_type: str | None
    data: bytes


@dataclass
class FormPost:
    """A decoded form post with values kept as bytes, so raw MIME stays byte-exact."""

    fields: dict[str, bytes] = field(default_factory=dict)
    files: list[Upload] = field(default_factory=list)

    def text(self, name: str, charset: str = "utf-8") -> str | None:
        value = self.fields.get(name)
        if value is None:
            upload = next((f for f in self.files if f.field == name), None)
            value = upload.data if upload is not None else None
        return None if value is None else _decode(value, charset)

    def raw(self, name: str) -> bytes | None:
        """A field's bytes whether it came as a plain field or as a file part."""
        if name in self.fields:
            return self.fields[name]
        upload = next((f for f in self.files if f.field == name), None)
        return upload.data if upload is not None else None


@dataclass(frozen=True)
class InboundMail:
    """What a webhook delivered: the message to store and how it came (for the envelope)."""

    raw: bytes
    mode: str  # "raw" (provider's MIME untouched) or "rebuilt"
    envelope: dict[str, Any] = field(default_factory=dict)


def sendgrid_mail(post: FormPost) -> InboundMail:
    """SendGrid Inbound Parse: `email` holds the MIME in raw mode; else rebuild from the parts."""
    envelope = _json_field(post, "envelope")
    meta = {"envelope": envelope} if isinstance(envelope, dict) else {}
    raw = post.raw("email")
    if raw is not None:
        return InboundMail(_nonempty(raw, "email"), "raw", meta)
    charsets = _json_field(post, "charsets")
    charsets = charsets if isinstance(charsets, dict) else {}

    def text(name: str) -> str | None:
        return post.text(name, str(charsets.get(name) or "utf-8"))

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
    meta = {k: post.text(k) for k in ("sender", "recipient") if post.text(k)}
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
        k: str(payload[k])[:500]
        for k in ("MessageID", "OriginalRecipient", "MailboxHash")
        if payload.get(k)
    }
    raw_email = payload.get("RawEmail")
    if isinstance(raw_email, str) and raw_email.strip():
        return InboundMail(raw_email.encode("utf-8", "surrogateescape"), "raw", meta)
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
    """An RFC 5322 message from header pairs and bodies; unusable headers are dropped, not fatal."""
    headers, attachments = list(headers), list(attachments)
    msg = EmailMessage(policy=SMTP)
    for count, (name, value) in enumerate(headers):
        if count >= _MAX_HEADERS:
            break
        name = name.strip()
        if not re.fullmatch(r"[!-9;-~]{1,76}", name) or name.lower() in _BODY_HEADERS:
            continue
        try:  # an RFC 2047 word can smuggle a newline: unfold and strip every CR/LF first
            msg[name] = _FOLD.sub(" ", value).strip()
        except (ValueError, TypeError, IndexError, AttributeError):
            continue
    if not (text or "").strip() and not (html or "").strip():
        text = ""
    if text is not None:
        msg.set_content(text)
        if html:
            msg.add_alternative(html, subtype="html")
    else:
        msg.set_content(html or "", subtype="html")
    for number, upload in enumerate(attachments):
        if number >= _MAX_ATTACHMENTS:
            break
        maintype, _, subtype = (upload.content_type or "application/octet-stream").partition("/")
        if not maintype.isascii() or not subtype or "/" in subtype or maintype == "multipart":
            maintype, subtype = "application", "octet-stream"
        msg.add_attachment(
            upload.data,
            maintype=maintype.strip(),
            subtype=subtype.split(";")[0].strip(),
            filename=_FOLD.sub(" ", upload.filename or "attachment"),
        )
    _fix_boundaries(msg, _seed(headers, text, html, attachments))
    return msg.as_bytes()


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
        # Not validated here: the email reader refuses an ambiguous address with a reason.
        return formataddr((_FOLD.sub(" ", name).strip(), full["Email"].strip()))
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
        return json.loads(value)
    except ValueError:
        raise PayloadError(f"field `{name}` is not valid JSON") from None


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


def _decode(data: bytes, charset: str) -> str:
    try:
        return data.decode(charset, "replace")
    except LookupError:  # an unknown charset name must not fail the message
        return data.decode("utf-8", "replace")
