"""Person names: the display name in First Last order, and whether a signature line names the author."""

# ruff: noqa: RUF001 - Cyrillic legal forms and dashes on purpose

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from ingest.mail.sigwords import (
    COMPANY,
    CREDENTIAL,
    DEPARTMENT,
    HONORIFIC,
    ORGANISATION,
    TITLE,
)

# A word of a name: letters with inner dots, hyphens and apostrophes ("O'Neil", "Hardwicke-Brown",
# "J.", "St."). Any script: \w without digits and underscore.
_WORD = re.compile(r"^[^\W\d_]+(?:[.'\u2019-][^\W\d_]+)*\.?$")
_SPLIT = re.compile(r"[\s,]+")
_LOCAL_SPLIT = re.compile(r"[._\-+\d]+")
# Display names that are no name at all: a domain ("paulhastings.com"), a handle with digits
# ("al3v"), an address. Anything else is kept as the sender wrote it.
_NOT_A_NAME = re.compile(r"^(\S+\.[a-z]{2,}|\S*\d\S*|\S+@\S+)$", re.IGNORECASE)
_MAX_NAME_WORDS = 5
_HYPHENS = re.compile(r"[-'\u2019]")
# Lower-case words inside names ("Jan de Vries", "Ludwig van Beethoven", "Ahmad bin Ali").
_PARTICLES = frozenset(
    {
        "de", "del", "della", "der", "den", "di", "da", "dos", "das", "du", "la", "le", "van",
        "von", "zu", "ten", "ter", "bin", "ibn", "al", "el", "y", "e",
    }
)  # fmt: skip
_NOT_NAMES = frozenset({"the", "our", "your", "dear", "hi", "hello", "team"})
# Legal forms that are no one's name (the short ones of sigwords.COMPANY, such as "Sas", "Co" or
# "As", are surnames too): a display name with one names an organisation.
_LEGAL_FORM = re.compile(
    r"(?<!\w)(inc|llc|l\.l\.c|ltd|limited|gmbh|mbh|corp|corporation|plc|pty|sarl|s\.a\.r\.l|"
    r"s\.r\.l|srl|s\.p\.a|spa|s\.a|s\.a\.s|b\.v|n\.v|oyj|ltda|llp|kgaa|bvba|s\.r\.o|group|"
    r"holding|holdings|technologies|solutions|systems|labs|ооо|оао|зао|пао|фгуп|гуп)(?!\w)\.?"
    r"|(株式会社|有限会社|合同会社|股份有限公司|有限公司|集团|公司|주식회사|유한회사|㈜|\(주\))"
    r"|(?<!\w)(лтд|(and|&) sons|& co|(und|&) söhne|et fils|e figli|e hijos|i syn)(?!\w)",
    re.IGNORECASE,
)
# The short legal forms, which are surnames too ("Lisanne Sas"), count last and written as legal
# forms are: in capitals or with dots ("Scheel KG", "Seguin SA", "Vávra k.s.", "Pereira S/A").
_SHORT_LEGAL = re.compile(
    r"\s(AG|KG|UG|SE|SA|SAS|AB|AS|ASA|HB|KB|NV|BV|OY|KY|SL|SRL|SPA|GBR|OHG|A/S|S/A|"
    r"N\.V\.|B\.V\.|s\.\s?c\.|k\.\s?s\.|o\.\s?s\.|sp\.\s?[jk]\.|S\.L\.[A-Z.]*|"
    r"S\.A\.[A-Z.]*|S\.(Com|Coop)\.)$"  # not B.A. or M.D., which are degrees
)
# What a mailbox does, not who reads it ("Acme Newsletter", "Customer Support", "Shop"); not
# "Sales" or "Hr", which are a surname and an honorific as well.
_ROLE = re.compile(
    r"(?<!\w)(newsletters?|news|team|support|customer (service|care)|service ?desk|help ?desk|"
    r"notifications?|alerts?|marketing|info|information|administrator|admin|webmaster|"
    r"no.?reply|mailer|shop|store|billing|accounts|recruiting|careers|jobs|reception|"
    r"bookings?|reservations?|kundenservice|kundendienst|service client|atención al cliente)(?!\w)",
    re.IGNORECASE,
)
_MAX_ROLE_WORDS = 3
# "Jane Doe | Acme GmbH", "Jane Doe (Acme)", "Jane Doe - Acme Support", "Jane from Acme"; then
# "Jane Doe, Acme Inc." (a comma may be "Doe, Jane", so it is tried last).
_NAME_AND_MORE = re.compile(r"\s*(?:[|/(\[]|\s[-–—]\s|\s(?:at|from|@)\s)\s*")
_COMMA = re.compile(r"\s*,\s*")
_NOT_ALNUM = re.compile(r"[\W_]+")
# Tags a company directory or a mail app adds to a name: a country or office code "(US)", a
# domain "(manx.net)", the mail service "(Gmail - Geral)", the kind of contract.
_TAG_WORDS = r"contractor|consultant|external|extern|intern|ext|gmail|yahoo|hotmail|outlook|gmx"
_TAG = re.compile(
    rf"\s*\((?:[A-Z0-9]{{2,4}}|[^()\s]+\.[a-z]{{2,}}|(?i:(?:{_TAG_WORDS})\b[^()]*))\)"
)
_TRAILING_TAG = re.compile(rf"\s+-\s+(?:[A-Z0-9]{{2,8}}|\d+|(?i:{_TAG_WORDS}))\s*$")
_MIN_BRAND = 3  # "hp", "ge": too short to tell a brand from a name's initials
VIA = re.compile(r"\s+\(?via\s+(?=\S)")  # lower-case, as the services and lists write it


@dataclass(frozen=True)
class Shown:
    """A display name read: the person it names, and the organisation and job title it names."""

    person: str | None
    organisation: str | None = None
    title: str | None = None


_ACRONYM = re.compile(r"^[A-Z]{2,4}$")  # "CEO", "VP", "CTO" after a comma; "DOE, JANE" is a name
_TITLE_WORDS = 6


def _titled(name: str) -> tuple[str, str] | None:
    """("Sarah Connor", "CEO") of "Sarah Connor, CEO" or "Sarah Connor, Head of Sales"."""
    before, comma, after = name.partition(",")
    before, after = before.strip(), after.strip()
    if not comma or "," in after or not after or len(after.split()) > _TITLE_WORDS:
        return None
    if len(name_words(before)) < 2 or as_name(before) is None or before.isupper():
        return None
    if CREDENTIAL.fullmatch(after):
        return before, ""  # "Jane Doe, PhD": a degree, not a job
    acronym = _ACRONYM.match(after) is not None
    phrase = len(after.split()) > 1 and TITLE.search(after) is not None
    return (before, after) if acronym or phrase else None


# Organisation words that are surnames too ("Mark Bank"): evidence only beside a legal form.
_SURNAME_WORDS = frozenset({"bank", "banque", "banco", "trust", "exchange", "capital", "center"})


def _organisational(part: str) -> bool:
    if _LEGAL_FORM.search(part) or _SHORT_LEGAL.search(part):
        return True
    return any(m.group(0).lower() not in _SURNAME_WORDS for m in ORGANISATION.finditer(part))


def _role(part: str) -> bool:
    return len(part.split()) <= _MAX_ROLE_WORDS and bool(_ROLE.search(part))


def _person(part: str) -> str | None:
    """The piece as a person's name ("Doe, Jane" -> "Jane Doe"), if it is one."""
    if _role(part) or _organisational(part):
        return None
    name = first_last(part)
    return name if name and as_name(name) else None


def _untagged(name: str) -> str:
    """A directory's display name without the tags it adds: "Clark (US), Kenneth C", "Tillson,
    Bob (US)", "Leong, Kirsten - 0551 - MITLL", "Jane Doe - Contractor", "Pedro Vieira (Gmail -
    Geral)", "David Taylor (manx.net)"."""
    if "(" not in name and " - " not in name:
        return name
    name = _TAG.sub("", name)
    while (trail := _TRAILING_TAG.search(name)) is not None and trail.start() > 0:
        name = name[: trail.start()]
    return " ".join(name.replace(" ,", ",").split()).strip(" ,-")


def _branded(name: str, brand: str) -> Shown | None:
    """The organisation the sender's domain spells, and the person beside it ("Jonas Sterr -
    ProxForge", "Brennan Novak (Twitter)"), or None."""
    squashed = _NOT_ALNUM.sub("", brand.lower())
    pieces = _pieces(name, _NAME_AND_MORE)
    if len(squashed) < _MIN_BRAND or len(pieces) != 2:
        return None
    for i, piece in enumerate(pieces):
        if _NOT_ALNUM.sub("", piece.lower()) == squashed:
            other = pieces[1 - i]
            # "Acme - Sales" names no one; "Hans Leiter - Acme" does (Leiter is a title, too).
            department = DEPARTMENT.search(other) or (" " not in other and TITLE.search(other))
            return Shown(None if department else _person(other), piece)
    return None


def _pieces(name: str, separator: re.Pattern[str]) -> list[str]:
    return [p for p in (p.strip(" )]\"'") for p in separator.split(name)) if p]


@lru_cache(maxsize=64)
def read_shown(display: str | None, brand: str = "") -> Shown:
    """Whom a From display name names: "Jane Doe" a person, "Acme GmbH" or "Science and Education
    Foundation" an organisation, "Acme Newsletter" neither; "Jane Doe | Acme GmbH" both.

    `brand`: the label of the sender's domain ("proxforge" of proxforge.de), which names the
    organisation in "Jonas Sterr - ProxForge" however it is spelled.
    """
    if not display:
        return Shown(None)
    name = " ".join(display.split())
    if len(name) > 1 and name[0] == name[-1] and name[0] in "\"'":
        name = name[1:-1].strip()
    name = _untagged(name) or name
    relayed = VIA.split(name, maxsplit=1)
    if len(relayed) == 2 and relayed[0].strip():
        # "Jane Doe via LinkedIn", "Jane Doe (via Google Docs)": a service relays the person.
        return read_shown(relayed[0].strip(" ("), brand)
    if (branded := _branded(name, brand)) is not None:
        return branded
    if not (_organisational(name) or _role(name)) and not any(
        _organisational(p) or _role(p) for p in _pieces(name, _NAME_AND_MORE)
    ):
        titled = _titled(name)
        if titled is not None:
            return Shown(titled[0], None, titled[1] or None)
        return Shown(first_last(name))  # "Doe, Jane" is a person, whatever its comma
    for separator in (_NAME_AND_MORE, _COMMA):
        pieces = _pieces(name, separator)
        if len(pieces) < 2:
            continue
        for i, piece in enumerate(pieces):
            person = _person(piece)
            # After a comma a lone word is as often a place ("…Foundation, Bulgaria") as a name.
            if person is not None and (separator is _NAME_AND_MORE or " " in person):
                others = pieces[:i] + pieces[i + 1 :]
                return Shown(person, next((p for p in others if _organisational(p)), None))
    if _organisational(name) and not _role(name):
        return Shown(None, name)
    return Shown(None)


@dataclass(frozen=True)
class Author:
    """What a message says about who wrote it: display-name words, the address's local part and
    its pieces ("john.doe" -> john, doe), and its domain."""

    words: frozenset[str]
    local: str
    pieces: frozenset[str]
    domain: str | None = None
    given: str | None = None  # the display name's first name (First Last order)

    @classmethod
    @lru_cache(maxsize=64)  # split and read ask for the same sender: read it once
    def of(cls, display: str | None, address: str | None) -> Author:
        local, _at, domain = (address or "").lower().rpartition("@")
        pieces = frozenset(p for p in _LOCAL_SPLIT.split(local) if p)
        shown = name_words(first_last(display) or "")
        words = frozenset(k for w in shown for k in _keys(w))
        return cls(words, local, pieces, domain or None, _key(shown[0]) if shown else None)

    def full_name(self, first: str) -> str | None:
        """ "Mark Greenberg" for a signed "Mark" from mark.greenberg@: the address completes it."""
        pieces = [p for p in _LOCAL_SPLIT.split(self.local) if p]
        plain = len(pieces) == 2 and all(len(p) > 1 and p.isalpha() for p in pieces)
        if plain and _key(first) == pieces[0]:
            return f"{first[:1].upper()}{first[1:].lower()} {pieces[1].capitalize()}"
        return None


def first_last(display: str | None) -> str | None:
    """The display name as a person's name: "Doe, Jane" becomes "Jane Doe"; "acme.com" is none."""
    if not display:
        return None
    name = " ".join(display.split())
    if _NOT_A_NAME.search(name):
        return None
    last, comma, first = name.partition(",")
    if comma and "," not in first and first.strip() and not COMPANY.search(name):
        given, family = name_words(first), name_words(last)
        if (
            0 < len(given) <= 3
            and 0 < len(family) <= 3
            and all(_is_name_word(w) for w in (*given, *family))
        ):
            return f"{' '.join(given)} {' '.join(family)}"
    return name


def person_name(display: str | None, signed: str | None) -> str | None:
    """The lead's name: the display name (First Last), unless the signature writes it more fully
    or in the person's own order ("DeKrey Lynn" signs "Lynn DeKrey")."""
    shown = first_last(display)
    if not signed:
        return shown
    if not shown:
        return signed
    mine = {_key(w) for w in name_words(shown)}
    theirs = {_key(w) for w in name_words(signed)}
    # The signed name adds initials at most ("Carolyn M. Campbell" for "Campbell, Carolyn"), or
    # the surname to a display name that is a first name alone ("John" signs "John Doe").
    fuller = mine <= theirs and (len(mine) == 1 or all(len(w) <= 2 for w in theirs - mine))
    return signed if fuller else shown


def _is_name_word(word: str) -> bool:
    """A word of a person's name: letters, capitalised where the script has capitals."""
    return bool(_WORD.match(word)) and not (word[:1].islower())


def name_words(text: str) -> list[str]:
    """The words of a name without honorifics and credentials ("Dr. Jane Doe, PhD" -> Jane, Doe)."""
    words = [w for w in _SPLIT.split(text.strip()) if w]
    while words and HONORIFIC.fullmatch(words[0]):
        words = words[1:]
    while words and CREDENTIAL.fullmatch(words[-1]):
        words = words[:-1]
    return words


@lru_cache(maxsize=256)  # one message's lines are looked at several times
def as_name(line: str) -> str | None:
    """The line as a person's name ("Mark D. Guinney, CFA" -> "Mark D. Guinney"), or None.

    Every word capitalised where the script has capitals ("Jan de Vries", "山田 太郎" and
    "Иван Петров" are names, "This is a test" is not); no legal form, department or greeting.
    """
    words = name_words(line)
    if not 1 <= len(words) <= _MAX_NAME_WORDS or not all(_WORD.match(w) for w in words):
        return None
    if not all(_is_name_word(w) or w.lower() in _PARTICLES for w in words):
        return None
    if not _is_name_word(words[0]) or words[0].lower() in _NOT_NAMES:
        return None
    if COMPANY.search(line) or DEPARTMENT.search(line):
        return None
    return " ".join(words)


def names_author(name: str, who: Author) -> bool:
    """True when a name (as_name of a line) is the author's: by display-name words, by the address
    ("jdoe", "john.doe", "doej"), or by a signed surname with a first name the display shortens."""
    written = name_words(name)
    words = [_key(w) for w in written]
    if not words or not all(words):
        return False
    known = who.words | who.pieces
    if len(words) == 1:  # a first name alone: the display name's, or the address's
        return words[0] in (who.given, who.local) or words[0] in who.pieces
    parts = {k for w in written for k in _keys(w)}
    if len(parts & known) >= 2:
        return True
    first, last = words[0], words[-1]
    surname = _keys(written[-1]) - {last}
    if len(words) <= 3 and len(last) > 1 and (last in known or (surname and surname <= known)):
        return True  # "Sue Mara" for Susan J Mara, "Bonnie Fogal" for Bonita G Fogal
    if len(words) <= 3 and first == who.local:
        return True  # "Lasitha Wattaladeniya" from lasitha@
    glued = {first + last, first[:1] + last, last + first[:1], first + last[:1], last + first}
    return who.local in glued


def _keys(word: str) -> set[str]:
    """The word and its hyphenated parts, compared as _key ("Hardwicke-Brown": three keys)."""
    keys = {_key(word)} | {_key(p) for p in _HYPHENS.split(word)}
    return {k for k in keys if k}


@lru_cache(maxsize=1024)  # the same words of the same sender are compared again and again
def _key(word: str) -> str:
    """A word compared without case, accents, dots, hyphens and apostrophes."""
    folded = unicodedata.normalize("NFKD", word.casefold())
    return "".join(c for c in folded if c.isalnum())
