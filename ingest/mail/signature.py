"""Signatures: where they start, and the name, title, company and phone number they give away."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers

from ingest.mail.companies import country_from_domain
from ingest.mail.names import Author, as_name, names_author
from ingest.mail.sigfields import clean, head, is_contact, is_prose, names_company, read_fields
from ingest.mail.sigwords import (
    BANNER,
    CALL_ME,
    COMPANY,
    DELIMITER,
    DISCLAIMER,
    FAX,
    LIST_FOOTER,
    MOBILE,
    PHONE_LABEL,
    SENT_FROM_APP,
    TITLE,
    VALEDICTION,
)
from ingest.mail.text import clean_line

FIELD_LIMIT = 200
_MAX_SIGNATURE_LINES = 12  # a closing formula further up than this is part of the message
_BLOCK_LINES = 16  # non-blank lines of one signature block, at most
_AUTHOR_SCAN = 25  # lines from the end searched for the author's name opening a signature
_NAME_LINE = 90  # longer lines are not a name line, even with a title after the name
_PARAGRAPH = re.compile(r"\n\s*\n")
_DISCLAIMER_LIMIT = 3000  # a paragraph longer than this is someone writing, not boilerplate
# Lines after the text that are no part of it: attachment lists, inline images, rules, and the
# "?" debris of a no-break space.
_NOISE = re.compile(
    r"^\s*+(?:-\s+\S.*\.\w{2,4}|<<.*>>|\(see attached file:.*\)|\[image[^\]]*\]|[\W_]*+)\s*$",
    re.IGNORECASE,
)
_REACH = re.compile(r"@|https?://|www\.|\d[\d\s().\-/]{6,}\d")
_RULE = re.compile(r"^\s*[-=_*~#]{5,}\s*$")
# "-Abhishek Kona", "--Daniel", "— Jane", "~Tom": a name signing off after a dash or a tilde.
_DASH_NAME = re.compile(r"^\s*(?:--?|[\u2013\u2014~])\s?(?P<name>[^\W\d_][^\n]{0,40})$")
_SEPARATOR = re.compile(r"^\s*[-=_*~]{2,}\s*$")  # "--", "---", "____" over a signature
_DASH_ITEM = re.compile(r"^\s*[-\u2013\u2014~*•]\s")
_INTRODUCES = re.compile(r"[^\W\d_]\s*[:\uff1a]$")  # "We need:" introduces a list (":+1:" does not)
# A line that is a phone number and at most its label ("+44 20 7946 0958", "Mobile: 0791 123456").
_NUMBER_ONLY = re.compile(r"^([^\W\d_]{1,12}\.?\s*[:.]?\s*)?\+?\(?\d[\d\s().\-/]{6,}\d$")
_NICK_WORDS = 2  # words of a line above such a number: a nickname or a name
_NICK_ROWS = 3
_SIGNED_OFF_SCAN = 4  # content lines from the end where such a line may stand
_SIGNED_OFF_WORDS = 3
# A notice's heading line ("CONFIDENTIALITY NOTICE:", "*** Disclaimer ***", "IMPORTANT").
_HEADING = re.compile(
    r"^(?:important|legal|privileged|and|confidential(?:ity)?|notice|disclaimer|warning|\W)++$",
    re.IGNORECASE,
)
_LONG_RULE = re.compile(r"^\s*(?:_{10,}|-{10,})\s*$")
_WEB = re.compile(r"https?://|\bwww\.", re.IGNORECASE)
_FOOTER_LINES = 4
_FOOTER_WIDTH = 100
_APP_WORDS = 8  # "Sent from Yahoo Mail for iPhone on the go" is a footer; a sentence is longer
_LINK = re.compile(r"<[^<>\s]{1,500}>")
_NOTICE_LINE = 45  # a line of a notice is long; signature lines are short
_PHONE_WORD = re.compile(
    r"\b(tel|tél|phone|ph|mobile|mob|cell|cellular|direct|office|voice|handy|gsm|t|m|p)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Signature:
    """What a signature block tells about its author."""

    name: str | None = None
    title: str | None = None
    company: str | None = None
    phone: str | None = None  # E.164
    phone_region: str | None = None  # ISO alpha-2 of the phone number's country


def split_signature(
    text: str, *, author: str | None = None, address: str | None = None
) -> tuple[str, list[str]]:
    """(message without signature, signature lines); the valediction itself is dropped.

    A signature starts after a delimiter ("-- "), after a closing formula, or at a line that is
    the author's name (from the display name or the address: "jdoe@" signs "John Doe"); failing
    those, a last paragraph shaped like one (a name or a company over contact lines) is one.
    """
    lines = strip_disclaimers(text).split("\n")
    who = Author.of(author, address)
    for i, line in enumerate(lines):
        delimiter = DELIMITER.match(line) is not None or _footer_rule(lines, i)
        if delimiter and _gives_fields(lines[i + 1 :], who):
            return _trim_valediction(lines[:i], lines[i + 1 :])
        if delimiter or _mobile(lines, i):
            # A mobile footer, or a "--" over a list's footer: the signature may stand above.
            return _locate(lines[:i], who) or _trim_valediction(lines[:i], lines[i + 1 :])
    return _locate(lines, who) or ("\n".join(lines).strip(), [])


def _footer_rule(lines: list[str], i: int) -> bool:
    """A long rule over the last few short lines, one with a link: a webmail's advertisement
    ("Mit WEB.DE FreePhone … http://…") or a signature set off by a rule."""
    if not _LONG_RULE.match(lines[i]):
        return False
    rest = [line for line in lines[i + 1 :] if line.strip()]
    return (
        0 < len(rest) <= _FOOTER_LINES
        and all(len(line) <= _FOOTER_WIDTH for line in rest)
        and any(_WEB.search(line) for line in rest)
    )


def _mobile(lines: list[str], i: int) -> bool:
    """A mail app's "Sent from …" footer: a known phrase, or a short line in the app shape at
    the end of the text ("Sent from our Berlin office" above more text is a sentence)."""
    if MOBILE.match(lines[i]):
        return True
    if SENT_FROM_APP.match(lines[i]) is None:  # nearly every line: the cheap test first
        return False
    bare = _LINK.sub("", lines[i]).strip()  # "Sent from TypeApp<http://www.typeapp.com/…>"
    if len(bare.split()) > _APP_WORDS or bare.endswith((".", "!", "?", ",", ";", ":")):
        return False
    return not any(line.strip() for line in lines[i + 1 :])


def strip_disclaimers(text: str) -> str:
    """The text without trailing confidentiality notices and leading external-mail banners.

    Attachment lists after a notice go with it; a notice that follows a signature without a blank
    line between is cut where it starts (at a rule or at its first long line).
    """
    paragraphs = _PARAGRAPH.split(text)
    while len(paragraphs) > 1 and all(_NOISE.match(x) for x in paragraphs[-1].split("\n")):
        paragraphs.pop()
    while len(paragraphs) > 1 and _is_boilerplate(paragraphs[-1], DISCLAIMER, LIST_FOOTER):
        kept = _before_notice(paragraphs.pop())
        if kept:
            paragraphs.append(kept)
            break
    while len(paragraphs) > 1 and _is_boilerplate(paragraphs[0], BANNER):
        paragraphs.pop(0)
    return "\n\n".join(paragraphs)


def _before_notice(paragraph: str) -> str:
    """What a paragraph holds above the notice that ends it ("" when it is all notice): the
    notice opens at the last rule above its first words, failing one at its first long line."""
    found = [m.start() for p in (DISCLAIMER, LIST_FOOTER) if (m := p.search(paragraph))]
    if not found:
        return ""
    lines = paragraph.split("\n")
    at = paragraph.count("\n", 0, min(found))  # the line holding the notice's first words
    rules = [k for k in range(at + 1) if _RULE.match(lines[k])]
    long = [k for k in range(at + 1) if len(lines[k].strip()) >= _NOTICE_LINE]
    kept = lines[: rules[-1] if rules else long[0] if long else at]
    while kept and len(kept[-1]) <= _NOTICE_LINE and _HEADING.match(kept[-1]):
        kept.pop()  # "CONFIDENTIALITY NOTICE:", "*** Disclaimer ***"
    return "\n".join(kept).rstrip()


def _is_boilerplate(paragraph: str, *patterns: re.Pattern[str]) -> bool:
    return len(paragraph) <= _DISCLAIMER_LIMIT and any(p.search(paragraph) for p in patterns)


def _locate(lines: list[str], who: Author) -> tuple[str, list[str]] | None:
    content = [i for i, line in enumerate(lines) if not _NOISE.match(line)]
    if not content:
        return None
    signed = _signed_off(lines, content, who)
    if signed is not None:
        return _above(lines, signed), lines[signed:]
    closing = _valediction(lines, content[-_MAX_SIGNATURE_LINES:])
    if closing is not None and closing == content[-1]:
        # A closing formula that ends the text ("… Thanks") opens no signature; one may stand
        # above it ("Jane Doe / Acme Inc." then "Thank you.").
        return _locate(lines[:closing], who) or _trim_valediction(lines[: closing + 1], [])
    named = [i for i in reversed(content[-_AUTHOR_SCAN:]) if _names_author(lines[i], who)]
    rich = [i for i in named if _has_fields(lines, i)]
    start = rich[0] if rich else (named[0] if named else None)
    if closing is not None and (start is None or start > closing or not rich):
        return _trim_valediction(lines[: closing + 1], lines[closing + 1 :])
    if start is not None:
        end = _block_end(lines, start)
        if start < content[-1] and end <= content[-1]:
            # The author's details above the end of the text ("My coordinates: …"): the text
            # around them is kept, the block alone is the signature.
            text = "\n".join([*lines[:start], *lines[end:]]).strip()
            return text, lines[start:end]
        return _above(lines, start), lines[start:]
    paragraph = _last_paragraph(lines, content, who)
    if paragraph is not None:
        return _above(lines, paragraph), lines[paragraph:]
    return None


def _above(lines: list[str], start: int) -> str:
    """The text above a signature starting at `start`, without the rule over it ("---")."""
    end = start
    while end > 0 and (not lines[end - 1].strip() or _SEPARATOR.match(lines[end - 1])):
        end -= 1
    return "\n".join(lines[:end]).strip()


def _signed_off(lines: list[str], content: list[int], who: Author) -> int | None:
    """A "-Abhishek Kona" or "— Jane" line signing the text off, with only a signature block
    below it; not an item of a list (the line above it is not one, nor ends in a colon). A
    single word signs off only as the author's name ("-Pricing" may be the list's one item)."""
    for k in range(len(content) - 1, max(len(content) - _SIGNED_OFF_SCAN, 0) - 1, -1):
        i = content[k]
        match = _DASH_NAME.match(lines[i])
        if match is None:
            continue
        above = lines[content[k - 1]].rstrip() if k else None
        if above is None or _INTRODUCES.search(above) or _same_item(above, lines[i]):
            return None
        if _block_end(lines, i) <= content[-1]:
            return None
        written = match.group("name").strip()
        if names_author(written.rstrip("."), who):
            return i  # "-roman" from roman@: the author, however written
        if lines[i - 1].strip():  # set apart from the text by a blank line, as a sign-off is
            return None
        name = as_name(written)
        if name is None or len(name.split()) > _SIGNED_OFF_WORDS:
            return None
        return i if " " in name or names_author(name, who) else None
    return None


def _same_item(above: str, line: str) -> bool:
    """Both lines are items of one list: the same dash, indented alike ("- a" over "- b")."""
    first, second = _DASH_ITEM.match(above), _DASH_ITEM.match(line)
    return first is not None and second is not None and first.group(0) == second.group(0)


def _gives_fields(lines: list[str], who: Author) -> bool:
    block = lines[:_BLOCK_LINES]
    fields = read_fields(block, who=who, domain=who.domain)
    if fields.name or fields.title or fields.company:
        return True
    return find_phone("\n".join(block), region=None)[0] is not None


def _valediction(lines: list[str], indices: list[int]) -> int | None:
    for i in reversed(indices):
        if VALEDICTION.match(lines[i]):
            return i
    return None


def _names_author(line: str, who: Author) -> bool:
    if (not who.words and not who.pieces) or len(line) > _NAME_LINE:
        return False
    name = _line_name(line)
    return name is not None and names_author(name, who)


@lru_cache(maxsize=256)  # a message's last lines are scanned more than once
def _line_name(line: str) -> str | None:
    """The name a line opens with (as_name of its first field), None when it has digits or a title."""
    first = head(clean(line))
    if _DIGIT.search(first):
        return None
    name = as_name(first)
    return None if name is None or TITLE.search(first) else name


def _has_fields(lines: list[str], start: int) -> bool:
    """The lines under a name line hold a title, a company or a contact line."""
    for line in lines[start + 1 : _block_end(lines, start)]:
        row = clean(line)
        if row and (is_contact(row) or TITLE.search(row) or COMPANY.search(row)):
            return True
    return False


def _block_end(lines: list[str], start: int) -> int:
    """Where the signature block opened at `start` ends: at a sentence, or a rule after it."""
    end, seen = start + 1, 0
    for j in range(start + 1, len(lines)):
        row = clean(lines[j])
        if not row:
            if _RULE.match(lines[j]) and seen >= 2:
                break
            continue
        if is_prose(row) and not is_contact(row):
            break
        seen += 1
        end = j + 1
        if seen >= _BLOCK_LINES:
            break
    return end


def _last_paragraph(lines: list[str], content: list[int], who: Author) -> int | None:
    """The start of a closing paragraph shaped like a signature of an unknown author: a name or
    an organisation over contact lines, or an organisation line alone (a client's footer)."""
    last = content[-1]
    start = last
    while start > 0 and lines[start - 1].strip():
        start -= 1
    if start == 0:
        return None  # the whole text is one paragraph: the message, not a signature
    rows = [row for row in (clean(x) for x in lines[start : last + 1]) if row]
    if not rows or len(rows) > _MAX_SIGNATURE_LINES or any(is_prose(r) for r in rows):
        return None
    organisation = [names_company(r, who.domain) for r in rows[:3]]
    named = as_name(rows[0]) is not None and len(rows[0].split()) >= 2 and not organisation[0]
    if _NUMBER_ONLY.match(rows[-1]) and all(len(r.split()) <= _NICK_WORDS for r in rows[:-1]):
        # "+44 20 7946 0958" alone, or under a nickname ("gngr"), ends a message: its sender's,
        # when it is a phone number there (not an order number or a date).
        region = country_from_domain(who.domain) if who.domain else None
        phone = find_phone(rows[-1], region=region)[0]
        return start if phone is not None and len(rows) <= _NICK_ROWS else None
    if len(rows) == 1:
        return start if organisation[0] else None
    # A phone, a mail or a web address under it: a venue's postal address alone is no signature.
    if (named or any(organisation)) and any(_REACH.search(r) for r in rows[1:]):
        return start
    return None


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


def read_signature(
    lines: list[str],
    *,
    region: str | None,
    body: str = "",
    author: str | None = None,
    address: str | None = None,
) -> Signature:
    """Name, title, company and phone from signature lines (phone also from labelled body lines).

    `author` and `address` (the From display name and address) tell which line is the name and
    which organisation the sender's domain spells.
    """
    block = lines[: _BLOCK_LINES + 4]
    who = Author.of(author, address) if author or address else None
    domain = address.rpartition("@")[2] if address else None
    fields = read_fields(block, who=who, domain=domain)
    phone, phone_region = find_phone("\n".join(block), region=region)
    if phone is None and body:
        labelled = "\n".join(
            x for x in body.split("\n") if PHONE_LABEL.search(x) or CALL_ME.search(x)
        )
        phone, phone_region = find_phone(labelled, region=region)
    return Signature(
        name=clean_line(fields.name, limit=FIELD_LIMIT),
        title=clean_line(fields.title, limit=FIELD_LIMIT),
        company=clean_line(fields.company, limit=FIELD_LIMIT),
        phone=phone,
        phone_region=phone_region,
    )


_DIGIT = re.compile(r"\d")  # str patterns: any Unicode decimal digit, as the matcher reads them
_MIN_PHONE_DIGITS = 4  # the shortest national number in libphonenumber's metadata (Niue, …)
# Digits as a phone number writes them, with separators; the matcher is slow on text without.
_NUMBER_RUN = re.compile(r"\d[\d\s().\-/]{4,}\d")
_LABEL_REACH = 18  # characters before a number where its label ("Fax:", "Tel.") stands


def find_phone(text: str, *, region: str | None) -> tuple[str | None, str | None]:
    """The first valid phone number that is not a fax, as E.164 and its country.

    The sender's ccTLD gives the region for national numbers; without one, international (+...)
    numbers are trusted first, then US numbers as the last resort. Leniency.VALID keeps dates,
    zip codes and order numbers out. A fax is labelled before its number ("Fax:", "F:") or
    after it ("(fax)", "713-646-3490 Fax"); a number labelled as a phone ("Tel.", "(office)")
    comes before an unlabelled one, which may be a register or VAT number of a company footer.
    """
    # Only lines that may hold a phone number go to the matcher, which is slow on the rest
    # (street numbers, zip codes); each line keeps the labels around its numbers.
    text = "\n".join(x for x in text[:5000].split("\n") if _NUMBER_RUN.search(x))
    if len(_DIGIT.findall(text)) < _MIN_PHONE_DIGITS:
        return None, None  # the matcher finds numbers of Unicode digits (Nd) only
    return _match_phone(text, region)


# A sender's signature comes back in every message of theirs: its number lines are matched once.
@lru_cache(maxsize=256)
def _match_phone(text: str, region: str | None) -> tuple[str | None, str | None]:
    # An international number is found under any region, so one pass with the sender's region
    # and one with US (national US numbers) cover what a pass without a region would find.
    for attempt in dict.fromkeys((region or "US", "US")):
        matches = list(
            phonenumbers.PhoneNumberMatcher(
                text, attempt, leniency=phonenumbers.Leniency.VALID, max_tries=50
            )
        )
        kept = []
        for i, match in enumerate(matches):
            following = matches[i + 1].start if i + 1 < len(matches) else len(text)
            if _is_fax(text, match.start, match.end, following):
                continue
            national = region is None and not match.raw_string.lstrip("(").startswith(("+", "00"))
            labelled = _is_labelled(text, match.start, match.end, following)
            kept.append((national, not labelled, i, match))
        if kept:
            number = min(kept, key=lambda k: k[:3])[3].number
            formatted = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
            return formatted, phonenumbers.region_code_for_number(number)
    return None, None


def _is_labelled(text: str, start: int, end: int, following: int) -> bool:
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line_end = len(text) if line_end < 0 else line_end
    before = text[max(line_start, start - _LABEL_REACH) : start]
    after = text[end : min(line_end, following, end + _LABEL_REACH)]
    return bool(PHONE_LABEL.search(before + "0") or _PHONE_WORD.search(before + after))


def _is_fax(text: str, start: int, end: int, following: int) -> bool:
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line_end = len(text) if line_end < 0 else line_end
    before = text[max(line_start, start - _LABEL_REACH) : start]
    if FAX.search(before) and not _PHONE_WORD.search(before):
        return True
    after = text[end : min(line_end, following)]
    alone = following >= line_end  # no other number after it on its line
    label = after.lstrip(" \t-\u2013:;,/")
    if label.startswith("("):
        return FAX.match(label[1:]) is not None
    return alone and FAX.search(label[:_LABEL_REACH]) is not None  # "713-807-8624  home / fax"
