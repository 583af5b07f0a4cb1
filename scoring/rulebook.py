"""A rules file as loaded: its compiled rows, and the reading of a lead that both paths start from.

`RuleBook` holds what scoring.rules compiled (rules in file order, products, vocabulary, decay and
thresholds) and turns a lead's facts into the contexts the checks look at. Both evaluations begin
here: the reasons path (scoring.engine.RuleSet) and its batch-speed twin (scoring.fastpath).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from scoring.conditions import PROFILE_PARTS, ActCheck, ActCtx, LeadCheck, LeadCtx, Vocabulary
from scoring.conditions import classify_domain as _classify
from scoring.lexicon import KeywordIndex, Keywords, fold, words_of
from scoring.types import ActivityFacts, LeadFacts

_DOMAIN_CACHE_MAX = 50_000
_TEXT_CACHE_MAX = 200_000
# folded text, its words, the words sorted (for prefix bisects), ids of keyword lists found
Analysis = tuple[str, frozenset[str], list[str], set[int]]


@dataclass(frozen=True, slots=True)
class Rule:
    """One row of the rules file, compiled."""

    name: str
    points: float
    reason: str
    product: str | None
    side: str  # "fit" or "engagement": which half of the score it adds to
    lead_checks: tuple[LeadCheck, ...]
    act_checks: tuple[ActCheck, ...]  # text conditions, on each candidate activity
    engagement: bool
    kinds: frozenset[str] | None  # None: activities of any kind count
    within_days: float | None
    min_count: int
    per_activity: bool
    max_points: float | None
    decays: bool
    line: int

    @property
    def group(self) -> str:
        return "negative" if self.points < 0 else self.side


@dataclass(frozen=True, slots=True)
class Product:
    name: str
    label: str
    keywords: Keywords
    form_values: frozenset[str]
    kid: int  # its keywords' id in the text index


class RuleBook:
    """The compiled rules file and how it reads facts; scoring.engine.RuleSet adds the scoring."""

    def __init__(
        self,
        *,
        path: Path,
        rules: Sequence[Rule],
        products: Sequence[Product],
        vocab: Vocabulary,
        half_life_days: float,
        warm_threshold: float,
        hot_threshold: float,
        grades: dict[str, float],
        needs: set[str],
    ) -> None:
        self.path = path
        self.rules = tuple(rules)
        self.products = tuple(products)
        self.vocab = vocab
        self.half_life_days = half_life_days
        self.warm_threshold = warm_threshold
        self.hot_threshold = hot_threshold
        self.grades = sorted(grades.items(), key=lambda kv: -kv[1])
        self._needs_title = "title" in needs
        self._needs_domain = "domain" in needs
        self._needs_profile = "profile" in needs
        self._needs_text = "text" in needs or bool(products)
        self._field_names = tuple(sorted(n[7:] for n in needs if n.startswith("fields:")))
        self._number_names = tuple(sorted(n[7:] for n in needs if n.startswith("number:")))
        # Facts of single activities (`auth.dmarc`, `spam.score`) some rule reads.
        self._fact_names = tuple(sorted(n[6:] for n in needs if n.startswith("facts:")))
        self._domain_cache: dict[str, str] = {}
        self._text_cache: dict[tuple[str, int], Analysis] = {}
        # A lead without activities can only match fit rules: skip the rest outright.
        self._fit_rules = tuple(r for r in self.rules if not r.engagement)

    def grade_for(self, fit: float) -> str:
        for letter, minimum in self.grades:
            if fit >= minimum:
                return letter
        return "D"

    def _lead_ctx(self, lead: LeadFacts) -> LeadCtx:
        c = LeadCtx()
        c.email = lead.email
        c.country = (lead.country or "").strip().upper()
        if self._needs_title and lead.title:
            c.title, c.title_words, c.title_ordered, c.title_hits = self._analyse(
                lead.title, self.vocab.titles
            )
        if self._needs_domain:
            c.domain = domain = (lead.domain or lead.email.rpartition("@")[2]).strip().lower()
            cls = self._domain_cache.get(domain)
            if cls is None:
                if len(self._domain_cache) > _DOMAIN_CACHE_MAX:
                    self._domain_cache.clear()
                cls = self._domain_cache[domain] = _classify(domain, self.vocab)
            c.domain_class = cls
        if self._needs_profile:
            c.present = tuple(p for p in PROFILE_PARTS if (getattr(lead, p) or "").strip())
        fields = lead.fields
        if fields:
            for name in self._field_names:
                v = fields.get(name)
                if v and (s := v.strip()):
                    c.fields[name] = (v, s.casefold())
            for name in self._number_names:
                v = fields.get(name)
                if v:
                    with suppress(ValueError):  # a non-number matches no numeric range
                        c.numbers[name] = float(v)
        return c

    def _analyse(self, raw: str, index: KeywordIndex) -> Analysis:
        # Rescoring reads the same texts again and again; only the decay changes.
        key = (raw, id(index))
        got = self._text_cache.get(key)
        if got is None:
            if len(self._text_cache) > _TEXT_CACHE_MAX:
                self._text_cache.clear()
            folded = fold(raw)
            words = words_of(folded)
            ordered = sorted(words)
            got = self._text_cache[key] = (
                folded,
                words,
                ordered,
                index.hits(folded, words, ordered),
            )
        return got

    def _products_in_play(
        self, lead: LeadFacts, activities: list[ActivityFacts], acts: list[ActCtx]
    ) -> dict[str, str]:
        found: dict[str, str] = {}
        forms = [
            v.strip().casefold()
            for f in [lead.fields, *(a.fields for a in activities)]
            if (v := f.get("product"))
        ]
        for p in self.products:
            hit = next((v for v in forms if v in p.form_values), None)
            if hit is not None:
                found[p.name] = f"form field product = {hit}"
                continue
            for a in acts:
                if p.kid in a.hits:
                    kw = p.keywords.match(a.text, a.words, a.ordered)
                    found[p.name] = f"text: {', '.join(kw)} ({a.kind})"
                    break
        return found

    def _label(self, product: str) -> str:
        return next(p.label for p in self.products if p.name == product)
