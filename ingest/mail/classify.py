"""Mail archived but never a lead: auto-replies (RFC 3834), bounces (RFC 3464), bulk and lists.

Two stages. `classify` reads only headers and MIME structure, which are enough on their own: a
report part, a null or daemon return path, Auto-Submitted, list headers. `machine_text` then
weighs what the text says (ingest.mail.machinewords, many languages) against who sent it and how
it is built: a delivery report's wording counts only with a machine sender, a notice made of
nothing else, or a report's shape, never as a word alone on a person's message.
"""

# ruff: noqa: RUF001 - full-width CJK punctuation on purpose

from __future__ import annotations

import re
from collections.abc import Iterator
from email.message import Message

from ingest.inquiry import NotALead
from ingest.mail.addresses import Address
from ingest.mail.body import Body, content_type
from ingest.mail.forwards import find_forward, is_forward_subject, strip_forward_prefixes
from ingest.mail.headers import first
from ingest.mail.labels import FORWARD_INTRO, FORWARD_SEPARATOR, RULE
from ingest.mail.machinewords import (
    AUTO_SUBJECT_ALONE,
    AUTO_SUBJECT_WORDS,
    AUTOMATED_LOCAL,
    AUTOMATED_NAME,
    AWAY_SUBJECT,
    AWAY_TEXT,
    BOILERPLATE,
    BOUNCE_SUBJECT_ALONE,
    BOUNCE_SUBJECT_WORDS,
    BOUNCE_TEXT,
    CHALLENGE_TEXT,
    COMPLAINT_SUBJECT,
    DAEMON_LOCAL,
    DAEMON_NAME,
    DSN_FIELD,
    ECHO_FIELD,
    MTA_OPENING,
    ORIGINAL_DIVIDER,
    PERSON_MARKER,
    PREFIX_AFTER,
    SMTP_SHAPE,
)
from ingest.mail.receipts import calendar_response, read_receipt

# Machine reports inside a message: delivery status, complaint feedback (RFC 5965 ARF), the
# returned headers of a bounce (RFC 3462 text/rfc822-headers).
_REPORT_TYPES = frozenset(
    {
        "multipart/report",
        "message/delivery-status",
        "message/global-delivery-status",
        "message/feedback-report",
        "text/rfc822-headers",
        "message/global-headers",
    }
)
_ATTACHED = frozenset({"message/rfc822", "message/global"})
_MAX_PARTS_SEEN = 50
# List servers writing about a post (not a member, awaiting moderation), not a person.
_LIST_SERVER = re.compile(
    r"(^|[<\s\"])([^@<\s\"]+-(owner|bounces?|request)|owner-[^@<\s\"]+|mailman|majordomo|"
    r"listserv|sympa|ezmlm)@",
    re.IGNORECASE,
)
# RFC 2369 / 2919 list fields and the older ones of ezmlm, fml and Mailman 2.
_LIST_HEADERS = (
    "list-id",
    "list-unsubscribe",
    "list-subscribe",
    "list-help",
    "list-post",
    "list-owner",
    "list-archive",
    "mailing-list",
    "x-mailing-list",
    "x-ml-name",
    "x-mlserver",
    "x-list-administrivia",
)
_SUPPRESS = re.compile(r"\b(oof|autoreply|all)\b", re.IGNORECASE)
_LOCAL = re.compile(r"([^\s<>\"@,;:()\[\]]+)@")
_BARE_DAEMON = re.compile(r"^\W*(mailer[-_]?daemon|postmaster)\W*$", re.IGNORECASE)
_DISPLAY = re.compile(r"^\s*\"?([^\"<]*?)\"?\s*<|\(([^)]*)\)\s*$")
_DAEMON_WORD = re.compile(r"\b(mailer[-_]?daemon|postmaster)\b", re.IGNORECASE)
_NULL_PATH = re.compile(r"^\s*<\s*>\s*$")
_REPLY = re.compile(
    r"^\s*(re|aw|sv|antw|r|rif|res|odp|vs|ynt|отв)\s*(\[\d+\])?\s*[:：]", re.IGNORECASE
)
# Clauses, not sentences: "my mail was undeliverable, so again: we need 20 licences" is a
# person's request with a bounce's word in its first clause.
_CLAUSE = re.compile(r"(?<=[.!?;:,])\s+|(?<=[。！？、，：])")
_ADDRESS_OR_URL = re.compile(
    r"\S+@\S+|<[^>]*>|\b(https?|ftp)://\S+|\b[\w-]+(\.[\w-]+)+\.[a-z]{2,}\b|\[\d[\d.]+\]",
    re.IGNORECASE,
)
_SEPARATORS = re.compile(r"[-_.+=]+")
_LETTER = re.compile(r"[^\W\d_]")
_JSON_EVENT = re.compile(
    r'^\s*\{.{0,2000}?"(notificationType|eventType|TopicArn|bounceType|complaintFeedbackType)"\s*:',
    re.DOTALL,
)
_AUTO_LABEL = re.compile(rf"({AUTO_SUBJECT_WORDS.pattern})\s*[:：)\]]", re.IGNORECASE)
_IP_LITERAL = re.compile(r"\b\d{1,3}(\.\d{1,3}){3}\b")
_URL = re.compile(r"\bhttps?://", re.IGNORECASE)
_TEXT_SCANNED = 8000  # a notice says what it is near the top; the rest is the returned original
_NOTICE_LINES = 80
_OPENING_LINES = 3  # a notice may open with "Message from yahoo.com." or a row of stars
_RESIDUAL_LETTERS = 25  # about four words of a person's own: more, and a person wrote it
_NOTE_LETTERS = 40  # "FYI, see below": a forward with no request of its own
_SHORT_TEXT = 1500


def classify(msg: Message) -> NotALead | None:
    """A NotALead when the headers or the MIME structure say auto-reply, bounce or bulk mail."""
    for check in (_report_receipt, _bounce, _auto_reply, _bulk, calendar_response):
        verdict = check(msg)
        if verdict is not None:
            return verdict
    return None


def machine_text(msg: Message, sender: Address, subject: str | None, body: Body) -> NotALead | None:
    """A NotALead when an outside sender's text, with its sender and shape, is machine mail.

    Runs after `classify` found nothing in the headers, for a sender outside our domains.
    """
    text = body.best
    head = _notice_head(text)
    automated = is_automated(sender) and not _relays_a_person(msg)
    subject = subject or ""
    subject_says = bool(BOUNCE_SUBJECT_WORDS.search(subject))
    if _JSON_EVENT.match(text):
        return NotALead("bounce", "a delivery or complaint event (JSON notification body)")
    dsn = _dsn_shape(head)
    says = BOUNCE_TEXT.search(head) is not None
    if automated and (dsn or says or subject_says):
        return NotALead("bounce", f"delivery report from {sender.email}")
    person = _speaks_as_a_person(head)
    if (
        not person
        and _opens_like_a_notice(head)
        and (dsn or "@" in head)
        and not _relays_a_person(msg)
    ):
        return NotALead("bounce", "opens the way mail software opens a delivery notice")
    pure = not person and _pure_notice(head)
    returned = bool(body.attached) or ORIGINAL_DIVIDER.search(text) is not None
    if pure and (automated or subject_says or returned or dsn):
        return NotALead("bounce", "a delivery-failure notice and nothing of a person's")
    if COMPLAINT_SUBJECT.search(subject) and (
        (body.attached and _letters(text) <= _NOTE_LETTERS) or _IP_LITERAL.search(subject)
    ):
        return NotALead("bounce", f"complaint feedback report: {subject[:80]!r}")
    away = _away(msg, subject, head, automated)
    if away is not None:
        return away
    if len(CHALLENGE_TEXT.findall(head)) >= 2 and _URL.search(head):
        return NotALead("auto_reply", "challenge-response filter asking to verify the sender")
    return _forwarded_machine_mail(body, text)


def is_automated(address: Address) -> bool:
    """True for no-reply, mailer and gateway senders: software, not a person, writes from them."""
    return bool(
        DAEMON_LOCAL.match(address.local)
        or AUTOMATED_LOCAL.search(_words(address.local))
        or (
            address.name and (DAEMON_NAME.match(address.name) or AUTOMATED_NAME.match(address.name))
        )
    )


def is_daemon(address: Address) -> bool:
    """True for MAILER-DAEMON and postmaster: a lead is never made from their address."""
    return bool(DAEMON_LOCAL.match(address.local))


def _words(local: str) -> str:
    return _SEPARATORS.sub(" ", local)


def _report_receipt(msg: Message) -> NotALead | None:
    # A multipart/report of report-type=disposition-notification is a read receipt, not a bounce.
    return read_receipt(msg, None, "")


def _own_parts(msg: Message) -> Iterator[Message]:
    """The message's parts, without entering attached messages: a person may forward a bounce."""
    stack = [msg]
    seen = 0
    while stack and seen <= _MAX_PARTS_SEEN:
        part = stack.pop()
        seen += 1
        yield part
        payload = part.get_payload()
        if (
            part.is_multipart()
            and isinstance(payload, list)
            and content_type(part) not in _ATTACHED
        ):
            stack.extend(reversed([p for p in payload if isinstance(p, Message)]))


def _bounce(msg: Message) -> NotALead | None:
    for part in _own_parts(msg):
        ctype = content_type(part)
        if ctype in _REPORT_TYPES:
            where = "delivery report" if part is msg else "a machine report inside"
            return NotALead("bounce", f"{where} ({ctype})")
    if any(name.lower().startswith("x-amz-sns-") for name in msg):
        return NotALead("bounce", "Amazon SNS notification (SES bounce or complaint)")
    for header in ("from", "sender"):
        if _daemon_header(first(msg, header, limit=500) or ""):
            return NotALead("bounce", "sent by a mailer daemon or postmaster")
    for header in ("return-path", "envelope-from"):
        # RFC 5321 4.5.5: a delivery report travels with a null reverse-path, and only a report
        # may; the receiving MTA writes it into Return-Path.
        path = first(msg, header, limit=500)
        if path is not None and (_NULL_PATH.match(path) or _daemon_header(path)):
            return NotALead(
                "bounce", f"{header.title()}: {path.strip()[:80]} (a report's null path)"
            )
    if msg.get("x-failed-recipients") is not None:
        return NotALead("bounce", "X-Failed-Recipients header present (Exim bounce)")
    subject = (first(msg, "subject") or "").strip()
    # Anchored at the start: a customer may well write "Re: undeliverable parcel".
    if BOUNCE_SUBJECT_ALONE.match(subject):
        return NotALead("bounce", f"bounce subject: {subject[:80]!r}")
    words = BOUNCE_SUBJECT_WORDS.match(subject)
    if words and PREFIX_AFTER.match(subject, words.end()):
        return NotALead("bounce", f"bounce subject: {subject[:80]!r}")
    return None


def _daemon_header(value: str) -> bool:
    if _BARE_DAEMON.match(value) or any(DAEMON_LOCAL.match(m) for m in _LOCAL.findall(value)):
        return True
    name = _DISPLAY.search(value)
    return bool(name and DAEMON_NAME.match((name.group(1) or name.group(2) or "").strip()))


def _auto_reply(msg: Message) -> NotALead | None:
    submitted = (first(msg, "auto-submitted", limit=100) or "").lower()
    if submitted and not submitted.startswith("no"):
        return NotALead("auto_reply", f"Auto-Submitted: {submitted} (RFC 3834)")
    for marker in ("x-autoreply", "x-autorespond", "x-autoresponse", "x-autogenerated"):
        if msg.get(marker) is not None:
            return NotALead("auto_reply", f"{marker} header present")
    suppress = first(msg, "x-auto-response-suppress", limit=200) or ""
    if _SUPPRESS.search(suppress):
        return NotALead("auto_reply", f"X-Auto-Response-Suppress: {suppress}")
    precedence = (first(msg, "precedence", limit=100) or "").lower()
    if precedence == "auto_reply":
        return NotALead("auto_reply", "Precedence: auto_reply")
    subject = first(msg, "subject") or ""
    if AUTO_SUBJECT_ALONE.match(subject):
        return NotALead("auto_reply", f"auto-reply subject: {subject[:80]!r}")
    return None


def _bulk(msg: Message) -> NotALead | None:
    # Only list headers, Precedence and list servers: our own website's form plugins add other
    # marketing headers to notifications that are genuine leads.
    precedence = (first(msg, "precedence", limit=100) or "").lower()
    if precedence in ("bulk", "list", "junk"):
        return NotALead("bulk", f"Precedence: {precedence}")
    for marker in _LIST_HEADERS:
        if msg.get(marker) is not None:
            return NotALead("bulk", f"{marker} header present (mailing list or newsletter)")
    sender = " ".join(filter(None, (first(msg, "from"), first(msg, "sender"))))
    if _LIST_SERVER.search(sender):
        return NotALead("bulk", "sent by a mailing-list server")
    return None


def _relays_a_person(msg: Message) -> bool:
    """A no-reply sender with a person's Reply-To is a form or shop relaying that person."""
    reply_to = first(msg, "reply-to", limit=500) or ""
    locals_ = _LOCAL.findall(reply_to)
    return bool(locals_) and not any(
        DAEMON_LOCAL.match(local) or AUTOMATED_LOCAL.search(_words(local)) for local in locals_
    )


def _notice_head(text: str) -> str:
    """The text above the returned original, without quoted lines."""
    head = text[:_TEXT_SCANNED]
    divider = ORIGINAL_DIVIDER.search(head)
    if divider is not None and divider.start() > 0:
        head = head[: divider.start()]
    lines: list[str] = []
    for line in head.split("\n"):
        if lines and (
            FORWARD_SEPARATOR.match(line) or FORWARD_INTRO.match(line) or RULE.match(line)
        ):
            break
        if not line.lstrip().startswith(">"):
            lines.append(line)
        if len(lines) >= _NOTICE_LINES:
            break
    return "\n".join(lines)


def _dsn_shape(text: str) -> bool:
    """Report fields (Final-Recipient, Action, Status…) or an SMTP transcript in the text."""
    fields = {m.group(1).lower() for m in DSN_FIELD.finditer(text)}
    return len(fields) >= 2 or SMTP_SHAPE.search(text) is not None


def _speaks_as_a_person(head: str) -> bool:
    """First person or a request outside a notice's template sentences: a person wrote it."""
    for line in head.split("\n"):
        if MTA_OPENING.match(line) or BOILERPLATE.search(line):
            continue
        if PERSON_MARKER.search(_ADDRESS_OR_URL.sub(" ", line)):
            return True
    return False


def _opens_like_a_notice(head: str) -> bool:
    lines = [line for line in head.split("\n") if line.strip()][:_OPENING_LINES]
    return any(MTA_OPENING.match(line) for line in lines)


def _pure_notice(head: str) -> bool:
    """Every sentence is a delivery report's: failure wording, boilerplate, fields, addresses."""
    said = False
    residual = 0
    if "@" not in head:  # a bounce names the address that failed
        return False
    for line in head.split("\n"):
        line = line.strip()
        if not line or ECHO_FIELD.match(line) or DSN_FIELD.match(line):
            continue
        for sentence in _CLAUSE.split(line):
            if BOUNCE_TEXT.search(sentence):
                said = True
            elif not BOILERPLATE.search(sentence) and not SMTP_SHAPE.search(sentence):
                residual += _letters(_ADDRESS_OR_URL.sub(" ", sentence))
            if residual > _RESIDUAL_LETTERS:
                return False
    return said


def _letters(text: str) -> int:
    return len(_LETTER.findall(text))


def _away(msg: Message, subject: str, head: str, automated: bool) -> NotALead | None:
    """A vacation notice whose headers do not say so: its wording, with a machine's context."""
    threaded = first(msg, "in-reply-to") is not None or first(msg, "references") is not None
    short = _letters(head) <= _SHORT_TEXT
    if not (short and AWAY_TEXT.search(head)):
        return None
    # "Re: Automatic reply: …" is a person answering (or passing on) an auto-reply.
    answered = bool(_REPLY.match(subject) or is_forward_subject(subject)) and bool(
        AUTO_SUBJECT_WORDS.match(_strip_reply(strip_forward_prefixes(subject) or ""))
    )
    # Named as a label ("…automātiskā atbilde: …", "… (Automatic Response)"), not mentioned.
    named = _AUTO_LABEL.search(subject) is not None and not answered
    if automated or named or (threaded and AWAY_SUBJECT.match(subject)):
        return NotALead("auto_reply", f"absence notice: {subject[:80]!r}")
    return None


def _strip_reply(subject: str) -> str:
    match = _REPLY.match(subject)
    return (subject[match.end() :] if match else subject).strip()


def _forwarded_machine_mail(body: Body, text: str) -> NotALead | None:
    """A person passing on a bounce with hardly a word of their own: a person decides."""
    if body.attached:
        inner = body.attached[0]
        verdict = classify(inner)
        note = text
    else:
        forward = find_forward(text)
        if forward is None:
            return None
        note = forward.note
        verdict = None
        name = forward.name or ""
        daemon = bool(forward.email) and is_daemon(Address(forward.email or "", None))
        if daemon or _DAEMON_WORD.search(name) or DAEMON_NAME.match(name):
            verdict = NotALead("bounce", "forwarded from a mailer daemon")
        elif _dsn_shape(_notice_head(forward.body)):
            verdict = NotALead("bounce", "forwarded delivery report")
    if verdict is None or verdict.kind not in ("bounce", "auto_reply"):
        return None
    if _letters(_ADDRESS_OR_URL.sub(" ", note)) > _NOTE_LETTERS:
        return None
    return NotALead(
        "review", f"forwarded machine mail with no request of its own ({verdict.reason})"
    )
