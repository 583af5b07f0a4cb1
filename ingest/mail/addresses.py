"""Turning a From / Reply-To value into one validated address, refusing anything ambiguous.

Python 3.11.7 lacks the CVE-2023-27043 fix: `getaddresses` reads
`alice@example.org)<bob@example.org>` as two addresses. So the address that becomes a lead must
be the only address-like token in the header (quoted display names aside), must parse without
structural defects, and must pass email-validator.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.headerregistry import HeaderRegistry
from email.utils import formataddr, getaddresses
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email

from ingest.mail.headers import ENCODED_WORD, decode_value
from ingest.mail.text import clean_line
from storage.errors import AddressError

NAME_LIMIT = 200

_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
_COMMENT = re.compile(r"\((?:[^()\\]|\\.)*\)")
_TOKEN_RUN = re.compile(r"[^\s<>()\[\]\"',;:]+")


class _AddressTokens:
    """Address-like words: a run of characters that cannot end an address (no space, bracket,
    quote, comma, semicolon or colon) holding an `@` after its first character with a dot
    inside the rest, as `[^…]+@[^…]+\\.[^…]+` finds them. That regex backtracks over every run
    from every start: "1-1-1-…" (200 KB in a signature) took 49 s; this reads each run once."""

    def finditer(self, text: str) -> Iterator[re.Match[str]]:
        for run in _TOKEN_RUN.finditer(text):
            word = run.group()
            at = word.find("@", 1)
            if at != -1 and "." in word[at + 2 : -1]:
                yield run

    def findall(self, text: str) -> list[str]:
        return [m.group() for m in self.finditer(text)]

    def search(self, text: str) -> re.Match[str] | None:
        return next(self.finditer(text), None)

    def sub(self, repl: str, text: str) -> str:
        out: list[str] = []
        end = 0
        for m in self.finditer(text):
            out += (text[end : m.start()], repl)
            end = m.end()
        return "".join(out) + text[end:] if out else text


ADDRESS_TOKEN = _AddressTokens()
_REGISTRY = HeaderRegistry()
# A run of encoded words with only whitespace between them is one piece of text (RFC 2047 6.2:
# that whitespace is not part of it); the stdlib's address parser keeps it ("MySurvey .com").
_ENCODED_WORD = re.compile(rf"{ENCODED_WORD}(?:[ \t]+{ENCODED_WORD}){{0,50}}")
# Characters that make a header value more than `name address` (plain string tests, not a regex:
# a pattern over `a@a@a@… <b@b@…` backtracks for minutes).
_STRUCTURE = frozenset('<>"(),;:')
# Sloppy but unambiguous encodings real clients produce (`"=?utf-8?…?="`, raw UTF-8 names) and
# RFC 5322's obsolete phrase with a period (`Dr. A. Smith <a@b.example>`, unquoted, as many
# clients send it; the stdlib calls the final period of `Sandy M.` a comment without atom);
# any other defect means the structure itself is in doubt.
_HARMLESS_DEFECT = re.compile(
    r"non-ascii|encoded word|whitespace|period in 'phrase'|comment found without atom",
    re.IGNORECASE,
)

# Senders that are machines speaking for someone else (website forms, CMS notifications).
_ROBOT_LOCAL = re.compile(
    r"^(no[-_.]?reply|do[-_.]?not[-_.]?reply|wordpress|www-data|apache|nginx|forms?|webforms?|"
    r"website|web|notifications?|notify|mailer|postman|bounces?|robot|system|admin|webmaster|"
    r"contact-?form|hello-?form)([-_.+].*)?$",
    re.IGNORECASE,
)
# Senders that say nobody reads the answers (no-reply in several languages): a lead at such an
# address can never be answered.
_NOTIFIER_LOCAL = re.compile(
    r"^(notify|notifications?|notifier|mailer|postman|robot|bounces?|wordpress|www-data|apache|"
    r"nginx|automated|alerts?)([-_.+].*)?$",
    re.IGNORECASE,
)
_NOREPLY_LOCAL = re.compile(
    r"^(no[-_.]?reply|do[-_.]?not[-_.]?reply|ne[-_.]?pas[-_.]?repondre|nao[-_.]?responda|"
    r"no[-_.]?responder|non[-_.]?rispondere|keine[-_.]?antwort|nicht[-_.]?antworten)"
    r"([-_.+].*)?$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Address:
    """A validated, lower-cased address and the display name that came with it."""

    email: str
    name: str | None

    @property
    def domain(self) -> str:
        return self.email.rsplit("@", 1)[1]

    @property
    def local(self) -> str:
        return self.email.rsplit("@", 1)[0]


def normalise(addr: str, *, ours: frozenset[str] = frozenset()) -> str:
    """Validate with email-validator (no DNS) and lower-case; raises AddressError.

    An address in one of `ours` (the team's own domains) is a rep's, never a lead's: its domain may
    be a special-use or single-label name (`corp.local`, `acme.lan`, `ad`) that email-validator
    refuses for mail on the internet, so only its local part is validated then.
    """
    local, at, domain = addr.rpartition("@")
    domain = domain.lower().rstrip(".")
    if at and ours and _OWN_DOMAIN.fullmatch(domain) and in_domains(domain, ours):
        checked = normalise(f"{local}@example.com")
        return f"{checked.rpartition('@')[0]}@{domain}"
    try:
        result = validate_email(addr, check_deliverability=False)
    except EmailNotValidError as exc:
        raise AddressError(f"invalid address {addr[:100]!r}: {exc}") from None
    return result.normalized.lower()


# A domain name as an internal network names it: letters, digits and hyphens in dot-separated labels.
_OWN_DOMAIN = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)(?:\.(?!-)[a-z0-9-]{1,63}(?<!-))*")


HEADER_LIMIT = 2000
# The same senders come back (a rep forwarding, a customer replying): each From value is parsed
# and validated once (the stdlib's header parser and email-validator cost ~0.1 ms a value).
_CACHED_VALUES = 512


def parse_single(value: str, *, header: str, ours: frozenset[str] = frozenset()) -> Address:
    """Parse a header value that must hold exactly one mailbox; raises AddressError otherwise.

    `ours`: the team's own domains, whose addresses are accepted on any domain name (normalise).
    """
    return _parse_single(value, header, ours if isinstance(ours, frozenset) else frozenset(ours))


@lru_cache(maxsize=_CACHED_VALUES)  # a pure function of its arguments; errors are not cached
def _parse_single(value: str, header: str, ours: frozenset[str]) -> Address:
    value = value.replace("\r", " ").replace("\n", " ")
    if len(value) > HEADER_LIMIT:  # a display name too long to matter: cut it, not the address
        try:
            found = [(n, a) for n, a in getaddresses([value]) if a]
        except RecursionError:
            found = []
        if len(found) == 1 and len(found[0][1]) <= 320:
            value = formataddr((found[0][0][:NAME_LIMIT], found[0][1]))
        else:
            value = value[:HEADER_LIMIT]
    value = _ENCODED_WORD.sub(_reencode, value)
    value = _unbracketed(value)
    bare = _COMMENT.sub(" ", _QUOTED.sub(" ", value))
    tokens = {t.lower().strip(".") for t in ADDRESS_TOKEN.findall(bare)}
    if len(tokens) > 1:
        raise AddressError(f"{header} holds several addresses; refusing to guess")
    try:
        pairs = [(n, a) for n, a in getaddresses([value]) if a]
        try:
            parsed = _REGISTRY(header, value)
        except ValueError as exc:
            if "CR or LF" not in str(exc) or len(pairs) != 1:
                raise
            # An encoded word carried a newline into the display name (=0A): the address is
            # unambiguous, so rebuild the header from a cleaned name and parse that instead.
            name = clean_line(decode_value(pairs[0][0]), limit=NAME_LIMIT) or ""
            parsed = _REGISTRY(header, formataddr((name, pairs[0][1])))
        mailboxes = list(parsed.addresses)  # type: ignore[attr-defined]
        defects = [d for d in parsed.defects if not _HARMLESS_DEFECT.search(str(d))]
    except (ValueError, IndexError, TypeError, AttributeError, RecursionError) as exc:
        # RecursionError: the stdlib parser recurses once per nested "(" of a comment.
        reason = "nested too deeply" if isinstance(exc, RecursionError) else exc
        raise AddressError(f"{header} cannot be parsed: {reason}") from None
    if len(mailboxes) != len(pairs):  # `@@@…a@b.co`: one reading sees one, the other several
        raise AddressError(
            f"{header} is ambiguous (read as {len(mailboxes)} and as {len(pairs)} addresses);"
            " refusing to guess"
        )
    if len(mailboxes) != 1:
        raise AddressError(f"{header} must hold exactly one address, found {len(mailboxes)}")
    if defects:
        raise AddressError(f"{header} is malformed ({defects[0]}); refusing to guess")
    mailbox = mailboxes[0]
    addr = mailbox.addr_spec
    if pairs[0][1].lower() != addr.lower():
        raise AddressError(f"{header} is ambiguous ({pairs[0][1]!r} vs {addr!r})")
    return Address(email=normalise(addr, ours=ours), name=display_name(mailbox.display_name))


def _unbracketed(value: str) -> str:
    """`jane@acme.example <jane@acme.example>` (named by itself) as the address alone, and
    `Big Bug bb@bug.example` (the brackets left out) as `Big Bug <bb@bug.example>`; anything else
    as it is."""
    words = value.split()
    if len(words) < 2 or any(ch in _STRUCTURE for ch in words[0]):
        return value
    last = words[-1]
    if len(words) == 2 and last.startswith("<") and last.endswith(">"):
        inner = last[1:-1]
        if "@" in words[0] and inner.lower() == words[0].lower() and _plain(inner):
            return inner
        return value
    if (
        "@" in last
        and _plain(last)
        and not any("@" in w or _STRUCTURE & set(w) for w in words[:-1])
    ):
        return formataddr((" ".join(words[:-1]), last))
    return value


def _plain(word: str) -> bool:
    return word.count("@") == 1 and not _STRUCTURE & set(word)


def _reencode(match: re.Match[str]) -> str:
    """A run of encoded words, decoded, cleaned of CR/LF and controls, and re-encoded as one
    base64 word.

    Real clients put `:`, `<`, `,` or `=0D=0A` inside Q-encoded words (`=?utf-8?q?x=0D=0ABcc:_
    evil@x?=`); the address parsers would read them as structure. Base64 holds none of those.
    """
    decoded = clean_line(decode_value(match.group(0)), limit=NAME_LIMIT) or ""
    return "=?utf-8?b?" + base64.b64encode(decoded.encode("utf-8")).decode("ascii") + "?="


def display_name(name: str | None) -> str | None:
    """A display name fit to store, or None when it is empty or just an address."""
    cleaned = clean_line(name, limit=NAME_LIMIT)
    if not cleaned:
        return None
    cleaned = cleaned.strip("\"' ")
    # A name that is or holds an address says nothing; `@everyone` or `<@U123>` is kept as text
    # (Slack rendering escapes it).
    if not cleaned or ADDRESS_TOKEN.search(cleaned):
        return None
    return cleaned


def in_domains(domain: str, domains: frozenset[str]) -> bool:
    """True when `domain` is one of `domains` or a subdomain of one."""
    domain = domain.lower().rstrip(".")
    return any(domain == d or domain.endswith("." + d) for d in (x.lower() for x in domains))


def is_robot(address: Address) -> bool:
    """True for no-reply, wordpress@ and similar senders that relay someone else's message."""
    return bool(_ROBOT_LOCAL.match(address.local))


def is_noreply(address: Address) -> bool:
    """True for no-reply senders (noreply@, do-not-reply@, ne-pas-repondre@, …) and for mailboxes
    of software that only notifies (notify@, notifications@, wordpress@, www-data@, …): nobody
    answers. admin@, webmaster@ or website@ may be a person at a small firm: not these."""
    return bool(_NOREPLY_LOCAL.match(address.local) or _NOTIFIER_LOCAL.match(address.local))
