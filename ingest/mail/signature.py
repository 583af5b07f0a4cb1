"""Signatures: where they start, and the title, company and phone number they give away."""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers

from ingest.mail.sigwords import (
    BANNER,
    COMPANY,
    DELIMITER,
    DISCLAIMER,
    MOBILE,
    PHONE_LABEL,
    TITLE,
    VALEDICTION,
)
from ingest.mail.text import clean_line

FIELD_LIMIT = 200
_MAX_SIGNATURE_LINES = 12

_NAME = re.compile(r"^[^\W\d_][\w.'\u2019-]*( [^\W\d_][\w.'\u2019-]*){0,3}$")
# "Doe, Jane" (directories and Outlook's Last, First): the name as the person writes it.
_LAST_FIRST = re.compile(
    r"^([^\W\d_][\w'\u2019-]+), ([^\W\d_][\w.'\u2019-]*( [^\W\d_][\w.'\u2019-]*)?)$"
)
_CONTACT = re.compile(r"@|https?://|www\.|\d{3}")
# "VP Sales | Acme Corp | +1 415 …" and "CEO, Acme Corp": one line, several signature fields.
_FIELD_SEPARATOR = re.compile(
    r"\s+[|•·]\s+|\s*[|•·]\s*(?=\S)|,\s+|\s+[\u2013\u2014-]\s+|\s+(?:@|at)\s+"
)
_PIPES = re.compile(r"\s*[|•·]\s*")
_PARAGRAPH = re.compile(r"\n\s*\n")
_AUTHOR_SCAN = 8  # lines from the end searched for the author's name opening a signature
_DISCLAIMER_LIMIT = 3000  # a paragraph longer than this is someone writing, not boilerplate


@dataclass(frozen=True)
class Signature:
    """What a signature block tells about its author."""

    name: str | None = None
    title: str | None = None
    company: str | None = None
    phone: str | None = None  # E.164
    phone_region: str | None = None  # ISO alpha-2 of the phone number's country


def split_signature(text: str, *, author: str | None = None) -> tuple[str, list[str]]:
    """(message without signature, signature lines); the valediction itself is dropped.

    Without a delimiter, a mobile footer or a closing formula, a line near the end that starts
    with the author's display name opens the signature ("Jane Doe | VP Sales | Acme").
    """
    lines = strip_disclaimers(text).split("\n")
    for i, line in enumerate(lines):
        if DELIMITER.match(line) or MOBILE.match(line):
            return _trim_valediction(lines[:i], lines[i + 1 :])
    text, sig = _trim_valediction(lines, [])
    if not sig and author:
        return _split_at_author(lines, author)
    return text, sig


def _split_at_author(lines: list[str], author: str) -> tuple[str, list[str]]:
    names = {author.strip().lower(), author.split()[0].lower()} if author.split() else set()
    for i in range(max(1, len(lines) - _AUTHOR_SCAN), len(lines)):
        head = lines[i].strip().lower()
        if any(head == n or head.startswith((n + " |", n + ",", n + " -")) for n in names):
            return "\n".join(lines[:i]).strip(), lines[i:]
    return "\n".join(lines).strip(), []


def strip_disclaimers(text: str) -> str:
    """The text without trailing confidentiality notices and leading external-mail banners."""
    paragraphs = _PARAGRAPH.split(text)
    while len(paragraphs) > 1 and _is_boilerplate(paragraphs[-1], DISCLAIMER):
        paragraphs.pop()
    while len(paragraphs) > 1 and _is_boilerplate(paragraphs[0], BANNER):
        paragraphs.pop(0)
    return "\n\n".join(paragraphs)


def _is_boilerplate(paragraph: str, pattern: re.Pattern[str]) -> bool:
    return len(paragraph) <= _DISCLAIMER_LIMIT and pattern.search(paragraph) is not None


def _trim_valediction(body: list[str], sig: list[str]) -> tuple[str, list[str]]:
    for i in range(len(body) - 1, max(-1, len(body) - _MAX_SIGNATURE_LINES - 1), -1):
        if VALEDICTION.match(body[i]):
            last = i
            while i > 0 and VALEDICTION.match(body[i - 1]):
                i -= 1  # "此致" / "敬礼", "Thanks," / "Best regards,"
            text = "\n".join(body[:i]).strip()
            if not text:  # "Thanks!" and a name is the whole message: the thanks is the text
                return "\n".join(body[i : last + 1]).strip(), [*body[last + 1 :], *sig]
            return text, [*body[i + 1 :], *sig]
    return "\n".join(body).strip(), sig


def read_signature(lines: list[str], *, region: str | None, body: str = "") -> Signature:
    """Name, title, company and phone from signature lines (phone also from labelled body lines)."""
    cleaned = (clean_line(x, limit=FIELD_LIMIT) for x in lines[:_MAX_SIGNATURE_LINES])
    clean = [c for c in cleaned if c]
    fields = [f for line in clean for f in (_PIPES.split(line) if _PIPES.search(line) else [line])]
    phone, phone_region = find_phone("\n".join(clean), region=region)
    if phone is None and body:
        labelled = "\n".join(x for x in body.split("\n") if PHONE_LABEL.search(x))
        phone, phone_region = find_phone(labelled, region=region)
    name = title = company = None
    for i, line in enumerate(fields):
        if _CONTACT.search(line) or DISCLAIMER.search(line):
            continue
        if title is None and TITLE.search(line) and len(line) <= 80:
            title, rest = _split_title(line)
            follow = rest or (fields[i + 1] if i + 1 < len(fields) else None)
            if company is None and follow and not _CONTACT.search(follow) and len(follow) <= 80:
                company = follow
        elif company is None and COMPANY.search(line) and len(line) <= 80:
            company = line
        elif name is None and i == 0 and _NAME.match(line):
            name = line
        elif name is None and i == 0 and (flipped := _LAST_FIRST.match(line)):
            name = f"{flipped.group(2)} {flipped.group(1)}"
    if company is not None and company == title:
        company = None
    return Signature(
        name=name, title=title, company=company, phone=phone, phone_region=phone_region
    )


def _split_title(line: str) -> tuple[str, str | None]:
    """("CEO", "Acme Corp") from "CEO, Acme Corp" or "Head of Sales @ Acme"; else (line, None)."""
    parts = [p for p in _FIELD_SEPARATOR.split(line) if p and p.strip()]
    if len(parts) < 2:
        return line, None
    titled = [p for p in parts if TITLE.search(p)]
    others = [p for p in parts if not TITLE.search(p)]
    if len(titled) != 1 or len(others) != 1 or not COMPANY.search(others[0]):
        return line, None
    return titled[0].strip(), others[0].strip()


_DIGIT = re.compile(r"\d")  # str patterns: any Unicode decimal digit, as the matcher reads them
_MIN_PHONE_DIGITS = 4  # the shortest national number in libphonenumber's metadata (Niue, …)


def find_phone(text: str, *, region: str | None) -> tuple[str | None, str | None]:
    """The first valid phone number as E.164 and its country.

    The sender's ccTLD gives the region for national numbers; without one only international
    (+...) numbers are trusted first, then US as the last resort. Leniency.VALID keeps dates,
    zip codes and order numbers out.
    """
    if len(_DIGIT.findall(text, 0, 5000)) < _MIN_PHONE_DIGITS:
        return None, None  # the matcher finds numbers of Unicode digits (Nd) only
    for attempt in (region, None, "US") if region else (None, "US"):
        matcher = phonenumbers.PhoneNumberMatcher(
            text[:5000], attempt, leniency=phonenumbers.Leniency.VALID, max_tries=50
        )
        for match in matcher:
            if "fax" in text[max(0, match.start - 12) : match.start].lower():
                continue  # a fax number is no way to reach a person
            number = match.number
            formatted = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
            return formatted, phonenumbers.region_code_for_number(number)
    return None, None
