"""The one small engine: compiled rule rows evaluated in file order, each hit keeping its why."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scoring.conditions import PROFILE_PARTS, ActCheck, ActCtx, LeadCheck, LeadCtx, Vocabulary
from scoring.conditions import classify_domain as _classify
from scoring.explain import temperature_for
from scoring.fastpath import FastPath
from scoring.lexicon import KeywordIndex, Keywords, fold, words_of
from scoring.plan import dump_plan
from scoring.types import ActivityFacts, LeadFacts, Reason, ScoreResult

_DAY = 86400.0
_DOMAIN_CACHE_MAX = 50_000
_TEXT_CACHE_MAX = 200_000
# folded text, its words, the words sorted (for prefix bisects), ids of keyword lists found
_Analysis = tuple[str, frozenset[str], list[str], set[int]]
_NOTHING: _Analysis = ("", frozenset(), [], set())


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


# (rule, base points, decay factor, points after decay, the lead, matched activities)
_Hit = tuple[Rule, float, float, float, LeadCtx, list[ActCtx]]
_NONE: list[ActCtx] = []


class RuleSet:
    """A loaded rules file: implements scoring.types.Scorer; build it with load_rules()."""

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
        self._domain_cache: dict[str, str] = {}
        self._text_cache: dict[tuple[str, int], _Analysis] = {}
        # A lead without activities can only match fit rules: skip the rest outright.
        self._fit_rules = tuple(r for r in self.rules if not r.engagement)
        self._fast = FastPath(self)

    def __repr__(self) -> str:
        return f"<RuleSet {self.path} rules={len(self.rules)} hot={self.hot_threshold:g}>"

    # -- public -----------------------------------------------------------------------------
    def score(
        self, lead: LeadFacts, activities: list[ActivityFacts], *, now: datetime
    ) -> ScoreResult:
        """Score one lead; reasons sum exactly to the score (see explain_text)."""
        return self._result(lead, activities, now, reasons=True)

    def score_batch(
        self,
        items: Iterable[tuple[LeadFacts, list[ActivityFacts]]],
        *,
        now: datetime,
        reasons: bool = True,
    ) -> list[ScoreResult]:
        """Score many leads at one `now`; reasons=False skips building Reason rows.

        Without reasons, each lead's time-independent part is planned once and cached by its
        content, so rescoring stored leads later only recomputes the decay (scoring.fastpath).
        """
        if not reasons:
            return self._fast.score_many(items, now)
        return [self._result(lead, acts, now, reasons=True) for lead, acts in items]

    def plan_batch(self, items: Iterable[tuple[LeadFacts, list[ActivityFacts]]]) -> list[list[Any]]:
        """Each lead's time-free plan as a JSON value, to store and score later with
        score_plans (storage.rescore_decay); the same numbers as score() at any later `now`."""
        return [dump_plan(p) for p in self._fast.plans(items)]

    def score_plans(self, plans: list[str], *, now: datetime) -> list[ScoreResult]:
        """score_batch(reasons=False) for leads given by their stored plans: the JSON text of
        plan_batch's values. Raises ValueError for a naive `now`."""
        return self._fast.score_stored(plans, now)

    def grade_for(self, fit: float) -> str:
        for letter, minimum in self.grades:
            if fit >= minimum:
                return letter
        return "D"

    # -- evaluation ----------------------------------------------------------------------
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

    def _act_ctxs(self, activities: list[ActivityFacts], now: datetime) -> list[ActCtx]:
        out: list[ActCtx] = []
        hl = self.half_life_days
        for a in activities:
            try:
                age = (now - a.occurred_at).total_seconds() / _DAY
            except TypeError:  # one side naive: stored datetimes are UTC by convention
                age = (
                    now.replace(tzinfo=UTC) - a.occurred_at.replace(tzinfo=UTC)
                ).total_seconds() / _DAY
            if age < 0:
                age = 0.0  # clock skew: a future activity counts as now, never as more than new
            if self._needs_text and a.text:
                text, words, ordered, hits = self._analyse(a.text, self.vocab.texts)
            else:
                text, words, ordered, hits = _NOTHING
            out.append(
                ActCtx(
                    a.kind.strip().casefold(),
                    age,
                    0.5 ** (age / hl),
                    a.occurred_at,
                    text,
                    words,
                    ordered,
                    hits,
                )
            )
        out.sort(key=_age)
        return out

    def _analyse(self, raw: str, index: KeywordIndex) -> _Analysis:
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

    def _hits(self, lc: LeadCtx, acts: list[ActCtx], in_play: dict[str, str]) -> list[_Hit]:
        hits: list[_Hit] = []
        by_kind: dict[str, list[ActCtx]] = {}
        for a in acts:
            by_kind.setdefault(a.kind, []).append(a)
        for rule in self.rules if acts else self._fit_rules:
            if rule.product is not None and rule.product not in in_play:
                continue
            for test, _ in rule.lead_checks:
                if not test(lc):
                    break
            else:
                if not rule.engagement:
                    hits.append((rule, rule.points, 1.0, round(rule.points, 2), lc, _NONE))
                    continue
                kinds = rule.kinds
                if kinds is None:
                    pool = acts
                elif len(kinds) == 1:
                    pool = by_kind.get(next(iter(kinds)), [])
                else:
                    pool = [a for a in acts if a.kind in kinds]
                matched: list[ActCtx] = []
                within = rule.within_days
                for a in pool:
                    if within is not None and a.age_days > within:
                        break  # the pool is most recent first
                    for atest, _ in rule.act_checks:
                        if not atest(a):
                            break
                    else:
                        matched.append(a)
                        if not rule.per_activity and len(matched) >= rule.min_count:
                            break
                n = len(matched)
                if n < rule.min_count:
                    continue
                base = rule.points
                if rule.per_activity:
                    base = rule.points * n
                    raw = sum(rule.points * a.decay for a in matched) if rule.decays else base
                    if rule.max_points is not None and abs(base) > rule.max_points:
                        raw = raw * rule.max_points / abs(base)
                        base = rule.max_points if base > 0 else -rule.max_points
                    decay = raw / base if base else 1.0
                else:
                    # A count condition became true with the min_count-th most recent activity.
                    decay = matched[-1].decay if rule.decays else 1.0
                hits.append((rule, base, decay, round(base * decay, 2), lc, matched))
        return hits

    def _result(
        self, lead: LeadFacts, activities: list[ActivityFacts], now: datetime, *, reasons: bool
    ) -> ScoreResult:
        acts = self._act_ctxs(activities, now) if activities else []
        in_play = self._products_in_play(lead, activities, acts) if self.products else {}
        hits = self._hits(self._lead_ctx(lead), acts, in_play)
        product: str | None = None
        if in_play:
            # The product with the highest score wins; file order breaks ties.
            best = None
            for p in self.products:
                if p.name in in_play:
                    total = sum(h[3] for h in hits if h[0].product in (None, p.name))
                    if best is None or total > best:
                        best, product = total, p.name
            hits = [h for h in hits if h[0].product in (None, product)]
        score = fit = engagement = 0.0
        for h in hits:
            score += h[3]
            if h[0].side == "fit":
                fit += h[3]
            else:
                engagement += h[3]
        out: tuple[Reason, ...] = ()
        if reasons:
            out = tuple(_reason(h) for h in hits)
            if product is not None:
                out += (
                    Reason(
                        rule=f"product:{product}",
                        points=0.0,
                        group="product",
                        reason=f"Interest in {self._label(product)}",
                        evidence=in_play[product],
                        product=product,
                    ),
                )
        return ScoreResult(
            score=score,
            fit=round(fit, 2),
            engagement=round(engagement, 2),
            temperature=temperature_for(score, warm=self.warm_threshold, hot=self.hot_threshold),
            reasons=out,
            product=product,
            grade=self.grade_for(fit),
        )

    def _label(self, product: str) -> str:
        return next(p.label for p in self.products if p.name == product)


def _age(a: ActCtx) -> float:
    return a.age_days


def _reason(h: _Hit) -> Reason:
    rule, base, decay, points, lc, matched = h
    pieces = [describe(lc) for _, describe in rule.lead_checks]
    if matched:
        kinds: dict[str, int] = {}
        for a in matched:
            kinds[a.kind] = kinds.get(a.kind, 0) + 1
        latest = matched[0].occurred_at.date().isoformat()
        counts = ", ".join(f"{n}× {k}" for k, n in kinds.items())  # noqa: RUF001
        pieces.append(f"{counts}, latest {latest}")
        pieces.extend(
            dict.fromkeys(describe(a) for a in matched[:3] for _, describe in rule.act_checks)
        )
    return Reason(
        rule=rule.name,
        points=points,
        reason=rule.reason,
        evidence="; ".join(pieces),
        group=rule.group,
        base_points=round(base, 2),
        decay=round(decay, 4),
        product=rule.product,
    )
