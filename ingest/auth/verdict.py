"""What was found out about who sent a message: kept in its raw input, read by scoring as facts.

A `Verdict` is stored once, at receipt, in `raw_input.envelope["auth"]`; reprocessing reads it
back instead of asking DNS again (keys rotate, records change: what held when the message came
is what counts). `facts` turns it into the activity fields the rules see (`auth.dmarc`, …).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from ingest.mail.companies import registrable

LEADBOT = (
    "leadbot"  # `by` of a verdict LeadBot worked out itself (DNS), else the trusted authserv-id
)
PASS, FAIL, NONE = "pass", "fail", "none"
TEMPERROR, PERMERROR = "temperror", "permerror"
YES, NO, UNKNOWN = "yes", "no", "unknown"
POLICIES = ("none", "quarantine", "reject")

# The facts a rule can ask for (`when.auth.<name>`, `when.spam.<name>`) and the activity fields
# that carry them; the results each method may have (RFC 8601 §2.7; scoring.conditions allows
# exactly these in rules).
AUTH_FACTS = ("dkim", "spf", "dmarc", "dmarc_policy", "verified")
RESULTS = {
    "dkim": ("pass", "fail", "none", "neutral", "policy", "temperror", "permerror"),
    "spf": ("pass", "fail", "softfail", "neutral", "none", "policy", "temperror", "permerror"),
    "dmarc": ("pass", "fail", "none", "temperror", "permerror"),
}
# What MTAs write besides: RFC 4408's names, Microsoft's "no record, but it would have passed".
OTHER_NAMES = {"hardfail": "fail", "error": "temperror", "unknown": "permerror"}
DMARC_OTHER_NAMES = {"bestguesspass": "none"}
SPAM_SCORE, SPAM_FLAGGED = "spam.score", "spam.flagged"
VERIFIED = "auth.verified"


@dataclass(frozen=True)
class Signature:
    """One DKIM signature's outcome (or one `dkim=` result of a trusted header)."""

    domain: str  # d= (lower case); "" when the signature could not be read
    result: str


@dataclass(frozen=True, kw_only=True)
class Verdict:
    """DKIM, SPF and DMARC results of one message as received, and the spam verdict if known."""

    by: str = LEADBOT
    from_domain: str | None = None
    dkim: tuple[Signature, ...] = ()
    spf: str | None = None  # None: not judged (no connecting address known)
    spf_domain: str | None = None  # the MAIL FROM domain, or the HELO name for a null sender
    dmarc: str | None = None  # None: not judged
    dmarc_policy: str | None = None  # the policy that applies to the From domain, if published
    spam_score: float | None = None
    spam_flagged: bool | None = None
    notes: tuple[str, ...] = field(default=())  # why something could not be judged

    @property
    def dkim_result(self) -> str | None:
        """pass when any signature passed (RFC 6376 §6.1), else the first one's result."""
        if not self.dkim:
            return NONE if self.by == LEADBOT else None
        if any(s.result == PASS for s in self.dkim):
            return PASS
        return self.dkim[0].result

    @property
    def verified(self) -> str:
        """yes: the From domain is vouched for (DMARC pass, or an aligned DKIM or SPF pass);
        no: it is not (DMARC fail, or both checked and neither aligned); unknown otherwise."""
        if self.dmarc in (PASS, FAIL):  # it applied the domain's own alignment modes
            return YES if self.dmarc == PASS else NO
        if self.aligned_dkim or self.aligned_spf:
            return YES
        judged = {self.dkim_result, self.spf}
        if self.from_domain and None not in judged and TEMPERROR not in judged:
            return NO
        return UNKNOWN

    @property
    def aligned_dkim(self) -> bool:
        return any(
            s.result == PASS and aligned(s.domain, self.from_domain, strict=False)
            for s in self.dkim
        )

    @property
    def aligned_spf(self) -> bool:
        return self.spf == PASS and aligned(self.spf_domain, self.from_domain, strict=False)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["dkim"] = [[s.domain, s.result] for s in self.dkim]
        data["notes"] = list(self.notes)
        data["verified"] = self.verified  # for people reading the row; recomputed when loaded
        return {k: v for k, v in data.items() if v not in (None, [], ())}


def load(data: Mapping[str, Any]) -> Verdict:
    """A verdict from `to_json`'s dict (a stored envelope); unknown keys are ignored."""
    score = data.get("spam_score")
    flagged = data.get("spam_flagged")
    return Verdict(
        by=str(data.get("by") or LEADBOT),
        from_domain=_text(data.get("from_domain")),
        dkim=tuple(
            Signature(str(d[0]), str(d[1]))
            for d in data.get("dkim") or ()
            if isinstance(d, list | tuple) and len(d) == 2
        ),
        spf=_text(data.get("spf")),
        spf_domain=_text(data.get("spf_domain")),
        dmarc=_text(data.get("dmarc")),
        dmarc_policy=_text(data.get("dmarc_policy")),
        spam_score=float(score) if isinstance(score, int | float) else None,
        spam_flagged=flagged if isinstance(flagged, bool) else None,
        notes=tuple(str(n) for n in data.get("notes") or ()),
    )


def _text(value: object) -> str | None:
    return str(value) if value not in (None, "") else None


def facts(stored: Mapping[str, Any] | None) -> dict[str, str]:
    """The activity fields a stored verdict gives the rules: `auth.dkim`, `auth.spf`,
    `auth.dmarc`, `auth.dmarc_policy`, `auth.verified`, `spam.score`, `spam.flagged`; a fact
    that was not judged is absent, so no rule matches on it."""
    if not stored:
        return {}
    v = load(stored)
    out = {
        "auth.dkim": v.dkim_result,
        "auth.spf": v.spf,
        "auth.dmarc": v.dmarc,
        "auth.dmarc_policy": v.dmarc_policy,
        VERIFIED: v.verified,
        SPAM_SCORE: None if v.spam_score is None else f"{v.spam_score:g}",
        SPAM_FLAGGED: None if v.spam_flagged is None else (YES if v.spam_flagged else NO),
    }
    return {k: val for k, val in out.items() if val is not None}


def unverified(fields: Mapping[str, Any] | None) -> bool:
    """True when an activity's fields say its sender failed verification (the card's warning)."""
    return bool(fields) and str((fields or {}).get(VERIFIED, "")) == NO


def organisational_domain(domain: str) -> str:
    """RFC 7489 §3.2: the public suffix and one label more (mail.acme.co.uk -> acme.co.uk).

    A name under a suffix the list does not know (`.example`, `.internal`) keeps its last two
    labels, as the list's default rule `*` says.
    """
    domain = domain.strip().lower().rstrip(".")
    label, suffix = registrable(domain)
    if label and suffix:
        return f"{label}.{suffix}"
    if not suffix:
        return ".".join(domain.split(".")[-2:])
    return domain  # the name is a public suffix itself


def aligned(domain: str | None, from_domain: str | None, *, strict: bool) -> bool:
    """DMARC identifier alignment (RFC 7489 §3.1): equal (strict), or the same organisation."""
    if not domain or not from_domain:
        return False
    a, b = ascii_domain(domain), ascii_domain(from_domain)
    if strict or a == b:
        return a == b
    return organisational_domain(a) == organisational_domain(b)


def ascii_domain(domain: str) -> str:
    """The name as DNS and DKIM's d= spell it: lower case, A-labels (例え.jp -> xn--r8jz45g.jp)."""
    name = domain.strip().lower().rstrip(".")
    if name.isascii():
        return name
    try:
        return name.encode("idna").decode("ascii")
    except UnicodeError:
        return name


def result_of(method: str, text: str) -> str | None:
    """A result as one of RESULTS[method] (lower case, other names mapped), None if unknown."""
    value = text.strip().lower()
    if method == "dmarc":
        value = DMARC_OTHER_NAMES.get(value, value)
    value = OTHER_NAMES.get(value, value)
    return value if value in RESULTS.get(method, ()) else None
