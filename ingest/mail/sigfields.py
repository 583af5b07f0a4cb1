"""A signature block's lines read as fields: which line is the name, the job title, the company.

Structure first, words as evidence: a signature is a name line, then short lines (title,
organisation) before the contact lines (phone, address, mail). A title line has a job word
(sigwords.TITLE); an organisation line has a legal form, an organisation word, or the sender's
domain spelled out or abbreviated ("University of Texas" for utexas.edu); a short capitalised
line right after the name or title is an organisation by position alone. Sentences, addresses,
departments and lines with digits are never a company.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache

from ingest.mail.companies import is_webmail, registrable
from ingest.mail.names import Author, as_name, first_last, names_author
from ingest.mail.sigwords import (
    ADDRESS,
    COMPANY,
    CREDENTIAL,
    DEPARTMENT,
    MOBILE,
    ORGANISATION,
    TITLE,
    TOWN_STATE,
)

# Images, attachment markers and links that clients leave inside signature lines.
_EMBEDDED = re.compile(r"<<[^>]*>>|\[(?:image|cid)[^\]]*\]|<(?:https?|mailto):[^>]*>", re.I)
# Exported Enron mail (and other cp1252 mishaps) shows a no-break space as "?".
_LOST_SPACE = re.compile(r"(?:(?<=[\s:])|^)\?+(?=\s|$)")
_QP_DEBRIS = re.compile(r"=(?:20|09|01;?)$")
_DECORATION = " \t*|=_~#>•·-\u2013\u2014"
# Gmail writes bold as *Jane Doe* in the plain text.
_BOLD = re.compile(r"(?<!\w)\*(\S(?:[^*\n]*\S)?)\*(?!\w)")
_SHOUT = re.compile(r"\s+!+$")  # "CEO @ Acme !"
# Several fields on one line: "VP Sales | Acme", "Director        Tel: (713) 853-3849".
_FIRST_FIELD = re.compile(r"\s*[|•·]\s*|,\s+|\s+[-\u2013\u2014]\s+|\t+| {3,}")
_COMMA, _AT_SIGN, _AT = re.compile(r",\s+"), re.compile(r"\s+@\s+"), re.compile(r"\s+at\s+")
_TITLE_SEPARATORS = (
    re.compile(r"\s*\|\s*"),
    _COMMA,
    _AT_SIGN,
    _AT,
    re.compile(r"\s+[-\u2013\u2014]\s+"),
)
_COLUMNS = re.compile(r"\s*[|•·]\s*|\t+| {3,}")
_CONTACT_START = re.compile(
    r"https?://|www\.|\S+@\S+|\+?\(?\d[\d\s().\-/]{6,}\d"
    r"|\b(tel|tél|phone|ph|fax|fx|mobile|mob|cell|e-?mail|web|voice|direct|office|pager|skype)"
    r"\b\.?\s*[:.]|\b(website|internet|homepage|webseite|url)\s*:",  # "Internet: http://…"
    re.IGNORECASE,
)
_DIGIT = re.compile(r"\d")
# Words a capitalised name or title leaves in lower case.
_SMALL = frozenset(
    {
        "of", "and", "for", "the", "at", "in", "on", "to", "a", "an", "with", "&", "-", "\u2013",
        "de", "du", "des", "la", "le", "el", "y", "e", "et", "und", "für", "di", "da", "del",
        "della", "van", "von", "der", "den",
    }
)  # fmt: skip
_ACRONYM = re.compile(r"^[A-Z]{2,5}$")
# Lower-case particles and dotted abbreviations inside names and legal forms ("z o.o.", "ds.").
_PARTICLE = re.compile(r"^[a-z]{1,2}\.?$|^[a-z](\.[a-z])+\.?$")
_CACHED_LINES = 256  # one message's lines are looked at by several readers: each judged once
_MAX_FIELD_WORDS = 9
_MAX_FIELD_CHARS = 80
_MAX_PROSE_WORDS = 12
# How far down the block a company may stand on position alone (name, title, company, …).
_POSITIONAL_COMPANY_ROWS = 3
_NAME_ROWS = 4  # top lines of a block where the name stands ("Thanks,", "Dana", "", "Dana Perino")


@dataclass(frozen=True)
class Fields:
    name: str | None = None
    title: str | None = None
    company: str | None = None


@lru_cache(maxsize=_CACHED_LINES)
def clean(line: str) -> str:
    """A signature line without images, link targets, borders and no-break-space debris."""
    line = _QP_DEBRIS.sub("", _EMBEDDED.sub(" ", _BOLD.sub(r"\1", line.rstrip())))
    line = _LOST_SPACE.sub(" ", line)
    return _SHOUT.sub("", line.strip(_DECORATION)).strip()


@lru_cache(maxsize=_CACHED_LINES)
def is_contact(line: str) -> bool:
    """A phone, mail, web or postal line: never a name, a title or a company."""
    if _CONTACT_START.search(line) or TOWN_STATE.search(line):
        return True
    return bool(_DIGIT.search(line) and ADDRESS.search(line))


@lru_cache(maxsize=_CACHED_LINES)
def is_prose(line: str) -> bool:
    """A sentence someone wrote, not a signature field."""
    words = line.split()
    if len(words) > _MAX_PROSE_WORDS or len(line) > 2 * _MAX_FIELD_CHARS:
        return True
    return len(words) >= 6 and line.rstrip()[-1:] in ".!?" and not COMPANY.search(words[-1])


def read_fields(
    lines: list[str], *, who: Author | None = None, domain: str | None = None
) -> Fields:
    """Name, title and company of a signature block (its lines from the top)."""
    rows = [r for r in (line.rstrip() for line in lines) if r.strip()]
    name, rest = _name(rows, who)
    title: str | None = None
    found: list[tuple[int, int, str]] = []  # (evidence, -order, text): the best company
    position = 0
    label = _domain_label(domain)
    for row in rest:
        for part in (clean(p) for p in _COLUMNS.split(row)):
            part = _before_contact(part)
            if not part or is_prose(part) or CREDENTIAL.fullmatch(part) or MOBILE.match(part):
                continue
            position += 1
            if title is None and _is_title(part):
                found_title: str | None
                found_title, company = _split_title(part, label)
                if company is None and _legal(part):
                    found_title, company = _split_words(part)  # "株式会社サンプル 営業部 部長"
                if found_title is not None:
                    title = found_title
                    if company:
                        found.append((9, -position, company))
                    continue
            evidence = _company_evidence(part, label)
            # By position alone only under a name or a title: a lone line is more likely a name.
            placed = (
                name is not None or title is not None
            ) and position <= _POSITIONAL_COMPANY_ROWS
            if evidence == 0 and placed and _positional(part):
                evidence = 1
            if evidence:
                found.append((evidence, -position, part))
    company = max(found)[2] if found else None
    if company is not None and company in (title, name):
        company = None
    return Fields(name=name, title=title, company=company)


def _name(rows: list[str], who: Author | None) -> tuple[str | None, list[str]]:
    """The person's name if a top line gives it, and the lines below it (with what follows the
    name on its own line: "Jane Doe | VP Sales", "MIKE EASTMAN, CPC - President").

    Of the author's names among the top lines the fullest wins ("Andreas" over a block's
    "Andreas Simou" below it); a first name alone is completed from a first.last address.
    """
    found: list[tuple[int, str, list[str]]] = []
    for i, row in enumerate(rows[:_NAME_ROWS]):
        line = clean(row)
        flipped = _last_first(line)
        head, tail = (flipped, []) if flipped else _head(line)
        name = as_name(head) if head else None
        if name is None or TITLE.search(head) or ORGANISATION.search(head) or is_contact(head):
            continue
        if who is not None and names_author(name, who):
            found.append((i, name, tail))
        elif i == 0 and not found and (flipped or len(name.split()) >= 2):
            return name, [*tail, *rows[1:]]  # a first line shaped like a name
    if not found:
        return None, rows
    i, name, tail = max(found, key=lambda f: (len(f[1].split()), -f[0]))
    if len(name.split()) == 1:
        fuller = _fuller(name, rows[i + 1 : _NAME_ROWS + 1])
        if fuller is not None:
            return fuller[0], rows[i + 2 + fuller[1] :]
        if who is not None and not who.words:  # no display name: the address may complete it
            name = who.full_name(name) or name
    return name, [*tail, *rows[i + 1 :]]


def _fuller(first: str, rows: list[str]) -> tuple[str, int] | None:
    """ "Charlie" then "Charlie Hull": the signed first name, then the full name under it."""
    for k, row in enumerate(rows):
        name = as_name(_head(clean(row))[0])
        if name and len(name.split()) >= 2 and name.split()[0].casefold() == first.casefold():
            return name, k
    return None


def head(line: str) -> str:
    """The first field of a line: "Jane Doe" of "Jane Doe | VP Sales", "Jane Doe, CFA",
    "Jane Doe <jane@acme.com>" and "Jane Doe        jane@acme.com" (a column layout)."""
    return _before_contact(_FIRST_FIELD.split(line, maxsplit=1)[0].strip())


def _head(line: str) -> tuple[str, list[str]]:
    parts = [p.strip() for p in _FIRST_FIELD.split(line, maxsplit=1)]
    parts[0] = _before_contact(parts[0])
    head, tail = parts[0], [p for p in parts[1:] if p]
    return head, tail


def _last_first(line: str) -> str | None:
    """ "Doe, Jane" as a name line ("Jane Doe"), never "Acme, Inc." or "Jane Doe, CFA"."""
    if line.count(",") != 1 or TITLE.search(line):
        return None
    right = line.split(",", 1)[1].strip()
    if CREDENTIAL.fullmatch(right):
        return None
    flipped = first_last(line)
    return as_name(flipped) if flipped and flipped != line else None


def _before_contact(part: str) -> str:
    """ "Perfect Commerce, Inc. tel: 650-798-3367" -> "Perfect Commerce, Inc."."""
    match = _CONTACT_START.search(part)
    if match is None:
        return part
    return part[: match.start()].strip(" ,;:-\u2013|/([<")


@lru_cache(maxsize=_CACHED_LINES)
def _is_title(part: str) -> bool:
    return TITLE.search(part) is not None and _shaped(part, ratio=0.5)


def _split_title(part: str, label: str | None) -> tuple[str, str | None]:
    """("CEO", "FairAir") from "CEO, FairAir"; ("Vice President, Research", None) stays whole:
    the words after the separator must name a company (a legal form, the sender's domain, an
    acronym) and those before must be a title."""
    for separator in _TITLE_SEPARATORS:
        pieces = separator.split(part, maxsplit=1)
        if len(pieces) != 2:
            continue
        left, right = (p.strip() for p in pieces)
        if not TITLE.search(left) or not right:
            continue
        strong = _legal(right) or (label is not None and _matches_domain(right, label))
        if strong or (separator is _COMMA and _ACRONYM.match(right)):
            return left, _best_piece(right, label)
        if separator in (_AT_SIGN, _AT) and _positional(right):
            return left, right  # "CEO at Pandaland": "at" says what follows is the employer
    return part, None


def _split_words(part: str) -> tuple[str | None, str | None]:
    """A line of a company, a department and a title side by side, in scripts without capitals
    ("株式会社サンプル 営業部 部長"); elsewhere a title word beside a legal form is a company name
    ("Marketing Solutions Inc.")."""
    if any(c.isascii() and c.isalpha() for c in part):
        return None, None
    words = part.split()
    companies = [w for w in words if COMPANY.search(w)]
    titles = [w for w in words if TITLE.search(w) and not COMPANY.search(w)]
    if companies and titles:
        return titles[-1], companies[0]
    return None, None


@lru_cache(maxsize=_CACHED_LINES)
def _best_piece(right: str, label: str | None) -> str:
    """ "Carnegie Mellon University" of "Robotics Institute, Carnegie Mellon University": of the
    organisations a line lists, the one with the most evidence (the whole line when tied)."""
    pieces = [p for p in _COMMA.split(right) if len(p.split()) >= 2]
    if len(pieces) < 2:
        return right
    scored = sorted(
        ((_company_evidence(p, label), i, p) for i, p in enumerate(pieces)), reverse=True
    )
    return scored[0][2] if scored[0][0] > scored[1][0] else right


@lru_cache(maxsize=_CACHED_LINES)
def _company_evidence(part: str, label: str | None) -> int:
    if not _shaped(part, ratio=0.6):
        return 0
    evidence = 0
    if _legal(part):
        evidence += 3
    if label is not None and _matches_domain(part, label):
        evidence += 3
    if ORGANISATION.search(part):
        evidence += 2
    if evidence and DEPARTMENT.search(part) and evidence < 3:
        return 0  # "Legal Department", "Government Affairs": a part of the company
    return evidence


def names_company(line: str, domain: str | None) -> bool:
    """The line names an organisation: a legal form, an organisation word or the sender's domain."""
    part = _before_contact(clean(line))
    return bool(part) and _company_evidence(part, _domain_label(domain)) > 0


def _positional(part: str) -> bool:
    return (
        _shaped(part, ratio=0.75)
        and not _DIGIT.search(part)
        and not DEPARTMENT.search(part)
        and not TITLE.search(part)
        and len(part.split()) <= 6
    )


def _legal(part: str) -> bool:
    """A legal form that is not an everyday word: "Acme AS" is a company, "As we said" is not."""
    for match in COMPANY.finditer(part):
        token = match.group(0)
        if match.start() > 0 or len(token.rstrip(".")) > 3 or not token.isascii():
            return True
    return False


def _shaped(part: str, *, ratio: float) -> bool:
    """Short, and capitalised like a name or a label, not like a sentence."""
    words = part.split()
    if not words or len(words) > _MAX_FIELD_WORDS or len(part) > _MAX_FIELD_CHARS:
        return False
    if ":" in part or part.endswith(("?", "!")) or not any(c.isalpha() for c in part):
        return False
    content = [
        w
        for w in words
        if w.lower() not in _SMALL and any(c.isalpha() for c in w) and not _PARTICLE.match(w)
    ]
    if not content:
        return False
    capital = sum(1 for w in content if not w[0].isalpha() or w[0].isupper() or not w.isascii())
    return capital / len(content) >= ratio and (words[0][0].isupper() or not words[0].isascii())


def _domain_label(domain: str | None) -> str | None:
    if not domain or is_webmail(domain):
        return None
    label, suffix = registrable(domain)
    label = label.replace("-", "")
    return label if suffix and len(label) >= 2 else None


def _matches_domain(part: str, label: str) -> bool:
    """The sender's domain names this line: spelled out ("Mirant Corp." for mirant.com), or
    abbreviated word by word ("University of Texas" for utexas, "California ISO" for caiso)."""
    words = tuple(k for k in (_key(w) for w in part.split()) if k)
    if not words:
        return False
    glued = "".join(words)
    if label in words or (len(label) >= 4 and label in glued):
        return True
    if len(glued) >= 4 and label.startswith(glued):
        return True  # "Infocast" for infocastinc.com
    return _abbreviates(label, words)


@lru_cache(maxsize=_CACHED_LINES)
def _abbreviates(label: str, words: tuple[str, ...]) -> bool:
    """True when label is prefixes of some of the words, in order, from at least two of them."""

    @cache
    def build(i: int, j: int, used: int) -> bool:
        if i == len(label):
            return used >= 2
        for k in range(j, len(words)):
            word = words[k]
            n = 0
            while n < len(word) and i + n < len(label) and word[n] == label[i + n]:
                n += 1
                if build(i + n, k + 1, min(used + 1, 2)):
                    return True
        return False

    return len(label) <= 24 and len(words) <= 12 and build(0, 0, 0)


def _key(word: str) -> str:
    return "".join(c for c in word.casefold() if c.isalnum())


__all__ = ["Fields", "clean", "head", "is_contact", "is_prose", "names_company", "read_fields"]
