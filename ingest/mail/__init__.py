"""Reading one raw email into an Inquiry (or a NotALead): the pure parsing layer, no I/O."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.feedparser import BytesFeedParser
from email.message import Message
from email.policy import compat32
from typing import Any

from ingest.inquiry import ActivityKind, Inquiry, NotALead
from ingest.mail.addresses import (
    Address,
    display_name,
    in_domains,
    is_noreply,
    is_robot,
    normalise,
    parse_single,
)
from ingest.mail.body import TEXT_LIMIT, Body, extract_body, message_text, parts_of
from ingest.mail.classify import classify, is_daemon
from ingest.mail.companies import company_from_domain, country_from_domain, registrable
from ingest.mail.formmail_reader import read_form_notification
from ingest.mail.forwards import (
    Forward,
    find_attributed,
    find_forward,
    is_forward_subject,
    sender_in_body,
    strip_forward_prefixes,
)
from ingest.mail.headers import SUBJECT_LIMIT, first, header_values, message_id, occurred_at
from ingest.mail.names import VIA, person_name, read_shown
from ingest.mail.notices import machine_text
from ingest.mail.quotes import strip_quotes
from ingest.mail.receipts import read_receipt
from ingest.mail.signature import read_signature, split_signature
from ingest.mail.text import clean_line
from storage.errors import AddressError, ParseError

__all__ = ["parse_message", "read_email"]

# Reply prefixes as clients localise them: AW (de), SV (nordic), Antw (nl), R/RIF (it), RES (pt),
# Odp (pl), VS (fi), YNT (tr), ΑΠ/ΣΧΕΤ (el), Отв/Ответ (ru), 回复/答复/回覆 (zh), 返信 (ja), 답장 (ko).
_REPLY_PREFIX = re.compile(
    r"^\s*(re|aw|sv|antw|antwort|r|rif|res|odp|vs|ynt|απ|σχετ|отв|ответ|"
    r"回复|答复|回覆|答覆|返信|답장|رد|תשובה|השב)\s*(\[\d+\])?\s*[:\uff1a]",
    re.IGNORECASE,
)
_MAX_NESTED_FORWARDS = 5
_NOTE_LIMIT = 10_000


@dataclass
class _Lead:
    """The person an email is about and the text they wrote, before enrichment."""

    address: Address
    subject: str | None
    text: str
    reply: bool
    forwarded_by: str | None = None
    fields: dict[str, str] = field(default_factory=dict)


def read_email(
    raw: bytes,
    *,
    internal_domains: frozenset[str] = frozenset(),
    received_at: datetime,
    max_parts: int = 1000,
    resolved: Mapping[str, Any] | None = None,
) -> Inquiry | NotALead:
    """Parse a raw RFC 5322 message into the inquiry it carries, or say why it is not a lead.

    `resolved` ({"email", "name"}): the sender a person named for a message kept for review (a
    forward without a findable original sender, or no usable From); that person becomes the lead.
    Raises ParseError when the input has no single usable sender or is not an email at all.
    """
    msg = parse_message(raw)
    verdict = classify(msg, ours=internal_domains)
    if verdict is not None:
        return verdict
    try:
        sender = _single(msg, "from", ours=internal_domains)  # a rep's own domain may be `.local`
    except ParseError:
        if resolved is None:
            raise
        # No usable From, and a person said who wrote it: they are the lead, with the whole text.
        subject = first(msg, "subject", limit=SUBJECT_LIMIT)
        found = _resolved(resolved, subject, extract_body(msg, max_parts=max_parts).best)
        return _inquiry(found, msg, raw, received_at=received_at)
    body = extract_body(msg, max_parts=max_parts)
    subject = first(msg, "subject", limit=SUBJECT_LIMIT)
    receipt = read_receipt(msg, subject, body.best)
    if receipt is not None:
        return receipt
    # A website's form notification (sent by the site or forwarded by a rep): the visitor is the lead.
    notification = read_form_notification(
        msg,
        raw,
        sender=sender,
        subject=subject,
        text=body.text or body.html_text,
        internal_domains=internal_domains,
        received_at=received_at,
        max_parts=max_parts,
    )
    if notification is not None:
        return notification
    internal = in_domains(sender.domain, internal_domains)
    machine = None if internal else machine_text(msg, sender, subject, body)
    if machine is not None:
        return machine
    lead: _Lead | NotALead
    if (person := _relayed_by_list(msg, sender, internal_domains)) is not None:
        # "Jane Doe via Sales" <sales@…>: a group or list sent it on; Jane is whom it names.
        lead = _Lead(person, subject, body.best, reply=_is_reply(msg, subject))
        lead.fields["via"] = sender.email
    elif internal:
        lead = _from_internal(msg, sender, body, subject, internal_domains, max_parts=max_parts)
    elif is_robot(sender) and (via := _reply_to(msg, internal_domains)) is not None:
        lead = _Lead(via, subject, body.best, reply=False, fields={"via": sender.email})
    elif is_noreply(sender):
        # A notice or a relay that names no one to answer (a person found in it would be in
        # Reply-To or read as a form notification above): a person decides, nothing is lost.
        lead = NotALead(
            "review", f"from {sender.email}, a no-reply address naming no one to answer"
        )
    else:
        lead = _Lead(sender, subject, body.best, reply=_is_reply(msg, subject))
    if isinstance(lead, NotALead) and lead.kind == "review" and resolved is not None:
        forward = find_forward(body.text) or find_forward(body.html_text)
        found = _resolved(
            resolved,
            (forward.subject if forward else None) or strip_forward_prefixes(subject),
            forward.body if forward else body.best,
        )
        lead = _forwarded(found, sender, forward.note if forward else "", via="resolved")
    if isinstance(lead, NotALead):
        return lead
    if is_daemon(lead.address):  # a forwarded bounce: its "sender" is the mail system
        return NotALead("bounce", f"the message's author is a mailer daemon ({lead.address.email})")
    if body.truncated:
        lead.fields["parts_truncated"] = str(body.parts_seen)
    return _inquiry(lead, msg, raw, received_at=received_at)


def _resolved(resolved: Mapping[str, Any], subject: str | None, text: str) -> _Lead:
    """The sender a person named in review as the lead, their address validated like any lead's."""
    try:
        email = normalise(str(resolved.get("email") or ""))
    except AddressError as exc:
        raise ParseError(f"the sender named in review is unusable: {exc}") from None
    person = Address(email, display_name(str(resolved.get("name") or "")))
    fields = {"resolved_by": str(resolved.get("by") or "")}
    return _Lead(person, subject, text, reply=False, fields=fields)


def parse_message(raw: bytes) -> Message:
    """The message of `raw`, structure checked; ParseError when it is none or nests too deep."""
    if not isinstance(raw, bytes | bytearray) or not raw.strip():
        raise ParseError("empty input: not an email message")
    # compat32 never raises on header access, unlike policy.default on broken headers; every
    # header we read is decoded by ingest.mail.headers with a charset fallback instead.
    if raw[:3] == b"\xef\xbb\xbf" or raw[:1] in (b"\r", b"\n"):
        # A file saved by a Windows tool starts with a byte order mark, a pasted one with blank
        # lines: either would make every header body text.
        raw = raw.removeprefix(b"\xef\xbb\xbf").lstrip(b"\r\n")
    try:
        msg = parse_bytes(raw)
    except RecursionError:  # the stdlib parser recurses per level: ~330 levels exhaust the stack
        raise ParseError(f"MIME parts nested more than {MAX_DEPTH} levels deep") from None
    if not msg.keys():
        raise ParseError("not an email message: no header fields found")
    if msg.get_content_maintype() == "multipart" and not msg.is_multipart():
        msg = _with_boundary_repaired(msg) or msg
    if _depth(msg) > MAX_DEPTH:  # walk(), the generator and the readers recurse per level too
        raise ParseError(f"MIME parts nested more than {MAX_DEPTH} levels deep")
    return msg


_BOUNDARY_PARAM = re.compile(r'boundary\s*=\s*(?:"([^"]{1,200})"|([^\s;"]{1,200}))', re.IGNORECASE)


def _with_boundary_repaired(msg: Message) -> Message | None:
    """The message re-read with the boundary its body uses, when its Content-Type folded the
    boundary over two lines (`boundary="simple\r\n boundary"`: Outlook 2000) or lost the `;`
    before it; None when the body uses none of the readings (the parts stay unread text)."""
    header = str(msg.get("content-type", ""))
    found = _BOUNDARY_PARAM.search(header)
    body = msg.get_payload()
    if found is None or not isinstance(body, str):
        return None
    written = found.group(1) or found.group(2)
    for boundary in (re.sub(r"\r?\n", "", written), re.sub(r"\r?\n[ \t]*", "", written)):
        if boundary and re.search(rf"^--{re.escape(boundary)}[ \t]*\r?$", body, re.MULTILINE):
            ctype = msg.get_content_type()
            del msg["content-type"]
            msg["Content-Type"] = f'{ctype}; boundary="{boundary}"'
            try:
                return parse_bytes(msg.as_bytes(policy=compat32))
            except (ValueError, TypeError, LookupError, RecursionError):
                return None
    return None


# Real mail nests a few levels (a forward of a forward of a signed alternative: 6 or 7); 128
# leaves walk(), the generator and the parser itself far from Python's recursion limit.
MAX_DEPTH = 128


def _depth(msg: Message) -> int:
    """How deep the parts go, counted without recursion (and stopping once past MAX_DEPTH)."""
    deepest = 0
    stack = [(msg, 0)]
    while stack:
        part, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > MAX_DEPTH:
            break
        inner = parts_of(part)
        if inner:
            stack.extend((p, depth + 1) for p in inner)
    return deepest


FEED_CHUNK = 1 << 16  # bytes handed to the parser at a time


def parse_bytes(raw: bytes | bytearray) -> Message:
    """`email.message_from_bytes`, fed in pieces: the same message for a fraction of the memory.

    Given the whole input at once, the parser decodes all of it to one string and buffers that in
    a StringIO of 4 bytes a character before splitting it into lines: a 25 MB message peaked at
    7.7 times its size. Fed 64 KiB at a time, only a piece is ever buffered, and the peak is the
    lines and the joined payload of the biggest part (2.7 times; bench/memory.py).
    """
    parser = BytesFeedParser(policy=compat32)
    view = memoryview(raw)
    for start in range(0, len(view), FEED_CHUNK):
        parser.feed(bytes(view[start : start + FEED_CHUNK]))  # a line cut in two is rejoined
    return parser.close()


def _single(msg: Message, name: str, *, ours: frozenset[str] = frozenset()) -> Address:
    values = header_values(msg, name, rfc2047=False)
    if not values:
        raise ParseError(f"no {name.title()} header: no sender to attribute the message to")
    if len(values) > 1:
        raise ParseError(f"{len(values)} {name.title()} headers: ambiguous sender, not guessing")
    try:
        return parse_single(values[0], header=name, ours=ours)
    except AddressError as exc:
        raise ParseError(str(exc)) from None


def _reply_to(msg: Message, internal_domains: frozenset[str]) -> Address | None:
    """The external person a form notification asks us to answer, if exactly one is named."""
    values = header_values(msg, "reply-to", rfc2047=False)
    if len(values) != 1:
        return None
    try:
        address = parse_single(values[0], header="reply-to")
    except AddressError:
        return None
    if in_domains(address.domain, internal_domains) or is_robot(address):
        return None
    return address


def _relayed_by_list(
    msg: Message, sender: Address, internal_domains: frozenset[str]
) -> Address | None:
    """The person a Google Group or a mailing list relays ("Jane Doe via Sales" <sales@acme>
    with Reply-To: jane@globex): the one outside Reply-To, named as the display name says."""
    if sender.name is None or VIA.search(sender.name) is None:
        return None
    person = _reply_to(msg, internal_domains)
    if person is None or person.domain == sender.domain:
        return None
    return Address(person.email, person.name or read_shown(sender.name).person)


def _is_reply(msg: Message, subject: str | None) -> bool:
    threaded = first(msg, "in-reply-to") or first(msg, "references")
    return bool(threaded or (subject and _REPLY_PREFIX.match(subject)))


def _from_internal(
    msg: Message,
    rep: Address,
    body: Body,
    subject: str | None,
    internal_domains: frozenset[str],
    *,
    max_parts: int,
) -> _Lead | NotALead:
    """A rep's message: the forwarded original sender, a website form's Reply-To, or not a lead."""
    forward = find_forward(body.text) or find_forward(body.html_text)
    if forward is None and body.attached:
        return _from_attachment(body.attached[0], rep, body, subject, internal_domains, max_parts)
    if forward is None and is_forward_subject(subject):
        forward = find_attributed(body.text) or find_attributed(body.html_text)
    if forward is None:
        if is_forward_subject(subject):
            return NotALead("review", f"forward from {rep.email}: no findable original sender")
        if not _is_reply_subject(subject) and (find_attributed(body.text) is not None):
            # An attribution above the original and no Re: or Fwd: to say which: a person decides.
            return NotALead("review", f"from {rep.email}: an attributed quote, forward or reply?")
        via = _reply_to(msg, internal_domains)
        if via is not None:
            return _Lead(via, subject, body.best, reply=False, fields={"via": rep.email})
        return NotALead("internal", f"sent by {rep.email} (internal) and not a forward")
    return _from_inline(forward, rep, subject, internal_domains)


def _from_inline(
    forward: Forward, rep: Address, subject: str | None, internal_domains: frozenset[str]
) -> _Lead | NotALead:
    note = forward.note
    for _ in range(_MAX_NESTED_FORWARDS):
        email = forward.email or sender_in_body(
            forward.body, forward.name, exclude=lambda a: _internal_address(a, internal_domains)
        )
        if email is None:
            return NotALead("review", f"forward from {rep.email}: original sender has no address")
        try:
            original = parse_single(email, header="from")
        except AddressError as exc:
            return NotALead("review", f"forward from {rep.email}: original sender unusable ({exc})")
        if not in_domains(original.domain, internal_domains):
            break
        nested = find_forward(forward.body)  # a colleague's forward, forwarded again
        if nested is None:
            return NotALead("review", f"forward from {rep.email}: original sender is internal")
        forward = nested
    else:
        return NotALead("review", f"forward from {rep.email}: too deeply nested")
    address = Address(original.email, forward.name or original.name)
    original_subject = forward.subject or strip_forward_prefixes(subject)
    lead = _Lead(address, original_subject, forward.body, reply=_is_reply_subject(original_subject))
    return _forwarded(lead, rep, note, via="inline")


def _from_attachment(
    attached: Message,
    rep: Address,
    body: Body,
    subject: str | None,
    internal_domains: frozenset[str],
    max_parts: int,
) -> _Lead | NotALead:
    try:
        original = _single(attached, "from")
    except ParseError as exc:
        return NotALead("review", f"forward from {rep.email}: attached message unusable ({exc})")
    if in_domains(original.domain, internal_domains):
        return NotALead("review", f"forward from {rep.email}: attached message is internal")
    original_subject = first(attached, "subject", limit=SUBJECT_LIMIT) or strip_forward_prefixes(
        subject
    )
    text = message_text(attached, max_parts=max_parts)
    lead = _Lead(original, original_subject, text, reply=_is_reply_subject(original_subject))
    return _forwarded(lead, rep, body.best, via="attachment")


def _internal_address(address: str, internal_domains: frozenset[str]) -> bool:
    return in_domains(address.rsplit("@", 1)[-1], internal_domains)


def _forwarded(lead: _Lead, rep: Address, note: str, *, via: str) -> _Lead:
    lead.forwarded_by = rep.email
    lead.fields["forwarded_as"] = via
    note = strip_quotes(note).strip()
    if note:
        lead.fields["forward_note"] = note[:_NOTE_LIMIT]
    return lead


def _is_reply_subject(subject: str | None) -> bool:
    return bool(subject and _REPLY_PREFIX.match(subject))


def _inquiry(lead: _Lead, msg: Message, raw: bytes, *, received_at: datetime) -> Inquiry:
    author, address = lead.address.name, lead.address.email
    text, signature_lines = split_signature(strip_quotes(lead.text), author=author, address=address)
    region = country_from_domain(lead.address.domain)
    signature = read_signature(
        signature_lines, region=region, body=text, author=author, address=address
    )
    ident = message_id(msg)
    # "Acme GmbH" <info@…> names a company, not a person; "Jane Doe - Acme" <…@acme.de> both.
    shown = read_shown(lead.address.name, registrable(lead.address.domain)[0])
    kind: ActivityKind = "email_reply" if lead.reply else "email_inquiry"
    return Inquiry(
        email=lead.address.email,
        kind=kind,
        source="email",
        occurred_at=occurred_at(msg, received_at),
        dedup_key=f"msgid:{ident}" if ident else "sha256:" + hashlib.sha256(raw).hexdigest(),
        name=person_name(shown.person, signature.name),
        company=signature.company or shown.organisation or company_from_domain(lead.address.domain),
        title=signature.title or shown.title,
        phone=signature.phone,
        country=signature.phone_region or region,
        subject=clean_line(lead.subject, limit=SUBJECT_LIMIT),
        text=text[:TEXT_LIMIT],
        forwarded_by=lead.forwarded_by,
        fields=lead.fields,
    )
