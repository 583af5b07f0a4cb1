"""LeadBot's own checks of a message as received: DKIM (dkimpy), SPF (pyspf), DMARC (RFC 7489).

Every query goes through the given `Resolver`. DKIM needs only the bytes; SPF needs the SMTP
client's address and `MAIL FROM`, so it is judged only for mail LeadBot received itself; DMARC
then says whether either passed for the From domain's organisation.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from ingest.auth.dns import DNSTempError, Resolver
from ingest.auth.verdict import (
    FAIL,
    NONE,
    PASS,
    PERMERROR,
    POLICIES,
    TEMPERROR,
    Signature,
    Verdict,
    aligned,
    organisational_domain,
)

MAX_SIGNATURES = 5  # a message with dozens of DKIM-Signature fields must not cost dozens of queries
MIN_KEY_BITS = 1024  # RFC 8301 §3.2: shorter RSA keys are not to be trusted
SPF_BUDGET_FACTOR = 4  # SPF's whole evaluation (up to 10 lookups) may take this many timeouts

# dkimpy logs every failed signature at ERROR; the outcome is kept in the verdict instead.
_dkim_log = logging.getLogger("leadbot.auth.dkimpy")
_dkim_log.setLevel(logging.CRITICAL)
_dkim_log.propagate = False

_spf_resolver: ContextVar[Resolver | None] = ContextVar("spf_resolver", default=None)
SPF_RESULTS = ("pass", "fail", "softfail", "neutral", "none", "temperror", "permerror")


@dataclass(frozen=True)
class Received:
    """How a message reached LeadBot: the SMTP client and what it said, when known."""

    peer: str | None = None
    mail_from: str | None = None  # "" for the null sender of bounces
    helo: str | None = None


def judge(
    raw: bytes, *, from_domain: str | None, received: Received, resolver: Resolver
) -> Verdict:
    """DKIM, SPF and DMARC of `raw` (bytes as received) whose From domain is `from_domain`."""
    notes: list[str] = []
    signatures = check_dkim(raw, resolver)
    spf_result, spf_domain = None, None
    if received.peer:
        spf_result, spf_domain = check_spf(received, resolver)
    else:
        notes.append("spf: no SMTP client address (not received over SMTP)")
    dmarc_result, policy = None, None
    if from_domain is None:
        notes.append("dmarc: no single From domain")
    else:
        dmarc_result, policy = check_dmarc(
            from_domain, signatures, spf_result, spf_domain, resolver
        )
    return Verdict(
        from_domain=from_domain,
        dkim=tuple(signatures),
        spf=spf_result,
        spf_domain=spf_domain,
        dmarc=dmarc_result,
        dmarc_policy=policy,
        notes=tuple(notes),
    )


# -- DKIM (RFC 6376) ---------------------------------------------------------------------------


class _KeyLookup:
    """dkimpy's `dnsfunc`: the key record through our resolver, remembering what went wrong."""

    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver
        self.missing = False
        self.timed_out = False

    def __call__(self, name: bytes | str, timeout: float = 5) -> bytes | None:
        text = name.decode("ascii", "replace") if isinstance(name, bytes) else name
        try:
            records = self.resolver.txt(text, timeout_s=timeout)
        except DNSTempError:
            import dkim

            self.timed_out = True
            raise dkim.DnsTimeoutError(text) from None
        if not records:
            self.missing = True
            return None
        return records[0]  # RFC 6376 §3.6.2.2: more than one record gives undefined results


def check_dkim(raw: bytes, resolver: Resolver) -> list[Signature]:
    """Each DKIM signature's result, topmost first (at most MAX_SIGNATURES); [] when unsigned."""
    import dkim  # here, not at the top: a CLI run without sender verification never loads it

    try:
        d = dkim.DKIM(raw, logger=_dkim_log, minkey=MIN_KEY_BITS, timeout=resolver.timeout_s)
    except dkim.DKIMException:
        return [Signature("", PERMERROR)]  # headers dkimpy cannot read: no signature is usable
    count = sum(1 for name, _ in d.headers if name.lower() == b"dkim-signature")
    out = []
    for idx in range(min(count, MAX_SIGNATURES)):
        lookup = _KeyLookup(resolver)
        d.domain = None
        try:
            ok = d.verify(idx=idx, dnsfunc=lookup)
        except dkim.ValidationError:  # body hash or signature mismatch, expired, bad tags
            result = FAIL
        except dkim.DKIMException:  # a signature or message dkimpy cannot read
            result = PERMERROR
        except DNSTempError:
            result = TEMPERROR
        else:
            if ok:
                result = PASS
            elif lookup.timed_out:
                result = TEMPERROR
            elif lookup.missing:
                result = PERMERROR  # RFC 6376 §6.1.2: no key record is a permanent failure
            else:
                result = FAIL
        domain = d.domain.decode("ascii", "replace") if isinstance(d.domain, bytes) else ""
        out.append(Signature(domain.lower().rstrip("."), result))
    return out


# -- SPF (RFC 7208) ----------------------------------------------------------------------------


def _spf_lookup(
    name: str, qtype: str, strict: bool = True, timeout: float = 20
) -> list[tuple[tuple[str, str], object]]:
    """pyspf's `DNSLookup` hook: its answer shapes, from the resolver of the running check."""
    import spf

    resolver = _spf_resolver.get()
    if resolver is None:  # pyspf called outside check_spf: never the library's own DNS
        raise spf.TempError("DNS: no resolver configured")
    try:
        records = resolver.query(name, qtype, timeout_s=timeout)
    except DNSTempError as exc:
        raise spf.TempError(str(exc)) from None
    out: list[tuple[tuple[str, str], object]] = []
    for r in records:
        if qtype in ("A", "AAAA"):
            out.append(((name, qtype), getattr(r, "address", "")))
        elif qtype == "MX":
            out.append(((name, qtype), (getattr(r, "preference", 0), getattr(r, "exchange", ""))))
        elif qtype == "PTR":
            target = getattr(r, "target", None)
            out.append(((name, qtype), target.to_text(True) if target is not None else ""))
        elif qtype in ("TXT", "SPF"):
            out.append(((name, qtype), tuple(getattr(r, "strings", ()))))
    return out


def _spf() -> Any:
    """pyspf, loaded on first use, with our DNS function in place.

    pyspf looks its DNS function up as a module global at every query; ours reads the resolver of
    the check running in this thread, so checks with different resolvers never mix.
    """
    import spf

    spf.DNSLookup = _spf_lookup
    return spf


@contextmanager
def _using(resolver: Resolver) -> Iterator[None]:
    token = _spf_resolver.set(resolver)
    try:
        yield
    finally:
        _spf_resolver.reset(token)


def check_spf(received: Received, resolver: Resolver) -> tuple[str, str | None]:
    """SPF for the SMTP client and `MAIL FROM` (the HELO name for a null sender): (result, the
    domain it was judged for)."""
    peer = _client_address(received.peer or "")
    sender = (received.mail_from or "").strip().strip("<>")
    helo = (received.helo or "").strip()
    domain = sender.rpartition("@")[2].lower().rstrip(".") if sender else helo.lower().rstrip(".")
    if peer is None:
        return PERMERROR, domain or None
    if not domain:
        return NONE, None
    try:
        spf = _spf()
        with _using(resolver):
            query = spf.query(
                i=peer,
                s=sender or f"postmaster@{helo}",
                h=helo or domain,
                timeout=resolver.timeout_s,
                querytime=resolver.timeout_s * SPF_BUDGET_FACTOR,
            )
            result = str(query.check()[0]).lower()
    except Exception:  # a pyspf bug on odd input must not fail the message
        return PERMERROR, domain
    return (result if result in SPF_RESULTS else PERMERROR), domain


def _client_address(peer: str) -> str | None:
    try:
        address = ipaddress.ip_address(peer.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)  # a dual-stack socket's view of an IPv4 client
    return str(address)


# -- DMARC (RFC 7489) --------------------------------------------------------------------------


@dataclass(frozen=True)
class Policy:
    """A domain's DMARC record, as far as a receiver needs it."""

    p: str
    sp: str
    adkim_strict: bool
    aspf_strict: bool


def parse_dmarc_record(text: str) -> Policy | None:
    """The tags of a `v=DMARC1; p=…` record (RFC 7489 §6.3); None when it is not one."""
    tags: dict[str, str] = {}
    for i, part in enumerate(text.split(";")):
        key, sep, value = part.partition("=")
        key, value = key.strip().lower(), value.strip()
        if i == 0 and (key != "v" or value != "DMARC1"):
            return None  # v=DMARC1 must come first, exactly
        if sep and key and key not in tags:
            tags[key] = value
    # §6.6.3: an absent or unknown p is read as none (the record still says DMARC is in use).
    p = tags.get("p", "").lower()
    p = p if p in POLICIES else "none"
    sp = tags.get("sp", "").lower()
    return Policy(
        p=p,
        sp=sp if sp in POLICIES else p,
        adkim_strict=tags.get("adkim", "r").lower() == "s",
        aspf_strict=tags.get("aspf", "r").lower() == "s",
    )


def find_policy(from_domain: str, resolver: Resolver) -> tuple[Policy | None, bool]:
    """The DMARC record for `from_domain` (§6.6.3: its own, else its organisational domain's),
    and whether it was the organisation's. Raises DNSTempError."""
    org = organisational_domain(from_domain)
    for name, inherited in ((from_domain, False), (org, True)):
        if inherited and name == from_domain:
            break
        records = [
            p
            for r in resolver.txt(f"_dmarc.{name}")
            if (p := parse_dmarc_record(r.decode("utf-8", "replace"))) is not None
        ]
        if len(records) == 1:
            return records[0], inherited
        if records:  # §6.6.3 step 3: several records are as good as none
            return None, inherited
    return None, False


def check_dmarc(
    from_domain: str,
    signatures: list[Signature],
    spf_result: str | None,
    spf_domain: str | None,
    resolver: Resolver,
) -> tuple[str | None, str | None]:
    """(result, policy) for the From domain: pass when an aligned DKIM or SPF identifier passed,
    none without a record, None when it cannot be told (SPF not judged and no aligned DKIM)."""
    try:
        policy, inherited = find_policy(from_domain, resolver)
    except DNSTempError:
        return TEMPERROR, None
    if policy is None:
        return NONE, None
    applies = policy.sp if inherited else policy.p
    dkim_ok = any(
        s.result == PASS and aligned(s.domain, from_domain, strict=policy.adkim_strict)
        for s in signatures
    )
    spf_ok = spf_result == PASS and aligned(spf_domain, from_domain, strict=policy.aspf_strict)
    if dkim_ok or spf_ok:
        return PASS, applies
    if spf_result is None:
        return None, applies  # failing DMARC needs both identifiers judged
    # Only a lookup that could have made it pass makes the result temporary: a signature of some
    # other domain whose DNS never answers must not turn a forgery's fail into a temperror.
    undecided = any(
        s.result == TEMPERROR and aligned(s.domain, from_domain, strict=policy.adkim_strict)
        for s in signatures
    ) or (spf_result == TEMPERROR and aligned(spf_domain, from_domain, strict=policy.aspf_strict))
    return (TEMPERROR if undecided else FAIL), applies
