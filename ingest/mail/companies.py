"""Company and country implied by an address's domain (organisation for business domains only)."""

from __future__ import annotations

import ipaddress
import re
from functools import cache, lru_cache
from typing import TYPE_CHECKING

from disposable_email_domains import blocklist as _DISPOSABLE

from scoring.lexicon import WEBMAIL, in_domains

if TYPE_CHECKING:
    from publicsuffixlist import PublicSuffixList

# Providers with one registrable domain per country (yahoo.co.uk, gmx.net, hotmail.fr, …).
_WEBMAIL_LABELS = frozenset({"yahoo", "gmx", "hotmail", "outlook", "live", "yandex", "aol", "msn"})

# Country-code TLDs sold as generic names: they say nothing about where the person is.
_GENERIC_CC = frozenset(
    {"io", "co", "me", "tv", "ai", "ly", "fm", "am", "gg", "to", "cc", "ws", "so"}
)
_CC_REMAP = {"uk": "GB", "eu": None, "su": None, "ac": None}
_SPLIT = re.compile(r"[-_]+")


@cache
def _suffixes() -> PublicSuffixList:
    """The ICANN section of the public-suffix list bundled with publicsuffixlist (offline, never
    a download), loaded on first use. Its rules are kept as written (Unicode): punycoding every
    rule up front cost a tenth of a second, paid by every piped message; `registrable` decodes
    an xn-- name instead."""
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList(only_icann=True, accept_unknown=False, accept_encoded_idn=False)


def _unicode(label: str) -> str:
    if not label.startswith("xn--"):
        return label
    try:
        return label.encode("ascii").decode("idna")
    except UnicodeError:  # not valid punycode: no rule can match it anyway
        return label


@lru_cache(maxsize=1024)  # one message asks for its sender's domain four or five times
def registrable(domain: str) -> tuple[str, str]:
    """(organisation label, public suffix): mail.acme-corp.co.uk -> (acme-corp, co.uk).

    A name under no known suffix (acme.example, localhost) is (its last label, ""), an IP
    address (itself, ""), a bare suffix ("", co.uk); both parts as written (xn-- stays xn--)."""
    name = domain.lower().strip().rstrip(".")
    try:
        ipaddress.ip_address(name.strip("[]"))
        return name, ""
    except ValueError:
        pass
    labels = [label for label in name.split(".") if label]
    if not labels:
        return "", ""
    suffix = _suffixes().publicsuffix(".".join(_unicode(label) for label in labels))
    if suffix is None:
        return labels[-1], ""
    n = suffix.count(".") + 1
    if n >= len(labels):
        return "", ".".join(labels)
    return labels[-n - 1], ".".join(labels[-n:])


def is_webmail(domain: str) -> bool:
    """True for free mailbox providers and disposable-address services."""
    label, suffix = registrable(domain)
    top = f"{label}.{suffix}" if suffix else label
    listed = in_domains(domain.lower().strip().rstrip("."), WEBMAIL) is not None
    return listed or label in _WEBMAIL_LABELS or top in _DISPOSABLE


_ACRONYM = 3


def company_from_domain(domain: str) -> str | None:
    """A readable organisation name from a business domain, None for webmail."""
    label, suffix = registrable(domain)
    if not label or not suffix or is_webmail(domain):
        return None
    words = [w for w in _SPLIT.split(label) if w]
    if not words:
        return None
    # A label of three letters or fewer is an acronym as often as not: mit.edu is MIT, ibm.com IBM.
    if len(words) == 1 and len(words[0]) <= _ACRONYM and words[0].isalpha():
        return words[0].upper()
    return " ".join(w.capitalize() for w in words)


def country_from_domain(domain: str) -> str | None:
    """ISO 3166 alpha-2 implied by a country-code TLD (co.uk -> GB), None for generic ones."""
    _label, suffix = registrable(domain)
    tld = suffix.rsplit(".", 1)[-1].lower() if suffix else ""
    if len(tld) != 2 or not tld.isascii() or not tld.isalpha() or tld in _GENERIC_CC:
        return None
    if tld in _CC_REMAP:
        return _CC_REMAP[tld]
    return tld.upper()
