"""A parsed email that is a website form notification, read as the visitor's form submission.

Called by `ingest.mail.read_email` before its forward and Reply-To logic. Pure: no I/O.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from datetime import datetime
from email.message import Message

from email_validator import EmailNotValidError, validate_email

from ingest.forms.fields import map_fields, single_line
from ingest.forms.reader import check_phone
from ingest.inquiry import Inquiry
from ingest.mail.addresses import Address, in_domains, parse_single
from ingest.mail.body import charset_of, content_type
from ingest.mail.companies import company_from_domain, country_from_domain
from ingest.mail.formmail import form_pairs, notification_vendor
from ingest.mail.forwards import find_forward, strip_forward_prefixes
from ingest.mail.headers import header_values, message_id, occurred_at
from ingest.mail.text import known_codec
from storage.errors import AddressError

_MESSAGE_LIKE = re.compile(r"message|comment|enquiry|inquiry|question|request|details")
_HTML_LIMIT = 2_000_000  # a notification is a few KB; bs4 on more would stall the worker


def read_form_notification(
    msg: Message,
    raw: bytes,
    *,
    sender: Address,
    subject: str | None,
    text: str,
    internal_domains: frozenset[str],
    received_at: datetime,
    max_parts: int = 1000,
) -> Inquiry | None:
    """The submitter's inquiry when `msg` is a form notification (sent or forwarded), else None."""
    html = _html(msg, max_parts=max_parts)
    if in_domains(sender.domain, internal_domains):
        forward = find_forward(text)  # a rep forwarded it: read the original below the header
        if forward is None:
            return None
        text, html = forward.body, ""
    plain_subject = strip_forward_prefixes(subject) or subject
    vendor = notification_vendor(plain_subject, sender.email, text, html)
    if vendor is None:
        return None
    pairs = form_pairs(sender.email, text, html)
    if pairs is None:
        return None
    mapped = map_fields(pairs)
    visitor = _visitor(mapped.email, msg, sender, internal_domains)
    if visitor is None:
        return None
    internal = in_domains(sender.domain, internal_domains)
    forwarded = internal and sender.email.lower() != visitor.lower()
    domain = visitor.rsplit("@", 1)[1]
    country = mapped.country.upper() if mapped.country and len(mapped.country) == 2 else None
    phone, region = check_phone(mapped.phone, country=country or country_from_domain(domain))
    fields: dict[str, str] = {**mapped.extra, **mapped.utm, "form_vendor": vendor}
    if mapped.page_url:
        fields["page_url"] = mapped.page_url
    if mapped.phone and phone is None:
        fields["phone_as_typed"] = mapped.phone
    if not forwarded:
        fields["via"] = sender.email
    message = mapped.message or next(
        (v for k, v in mapped.extra.items() if _MESSAGE_LIKE.search(k)), ""
    )
    ident = message_id(msg)
    return Inquiry(
        email=visitor,
        kind="form_submission",
        source=f"email:{vendor}" if vendor != "form" else "email:form-notification",
        occurred_at=occurred_at(msg, received_at),
        dedup_key=f"msgid:{ident}" if ident else "sha256:" + hashlib.sha256(raw).hexdigest(),
        name=mapped.name,
        company=mapped.company or company_from_domain(domain),
        title=mapped.title,
        phone=phone,
        country=country or region or country_from_domain(domain),
        subject=single_line(mapped.subject or plain_subject or "Form submission", 300),
        text=message,
        forwarded_by=sender.email if forwarded else None,
        fields=fields,
    )


def _visitor(
    typed: str | None, msg: Message, sender: Address, internal_domains: frozenset[str]
) -> str | None:
    """The address the visitor typed, else a single Reply-To; never the site's own sender."""
    candidates = [typed] if typed else []
    values = header_values(msg, "reply-to", rfc2047=False)
    if len(values) == 1:
        with contextlib.suppress(AddressError):
            candidates.append(parse_single(values[0], header="reply-to").email)
    for candidate in candidates:
        try:
            address = validate_email(candidate, check_deliverability=False).normalized.lower()
        except EmailNotValidError:
            continue
        domain = address.rsplit("@", 1)[1]
        if address != sender.email.lower() and not in_domains(domain, internal_domains):
            return address
    return None


def _html(msg: Message, *, max_parts: int) -> str:
    for count, part in enumerate(msg.walk()):
        if count >= max_parts:
            break
        if content_type(part) != "text/html" or part.get_filename():
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            continue
        # An unknown name, or a codec that is no text charset (undefined, idna): read as UTF-8.
        charset = known_codec(charset_of(part)) or "utf-8"
        return payload[:_HTML_LIMIT].decode(charset, "replace")
    return ""
