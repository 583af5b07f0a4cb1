"""The one small engine: compiled rule rows evaluated in file order, each hit keeping its why.

This is the reasons path, where the meaning of every rule is written. `score_batch(reasons=False)`,
`plan_batch` and `score_plans` hand their work to the batch-speed twin, scoring.fastpath, whose
results tests/scoring/test_fastpath.py property-tests equal to this path's.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

from scoring.conditions import ActCtx, LeadCtx
from scoring.explain import temperature_for
from scoring.fastpath import FastPath, dump_plan
from scoring.rulebook import Analysis, Rule, RuleBook
from scoring.types import ActivityFacts, LeadFacts, Reason, ScoreResult

_DAY = 86400.0
_ZERO = timedelta(0)
_NOTHING: Analysis = ("", frozenset(), [], set())
# (rule, base points, decay factor, points after decay, the lead, matched activities)
_Hit = tuple[Rule, float, float, float, LeadCtx, list[ActCtx]]
_NONE: list[ActCtx] = []


class RuleSet(RuleBook):
    """A loaded rules file: implements scoring.types.Scorer; build it with load_rules()."""

    @cached_property
    def _fast(self) -> FastPath:
        """The batch-speed twin, with its plan caches (made on first use)."""
        return FastPath(self)

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
        if reasons:
            return [self._result(lead, acts, now, reasons=True) for lead, acts in items]
        if now.tzinfo is not None and now.utcoffset() == _ZERO:
            return self._fast.score_many(items, now)
        # Naive or local `now`: (now - occurred_at) then depends on each value's own zone;
        # rare enough to leave to this path.
        return [self._result(lead, acts, now, reasons=False) for lead, acts in items]

    def plan_batch(self, items: Iterable[tuple[LeadFacts, list[ActivityFacts]]]) -> list[list[Any]]:
        """Each lead's time-free plan as a JSON value, to store and score later with
        score_plans (storage.rescore_decay); the same numbers as score() at any later `now`."""
        return [dump_plan(p) for p in self._fast.plans(items)]

    def score_plans(self, plans: list[str], *, now: datetime) -> list[ScoreResult]:
        """score_batch(reasons=False) for leads given by their stored plans: the JSON text of
        plan_batch's values. Raises ValueError for a naive `now`."""
        return self._fast.score_stored(plans, now)

    # -- evaluation ----------------------------------------------------------------------
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
                    a.fields,
                )
            )
        out.sort(key=_age)
        return out

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
        per_product: tuple[tuple[str, float], ...] = ()
        if in_play:
            # The product with the highest score wins; file order breaks ties.
            best = None
            scored: list[tuple[str, float]] = []
            for p in self.products:
                if p.name in in_play:
                    total = sum(h[3] for h in hits if h[0].product in (None, p.name))
                    if best is None or total > best:
                        best, product = total, p.name
                    # Added one by one in rule order, as the score below: the winner's equals it.
                    points = 0.0
                    for h in hits:
                        if h[0].product in (None, p.name):
                            points += h[3]
                    scored.append((p.name, points))
            per_product = tuple(scored)
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
            product_scores=per_product,
        )


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
