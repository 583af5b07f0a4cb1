"""The condition language: each `when.*` key of a rule compiled once into a small check function."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from scoring.lexicon import DISPOSABLE, WEBMAIL, KeywordIndex, Keywords, in_domains
from storage.errors import RuleError

DOMAIN_CLASSES = ("business", "webmail", "disposable", "competitor")
# Facts of one email as received (ingest.auth): `when.auth.<fact>` and the values each may take.
AUTH_FACTS: dict[str, tuple[str, ...]] = {
    "dkim": ("pass", "fail", "none", "neutral", "policy", "temperror", "permerror"),
    "spf": ("pass", "fail", "softfail", "neutral", "none", "policy", "temperror", "permerror"),
    "dmarc": ("pass", "fail", "none", "temperror", "permerror"),
    "dmarc_policy": ("none", "quarantine", "reject"),
    "verified": ("yes", "no", "unknown"),
}
SPAM_SCORE, SPAM_FLAGGED = "spam.score", "spam.flagged"
PROFILE_PARTS = ("name", "company", "title", "phone")
_NUMERIC_OPS = ("gte", "gt", "lte", "lt")
_NO_HITS: set[int] = set()
_NO_FACTS: dict[str, str] = {}


class LeadCtx:
    """What lead-level checks look at, folded once per score() call."""

    __slots__ = (
        "country",
        "domain",
        "domain_class",
        "email",
        "fields",
        "numbers",
        "present",
        "title",
        "title_hits",
        "title_ordered",
        "title_words",
    )

    def __init__(self) -> None:
        self.country = ""
        self.domain = ""
        self.domain_class = ""
        self.email = ""
        self.fields: dict[str, tuple[str, str]] = {}  # name -> (raw, folded)
        self.numbers: dict[str, float] = {}
        self.present: tuple[str, ...] = ()
        self.title = ""
        self.title_words: frozenset[str] = frozenset()
        self.title_ordered: list[str] = []
        self.title_hits: set[int] = _NO_HITS


class ActCtx:
    """One activity as activity-level checks see it; most recent first in the engine."""

    __slots__ = (
        "age_days",
        "decay",
        "facts",
        "hits",
        "kind",
        "occurred_at",
        "ordered",
        "text",
        "words",
    )

    def __init__(
        self,
        kind: str,
        age_days: float,
        decay: float,
        occurred_at: datetime,
        text: str,
        words: frozenset[str],
        ordered: list[str],
        hits: set[int],
        facts: dict[str, str] | None = None,
    ) -> None:
        self.kind = kind
        self.age_days = age_days
        self.decay = decay
        self.occurred_at = occurred_at
        self.text = text  # folded
        self.words = words
        self.ordered = ordered
        self.hits = hits  # ids of the keyword lists found in the text (KeywordIndex)
        self.facts = facts or _NO_FACTS  # the activity's fields: `auth.dmarc`, `spam.score`, …


# A check is (test, describe): the engine tests every rule and describes only the hits.
LeadCheck = tuple[Callable[[LeadCtx], bool], Callable[[LeadCtx], str]]
ActCheck = tuple[Callable[[ActCtx], bool], Callable[[ActCtx], str]]


@dataclass(frozen=True)
class Vocabulary:
    """Named sets a rules file defines once and rules refer to."""

    regions: dict[str, frozenset[str]]
    competitors: frozenset[str]
    webmail: frozenset[str]
    kinds: dict[str, frozenset[str]] = field(default_factory=dict)  # [kinds] groups
    titles: KeywordIndex = field(default_factory=KeywordIndex)
    texts: KeywordIndex = field(default_factory=KeywordIndex)


@dataclass
class Compiled:
    lead_checks: list[LeadCheck] = field(default_factory=list)
    act_checks: list[ActCheck] = field(default_factory=list)  # text conditions
    engagement: bool = False  # true when the rule looks at activities at all
    kinds: frozenset[str] | None = None  # None: any kind
    within_days: float | None = None
    min_count: int = 1
    needs: set[str] = field(default_factory=set)  # "title", "domain", "fields:<name>", …


def _strings(key: str, value: Any, *, allow_str: bool = False) -> list[str]:
    if allow_str and isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise RuleError(key, f"'{key}' must be a non-empty list of strings")
    return value


def _number(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RuleError(key, f"'{key}' must be a number, not {type(value).__name__}")
    return float(value)


def _regex(key: str, value: Any) -> re.Pattern[str]:
    if not isinstance(value, str):
        raise RuleError(key, f"'{key}' must be a string")
    try:
        return re.compile(value, re.IGNORECASE)
    except re.error as exc:
        raise RuleError(key, f"'{key}': bad regular expression: {exc}") from None


def classify_domain(domain: str, vocab: Vocabulary) -> str:
    if in_domains(domain, vocab.competitors):
        return "competitor"
    if in_domains(domain, DISPOSABLE):
        return "disposable"
    if in_domains(domain, vocab.webmail) or in_domains(domain, WEBMAIL):
        return "webmail"
    return "business"


def _field_check(spec: Any, key: str, needs: set[str]) -> LeadCheck:
    if not isinstance(spec, dict):
        raise RuleError(key, f"'{key}' must be a table like {{name = \"industry\", in = [...]}}")
    unknown = set(spec) - {"name", "in", "missing", "present", *_NUMERIC_OPS}
    if unknown:
        raise RuleError(sorted(unknown)[0], f"'{key}': unknown key '{sorted(unknown)[0]}'")
    name = spec.get("name")
    if not isinstance(name, str) or not name:
        raise RuleError(key, f"'{key}' needs a 'name' (the field to look at)")
    ops = {op: _number(op, spec[op]) for op in _NUMERIC_OPS if op in spec}
    if "in" in spec:
        needs.add(f"fields:{name}")
        wanted = frozenset(v.strip().casefold() for v in _strings("in", spec["in"]))
        return (
            lambda c: (got := c.fields.get(name)) is not None and got[1] in wanted,
            lambda c: f"{name} = {c.fields[name][0]}",
        )
    if ops:
        needs.add(f"number:{name}")
        # Bins are half-open, [gte, lt), so learned neighbouring bins never overlap.
        lo = ops.get("gt", ops.get("gte", -math.inf))
        hi = ops.get("lt", ops.get("lte", math.inf))
        lo_ok = (lambda x: x > lo) if "gt" in ops else (lambda x: x >= lo)
        hi_ok = (lambda x: x < hi) if "lt" in ops else (lambda x: x <= hi)
        return (
            lambda c: (x := c.numbers.get(name)) is not None and lo_ok(x) and hi_ok(x),
            lambda c: f"{name} = {c.numbers[name]:g}",
        )
    for flag in ("missing", "present"):
        if flag in spec:
            if not isinstance(spec[flag], bool):
                raise RuleError(flag, f"'{flag}' must be true or false")
            needs.add(f"fields:{name}")
            return _presence_check(name, spec[flag] == (flag == "present"))
    raise RuleError(key, f"'{key}' needs one of in, gte, gt, lte, lt, missing, present")


def _activity(spec: Any, out: Compiled, vocab: Vocabulary) -> None:
    if not isinstance(spec, dict):
        raise RuleError("activity", "'activity' must be a table like {kind = \"download\"}")
    unknown = set(spec) - {"kind", "min_count", "within_days"}
    if unknown:
        raise RuleError(sorted(unknown)[0], f"'activity': unknown key '{sorted(unknown)[0]}'")
    if "kind" in spec:
        # Any kind string is accepted: a new channel must not need a code change.
        kinds: set[str] = set()
        for k in _strings("kind", spec["kind"], allow_str=True):
            k = k.strip().casefold()
            kinds |= vocab.kinds.get(k, {k})
        out.kinds = None if "*" in kinds else frozenset(kinds)
    if "within_days" in spec:
        out.within_days = _number("within_days", spec["within_days"])
        if out.within_days <= 0:
            raise RuleError("within_days", "'within_days' must be more than 0")
    min_count = spec.get("min_count", 1)
    if isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 1:
        raise RuleError("min_count", "'min_count' must be a whole number of at least 1")
    out.min_count = min_count


def compile_when(when: Any, vocab: Vocabulary) -> Compiled:
    """Compile a rule's `when` table; every key must be known and well typed."""
    if not isinstance(when, dict):
        raise RuleError("when", "'when' must be a table of conditions")
    out = Compiled()
    lead, acts, needs = out.lead_checks, out.act_checks, out.needs
    for key, value in when.items():
        if key == "title_any":
            kw = Keywords(_strings(key, value))
            kid = vocab.titles.add(kw)
            needs.add("title")
            lead.append(_title_check(kw, kid))
        elif key == "domain_is":
            classes = _strings(key, value, allow_str=True)
            bad = [c for c in classes if c not in DOMAIN_CLASSES]
            if bad:
                raise RuleError(
                    key, f"'domain_is': '{bad[0]}' is not one of {', '.join(DOMAIN_CLASSES)}"
                )
            needs.add("domain")
            lead.append(_domain_class_check(frozenset(classes)))
        elif key == "domain_in":
            doms = frozenset(d.strip().lower().lstrip("@") for d in _strings(key, value))
            needs.add("domain")
            lead.append(_domain_in_check(doms))
        elif key == "email_regex":
            rx = _regex(key, value)
            lead.append(_email_check(rx))
        elif key == "country_in":
            codes: set[str] = set()
            for item in _strings(key, value):
                name = item.strip().upper()
                if name in vocab.regions:
                    codes |= vocab.regions[name]
                elif len(name) == 2 and name.isalpha():
                    codes.add(name)
                else:
                    raise RuleError(
                        key,
                        f"'country_in': '{item}' is neither an ISO country "
                        "code nor a region defined under [regions]",
                    )
            lead.append(_country_check(frozenset(codes)))
        elif key == "field":
            for spec in value if isinstance(value, list) else [value]:
                lead.append(_field_check(spec, key, needs))
        elif key == "profile_complete_min":
            if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= 4:
                raise RuleError(
                    key,
                    "'profile_complete_min' must be a whole number from 1 to 4 "
                    f"(of {', '.join(PROFILE_PARTS)})",
                )
            needs.add("profile")
            lead.append(_profile_check(value))
        elif key == "text_any":
            kw = Keywords(_strings(key, value))
            kid = vocab.texts.add(kw)
            needs.add("text")
            out.engagement = True
            acts.append(_text_check(kw, kid))
        elif key == "text_regex":
            rx = _regex(key, value)
            needs.add("text")
            out.engagement = True
            acts.append(_text_regex_check(rx))
        elif key == "activity":
            out.engagement = True
            _activity(value, out, vocab)
        elif key == "auth":
            out.engagement = True
            acts.extend(_auth_checks(value, needs))
        elif key == "spam":
            out.engagement = True
            acts.extend(_spam_checks(value, needs))
        else:
            raise RuleError(key, f"unknown condition '{key}'")
    return out


def _auth_checks(spec: Any, needs: set[str]) -> list[ActCheck]:
    if not isinstance(spec, dict) or not spec:
        raise RuleError("auth", "'auth' must be a table like {dmarc = \"fail\"}")
    checks = []
    for name, value in spec.items():
        allowed = AUTH_FACTS.get(name)
        if allowed is None:
            raise RuleError(
                name, f"'auth': unknown fact '{name}' (expected {', '.join(AUTH_FACTS)})"
            )
        wanted = frozenset(v.strip().casefold() for v in _strings(name, value, allow_str=True))
        bad = sorted(wanted - set(allowed))
        if bad:
            raise RuleError(name, f"'auth.{name}': '{bad[0]}' is not one of {', '.join(allowed)}")
        needs.add(f"facts:auth.{name}")
        checks.append(_fact_check(f"auth.{name}", wanted))
    return checks


def _spam_checks(spec: Any, needs: set[str]) -> list[ActCheck]:
    if not isinstance(spec, dict) or not spec:
        raise RuleError("spam", "'spam' must be a table like {score = {gte = 5}}")
    unknown = set(spec) - {"score", "flagged"}
    if unknown:
        key = sorted(unknown)[0]
        raise RuleError(key, f"'spam': unknown key '{key}' (expected score, flagged)")
    checks = []
    if "flagged" in spec:
        if not isinstance(spec["flagged"], bool):
            raise RuleError("flagged", "'flagged' must be true or false")
        needs.add(f"facts:{SPAM_FLAGGED}")
        checks.append(_fact_check(SPAM_FLAGGED, frozenset({"yes" if spec["flagged"] else "no"})))
    if "score" in spec:
        ops = spec["score"]
        if not isinstance(ops, dict) or not ops or set(ops) - set(_NUMERIC_OPS):
            raise RuleError("score", "'score' must be a table like {gte = 5} (gte, gt, lte, lt)")
        bounds = {op: _number(op, ops[op]) for op in _NUMERIC_OPS if op in ops}
        needs.add(f"facts:{SPAM_SCORE}")
        checks.append(_fact_number_check(SPAM_SCORE, bounds))
    return checks


# Factories, so that every check closes over its own values.
def _fact_check(name: str, wanted: frozenset[str]) -> ActCheck:
    return (
        (lambda a: (got := a.facts.get(name)) is not None and got.casefold() in wanted),
        (lambda a: f"{name} = {a.facts.get(name)}"),
    )


def _fact_number_check(name: str, bounds: dict[str, float]) -> ActCheck:
    lo = bounds.get("gt", bounds.get("gte", -math.inf))
    hi = bounds.get("lt", bounds.get("lte", math.inf))
    strict_lo, strict_hi = "gt" in bounds, "lt" in bounds

    def test(a: ActCtx) -> bool:
        raw = a.facts.get(name)
        if raw is None:
            return False
        try:
            x = float(raw)
        except ValueError:
            return False
        return (x > lo if strict_lo else x >= lo) and (x < hi if strict_hi else x <= hi)

    return test, (lambda a: f"{name} = {a.facts.get(name)}")


def _presence_check(name: str, want: bool) -> LeadCheck:
    return (
        (lambda c: (name in c.fields) == want),
        (lambda c: f"{name} {'present' if want else 'missing'}"),
    )


def _title_check(kw: Keywords, kid: int) -> LeadCheck:
    def test(c: LeadCtx) -> bool:
        return kid in c.title_hits

    def describe(c: LeadCtx) -> str:
        return "title: " + ", ".join(kw.match(c.title, c.title_words, c.title_ordered))

    return test, describe


def _domain_class_check(wanted: frozenset[str]) -> LeadCheck:
    return (lambda c: c.domain_class in wanted), (lambda c: f"{c.domain} is {c.domain_class}")


def _domain_in_check(doms: frozenset[str]) -> LeadCheck:
    return (
        (lambda c: in_domains(c.domain, doms) is not None),
        (lambda c: f"domain {in_domains(c.domain, doms)}"),
    )


def _email_check(rx: re.Pattern[str]) -> LeadCheck:
    return (lambda c: rx.search(c.email) is not None), (lambda c: f"email {c.email}")


def _country_check(codes: frozenset[str]) -> LeadCheck:
    return (lambda c: c.country in codes), (lambda c: f"country {c.country}")


def _profile_check(n: int) -> LeadCheck:
    return (lambda c: len(c.present) >= n), (lambda c: f"profile has {', '.join(c.present)}")


def _text_check(kw: Keywords, kid: int) -> ActCheck:
    def test(a: ActCtx) -> bool:
        return kid in a.hits

    def describe(a: ActCtx) -> str:
        return "text: " + ", ".join(kw.match(a.text, a.words, a.ordered))

    return test, describe


def _text_regex_check(rx: re.Pattern[str]) -> ActCheck:
    def describe(a: ActCtx) -> str:
        m = rx.search(a.text)
        return f"text: {m.group(0) if m else ''}"

    return (lambda a: rx.search(a.text) is not None), describe
