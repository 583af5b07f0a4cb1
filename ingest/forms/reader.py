"""Reads a stored form post or provider webhook (raw kind "form") into an Inquiry.

`ingest.pipeline` registers `read_form` as the reader of kind "form" (so `leadbot reprocess`
reads forms too).
Pure: the request body and its envelope (form key, provider, the form's mapping as it was when
accepted) are all it reads, so `leadbot reprocess` gives the same answer as the live request,
except that a form's current configuration, when the runtime has one, wins over the snapshot.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from ingest.bodies import decode, media_type, parse_form
from ingest.forms.config import FormConfig, FormsConfig
from ingest.forms.fields import MappedForm, map_fields, single_line
from ingest.forms.providers import EXTRACTORS, Fields
from ingest.inquiry import VISITOR_FIELDS, VISITOR_ID, Inquiry, NotALead, ReadContext
from storage.errors import FieldError, ParseError, PayloadError
from storage.models import RawInput

MAX_FIELDS = 1000
# Alphabets whose letters pass for Latin ones (Unicode TR #39 "mixed-script confusables").
_CONFUSABLE_SCRIPTS = frozenset({"LATIN", "CYRILLIC", "GREEK", "ARMENIAN", "CHEROKEE", "COPTIC"})


def _multipart(content: bytes, content_type: str, *, max_parts: int) -> Fields:
    """Fields of a multipart post, each decoded in the charset its part declared (else UTF-8).

    python-multipart, not `email`: a part header over ingest.bodies' cap is refused before it is
    parsed, where `email`'s header parser spent ~12 s on 20,000 parameters.
    """
    try:
        post = parse_form(
            content, content_type, max_fields=max_parts, max_field_bytes=max(1, len(content))
        )
    except PayloadError as e:
        raise ParseError(str(e)) from None
    out: dict[str, list[str]] = {}
    for name, values in post.repeated.items():
        if name:
            charset = post.charsets.get(name)
            out[name] = [decode(v, charset) for v in values]
    for upload in post.files:  # files stay in the archived body; the lead only notes them
        if upload.field:
            name = single_line(upload.filename or "", 100)
            out.setdefault(upload.field, []).append(f"{name} ({len(upload.data)} bytes)")
    return {k: v[0] if len(v) == 1 else v for k, v in out.items()}


def _flatten_json(data: Mapping[str, Any]) -> Fields:
    out: Fields = {}
    for key, value in list(data.items())[:MAX_FIELDS]:
        if isinstance(value, dict):  # {"contact": {"email": …}} reads like contact[email]
            for sub, inner in list(value.items())[:MAX_FIELDS]:
                if isinstance(inner, str | int | float) and not isinstance(inner, bool):
                    out[f"{key}[{sub}]"] = str(inner)
        elif isinstance(value, list):
            out[str(key)] = [str(v) for v in value if isinstance(v, str | int | float)]
        elif isinstance(value, bool):
            out[str(key)] = "yes" if value else "no"
        elif value is not None:
            out[str(key)] = str(value)
    return out


def parse_body(content: bytes, content_type: str | None, *, max_parts: int = MAX_FIELDS) -> Any:
    """The body as a dict: form fields, or the JSON object as sent."""
    media = media_type(content_type)
    if media == "application/json" or media.endswith("+json"):
        try:
            data = json.loads(content)
        except ValueError as e:
            raise ParseError(f"body is not valid JSON: {e}") from None
        except RecursionError:  # `[[[[…` fits in any body limit and exhausts the C stack guard
            raise ParseError("body is not valid JSON: nested too deeply") from None
        if not isinstance(data, dict):
            raise ParseError("JSON body must be an object")
        return data
    if media == "multipart/form-data":
        return _multipart(content, content_type or "", max_parts=max_parts)
    if media in ("application/x-www-form-urlencoded", ""):
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError:
            text = content.decode("latin-1")
        try:
            pairs = parse_qs(text, keep_blank_values=True, max_num_fields=MAX_FIELDS)
        except ValueError as e:
            raise ParseError(f"form body not readable: {e}") from None
        return {k: v[0] if len(v) == 1 else v for k, v in pairs.items()}
    raise ParseError(f"unsupported content type {media!r}")


def check_email(value: str | None) -> str:
    if not value:
        raise FieldError("email", "missing")
    try:
        result = validate_email(value, check_deliverability=False)
    except EmailNotValidError as e:
        raise FieldError("email", str(e)) from None
    for label in re.split(r"[@.]", result.normalized):
        if not label.isascii() and len(_scripts(label)) > 1:  # ASCII letters are all Latin
            raise FieldError("email", f"mixes alphabets in {label[:64]!r} (a look-alike address)")
    return result.normalized.lower()


def _scripts(label: str) -> set[str]:
    """The look-alike alphabets in a label: "jane" spelt with a Cyrillic a (U+0430) has two.

    Only Latin, Cyrillic, Greek and the like count: CJK or Arabic next to Latin is ordinary.
    """
    found = set()
    for ch in label:
        if ch.isalpha():
            script = unicodedata.name(ch, "?").split(" ", 1)[0]
            if script in _CONFUSABLE_SCRIPTS:
                found.add(script)
    return found


def check_phone(value: str | None, *, country: str | None) -> tuple[str | None, str | None]:
    """(E.164, region) when the number is valid; (None, None) otherwise."""
    if not value:
        return None, None
    for region in dict.fromkeys((country, None, "US")):
        try:
            number = phonenumbers.parse(value[:50], region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
            return e164, phonenumbers.region_code_for_number(number)
    return None, None


def _when(value: str | None, fallback: datetime) -> datetime:
    if not value:
        return fallback
    try:
        if value.isdigit():  # HubSpot sends epoch milliseconds
            when = datetime.fromtimestamp(int(value) / 1000, tz=UTC)
        else:
            when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (ValueError, OverflowError):
        return fallback
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(when.astimezone(UTC), fallback)  # a clock ahead of ours never dates the future


def _scalar(value: object) -> str | None:
    """A provider's id, time or form name as text; any other JSON in its place reads as absent
    (payloads are the sender's: `"name": {…}` or `"id": [1]` arrive too)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    return str(value) or None


def _settings(raw: RawInput, ctx: ReadContext) -> tuple[str, dict[str, Any]]:
    envelope = raw.envelope or {}
    key = str(envelope.get("form_key") or "")
    snapshot = dict(envelope.get("config") or {})
    forms = ctx.options.get("forms")
    if isinstance(forms, FormsConfig) and key in forms.forms:
        live: FormConfig = forms.forms[key]
        snapshot = live.snapshot()
    return key, snapshot


def read_form(raw: RawInput, ctx: ReadContext) -> Inquiry | NotALead:
    """Raw kind "form" -> Inquiry; FieldError names the missing or invalid field."""
    envelope = raw.envelope or {}
    key, config = _settings(raw, ctx)
    provider = envelope.get("provider")
    body = parse_body(raw.content, raw.content_type, max_parts=ctx.max_parts)
    event_id: str | None = None
    submitted_at: str | None = None
    form_name: str | None = None
    if provider:
        extract = EXTRACTORS.get(str(provider))
        if extract is None:
            raise ParseError(f"unknown provider {provider!r}")
        extracted = extract(body)
        data, event_id = extracted.fields, _scalar(extracted.event_id)
        submitted_at, form_name = _scalar(extracted.submitted_at), _scalar(extracted.form_name)
    else:
        data = _flatten_json(body) if raw.content_type and "json" in raw.content_type else body
    visitor = None  # the tracking script's visitor id: their earlier visits join the lead
    for name in VISITOR_FIELDS:
        value = data.pop(name, None)
        if isinstance(value, str) and VISITOR_ID.match(value):
            visitor = visitor or value
    honeypot = str(config.get("honeypot") or "")
    if honeypot and honeypot in data:
        trap = data.pop(honeypot)
        if trap not in ("", []):
            return NotALead("spam", f"honeypot field {honeypot!r} was filled")
    mapped = map_fields(data, mapping=config.get("mapping") or {})
    return _inquiry(
        raw,
        mapped,
        key=key,
        provider=provider,
        event_id=event_id,
        submitted_at=submitted_at,
        form_name=form_name,
        required=config.get("required") or ["email"],
        visitor=visitor,
    )


def _inquiry(
    raw: RawInput,
    mapped: MappedForm,
    *,
    key: str,
    provider: str | None,
    event_id: str | None,
    submitted_at: str | None,
    form_name: str | None,
    required: list[str],
    visitor: str | None = None,
) -> Inquiry:
    email = check_email(mapped.email)
    for name in required:
        if name != "email" and not getattr(mapped, name, None) and not mapped.extra.get(name):
            raise FieldError(name, "missing")
    country = mapped.country.upper() if mapped.country and len(mapped.country) == 2 else None
    phone, region = check_phone(mapped.phone, country=country)
    if mapped.phone and phone is None and "phone" in required:
        raise FieldError("phone", f"not a valid phone number: {mapped.phone[:50]!r}")
    fields: dict[str, str] = {**mapped.extra, **mapped.utm}
    if mapped.page_url:
        fields["page_url"] = mapped.page_url
    if mapped.phone and phone is None:
        fields["phone_as_typed"] = mapped.phone
    if mapped.country and country is None:
        fields["country_name"] = mapped.country
    fields["_form"] = key
    if form_name:
        fields["_form_name"] = single_line(form_name)
    if visitor:
        fields["_visitor"] = visitor
    received = raw.received_at or datetime.now(UTC)
    if received.tzinfo is None:
        received = received.replace(tzinfo=UTC)
    if provider and event_id:
        dedup = f"{provider}:{event_id}"[:300]
    else:
        dedup = "sha256:" + hashlib.sha256(raw.content).hexdigest()
    return Inquiry(
        email=email,
        kind="form_submission",
        source=f"webhook:{provider}" if provider else f"form:{key}",
        occurred_at=_when(submitted_at, received),
        dedup_key=dedup,
        name=mapped.name,
        company=mapped.company,
        title=mapped.title,
        phone=phone,
        country=country or (region if phone else None),
        subject=mapped.subject or f"Form submission: {single_line(form_name or key, 100)}",
        text=mapped.message or "",
        fields=fields,
    )
