"""Machine mail told by its text when its headers do not say: delivery, absence and challenge notices.

Wording (ingest.mail.machinewords, many languages) is only evidence. A rule fires when it meets an
automated sender, a report's shape (DSN fields, an SMTP transcript), the way mail software opens a
notice, or a notice with nothing a person would add; a person's first person or request in the
text rules the text rules out. A word alone never makes a person's message machine mail.
"""

# ruff: noqa: RUF001 - full-width CJK punctuation on purpose

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message
from functools import cached_property

from ingest.inquiry import NotALead
from ingest.mail.addresses import Address
from ingest.mail.body import Body
from ingest.mail.classify import classify, is_automated, is_daemon, named_daemon, relays_a_person
from ingest.mail.forwards import find_forward, is_forward_subject, strip_forward_prefixes
from ingest.mail.headers import first
from ingest.mail.labels import FORWARD_INTRO, FORWARD_SEPARATOR, RULE
from ingest.mail.machinewords import (
    AUTO_SUBJECT_WORDS,
    AWAY_SUBJECT,
    AWAY_TEXT,
    BOILERPLATE,
    BOUNCE_SUBJECT_WORDS,
    BOUNCE_TEXT,
    CHALLENGE_TEXT,
    COMPLAINT_SUBJECT,
    DSN_FIELD,
    ECHO_FIELD,
    LIST_LOCAL,
    LIST_NOTICE,
    MTA_OPENING,
    ORIGINAL_DIVIDER,
    PERSON_MARKER,
    SMTP_SHAPE,
)

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
_LETTER = re.compile(r"[^\W\d_]")
_JSON_EVENT = re.compile(
    r'^\s*\{.{0,2000}?"(notificationType|eventType|TopicArn|bounceType|complaintFeedbackType)"\s*:',
    re.DOTALL,
)
# The forward markers of ingest.mail.labels, searched in one pass over a text's lines.
_FORWARD_START = re.compile(
    "|".join(f"(?:{p.pattern})" for p in (FORWARD_SEPARATOR, FORWARD_INTRO, RULE)),
    re.IGNORECASE | re.MULTILINE,
)
_AUTO_LABEL = re.compile(rf"({AUTO_SUBJECT_WORDS.pattern})\s*[:：)\]]", re.IGNORECASE)
_IP_LITERAL = re.compile(r"\b\d{1,3}(\.\d{1,3}){3}\b")
_URL = re.compile(r"\bhttps?://", re.IGNORECASE)
# Something an SMTP transcript cannot do without (a reply code, a command): SMTP_SHAPE is slow.
_SMTP_HINT = re.compile(r"[245]\d\d|smtp|rcpt|mail from|<<<|>>>", re.IGNORECASE)
_TEXT_SCANNED = 8000  # a notice says what it is near the top; the rest is the returned original
_NOTICE_LINES = 80
_OPENING_LINES = 3  # a notice may open with "Message from yahoo.com." or a row of stars
_RESIDUAL_LETTERS = 25  # about four words of a person's own: more, and a person wrote it
_NOTE_LETTERS = 25  # "FYI, see below": a forward with no request of its own
_SHORT_TEXT = 2500  # characters: a notice is a few lines, a person's request may be long


def machine_text(msg: Message, sender: Address, subject: str | None, body: Body) -> NotALead | None:
    """A NotALead when an outside sender's text, with its sender and shape, is machine mail.

    Runs after ingest.mail.classify found nothing in the headers, for a sender outside our
    domains, after a website's form notification has been read (its visitor may write anything).
    """
    text = body.best
    if _JSON_EVENT.match(text):
        return NotALead("bounce", "a delivery or complaint event (JSON notification body)")
    notice = _Notice(_head(text))
    subject = subject or ""
    relay = relays_a_person(msg)
    automated = is_automated(sender) and not relay
    subject_says = BOUNCE_SUBJECT_WORDS.search(subject) is not None
    if automated and (subject_says or notice.says or notice.dsn):
        return NotALead("bounce", f"delivery report from {sender.email}")
    if notice.opens and (notice.dsn or notice.names_address) and not relay and not notice.person:
        return NotALead("bounce", "opens the way mail software opens a delivery notice")
    # The returned original (an attachment or a divider in the whole text) is looked for last.
    if (
        notice.names_address
        and (automated or subject_says or _returned(body, text) or notice.dsn)
        and notice.pure
    ):
        return NotALead("bounce", "a delivery-failure notice and nothing of a person's")
    listish = automated or LIST_LOCAL.search(sender.local) is not None
    if listish and LIST_NOTICE.search(notice.low) and not notice.person:
        return NotALead("bulk", f"a mailing-list server's notice from {sender.email}")
    if COMPLAINT_SUBJECT.search(subject) and (
        (body.attached and _letters(text) <= _NOTE_LETTERS) or _IP_LITERAL.search(subject)
    ):
        return NotALead("bounce", f"complaint feedback report: {subject[:80]!r}")
    if _away_context(msg, subject, automated) and notice.short and AWAY_TEXT.search(notice.low):
        return NotALead("auto_reply", f"absence notice: {subject[:80]!r}")
    if _URL.search(notice.head) and notice.short and len(CHALLENGE_TEXT.findall(notice.low)) >= 2:
        return NotALead("auto_reply", "challenge-response filter asking to verify the sender")
    if body.attached or is_forward_subject(subject):
        return _forwarded_machine_mail(body, text)
    return None


@dataclass
class _Notice:
    """The evidence a text gives, each piece computed only when a rule asks for it."""

    head: str  # the text above any returned original, quoted lines dropped

    @cached_property
    def low(self) -> str:
        return self.head.lower()  # machinewords' long vocabularies are lower case

    @cached_property
    def lines(self) -> list[str]:
        return [line for line in self.head.split("\n") if line.strip()]

    @cached_property
    def says(self) -> bool:
        return BOUNCE_TEXT.search(self.low) is not None

    @cached_property
    def dsn(self) -> bool:
        """Report fields (Final-Recipient, Action, Status…) or an SMTP transcript."""
        fields = {m.group(1).lower() for m in DSN_FIELD.finditer(self.head)}
        if len(fields) >= 2:
            return True
        return _SMTP_HINT.search(self.head) is not None and SMTP_SHAPE.search(self.head) is not None

    @cached_property
    def names_address(self) -> bool:
        return "@" in self.head  # a bounce names the address that failed

    @cached_property
    def short(self) -> bool:
        return len(self.head) <= _SHORT_TEXT

    @cached_property
    def opens(self) -> bool:
        return any(MTA_OPENING.match(line) for line in self.lines[:_OPENING_LINES])

    @cached_property
    def person(self) -> bool:
        """First person or a request outside a notice's template sentences."""
        for line in self.lines:
            if not PERSON_MARKER.search(line):
                continue
            if MTA_OPENING.match(line) or BOILERPLATE.search(line.lower()):
                continue  # "I'm sorry to have to inform you…" is Postfix's, not a person's
            if PERSON_MARKER.search(_ADDRESS_OR_URL.sub(" ", line)):
                return True
        return False

    @cached_property
    def pure(self) -> bool:
        """Every clause is a delivery report's: failure wording, boilerplate, fields, addresses."""
        if not self.names_address or not self.says or self.person:
            return False
        residual = 0
        for line in self.lines:
            line = line.strip()
            if ECHO_FIELD.match(line) or DSN_FIELD.match(line):
                continue
            for clause in _CLAUSE.split(line):
                low = clause.lower()
                if BOUNCE_TEXT.search(low) or BOILERPLATE.search(low) or SMTP_SHAPE.search(clause):
                    continue
                residual += _letters(_ADDRESS_OR_URL.sub(" ", clause))
                if residual > _RESIDUAL_LETTERS:
                    return False
        return True


def _head(text: str) -> str:
    """The text above the returned original or a forwarded message, without quoted lines."""
    head = text[:_TEXT_SCANNED]
    first_line = head.find("\n") + 1  # a notice may open with its own divider
    for divider in (ORIGINAL_DIVIDER, _FORWARD_START):
        found = divider.search(head, first_line) if first_line else None
        if found is not None:
            head = head[: found.start()]
    lines = [line for line in head.split("\n", _NOTICE_LINES) if not line.lstrip().startswith(">")]
    return "\n".join(lines[:_NOTICE_LINES])


def _returned(body: Body, text: str) -> bool:
    """The notice carries the returned original: attached, or below a divider."""
    return bool(body.attached) or ORIGINAL_DIVIDER.search(text) is not None


def _letters(text: str) -> int:
    return len(_LETTER.findall(text))


def _away_context(msg: Message, subject: str, automated: bool) -> bool:
    """An absence notice's context: a machine sender, an auto-reply label, a threaded "Out of office"."""
    if automated:
        return True
    # "Re: Automatic reply: …" is a person answering (or passing on) an auto-reply.
    inner = _strip_reply(strip_forward_prefixes(subject) or "")
    answered = bool(_REPLY.match(subject) or is_forward_subject(subject)) and bool(
        AUTO_SUBJECT_WORDS.match(inner)
    )
    # Named as a label ("…automātiskā atbilde: …", "… (Automatic Response)"), not mentioned.
    if _AUTO_LABEL.search(subject) is not None and not answered:
        return True
    threaded = first(msg, "in-reply-to") is not None or first(msg, "references") is not None
    return threaded and AWAY_SUBJECT.match(subject) is not None


def _strip_reply(subject: str) -> str:
    match = _REPLY.match(subject)
    return (subject[match.end() :] if match else subject).strip()


def _forwarded_machine_mail(body: Body, text: str) -> NotALead | None:
    """A person passing on a bounce with hardly a word of their own: a person decides."""
    verdict: NotALead | None = None
    if body.attached:
        verdict = classify(body.attached[0])
        note = text
    else:
        forward = find_forward(text)
        if forward is None:
            return None
        note = forward.note
        daemon = bool(forward.email) and is_daemon(Address(forward.email or "", None))
        if daemon or named_daemon(forward.name or ""):
            verdict = NotALead("bounce", "forwarded from a mailer daemon")
        elif _Notice(_head(forward.body)).dsn:
            verdict = NotALead("bounce", "forwarded delivery report")
    if verdict is None or verdict.kind not in ("bounce", "auto_reply"):
        return None
    if _letters(_ADDRESS_OR_URL.sub(" ", note)) > _NOTE_LETTERS:
        return None
    return NotALead(
        "review", f"forwarded machine mail with no request of its own ({verdict.reason})"
    )
