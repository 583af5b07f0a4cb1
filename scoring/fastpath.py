"""score_batch(reasons=False): a time-free plan per lead, cached by content, then only decay.

Everything that does not depend on `now` (which rules match, their points, the products in play,
the timestamps of the activities each rule counts) is worked out once per lead content and kept;
rescoring the same leads later only redoes the decay arithmetic. Every float operation is the one
the reasons path (RuleSet._result) performs, in the same order, so both give identical numbers;
tests/scoring/test_fastpath.py checks that on random leads.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from scoring.conditions import ActCtx
from scoring.lexicon import fold
from scoring.types import ActivityFacts, LeadFacts, ScoreResult

if TYPE_CHECKING:
    from scoring.engine import RuleSet

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_NAIVE = datetime(1970, 1, 1)
_US = timedelta(microseconds=1)
_ZERO = timedelta(0)
# About 0.5 KB a lead: a million leads rescore from memory; past that the cache starts over.
PLAN_CACHE_MAX = 1_000_000

# A plan is (timestamps, dynamic ops, template of hit points, variants) or, when nothing in it
# depends on time, (None, score, fit, engagement, product, grade).
# timestamps: distinct µs of the counted activities, most recent first (ops index into it).
# op: (slot, kind, points, where, within, decays, min_count, cap) -- see _evaluate.
# variant: (slots of its hits, slots of its engagement hits, fit, grade, product).
_Plan = tuple[Any, ...]
_SINGLE, _SINGLE_FLAT, _PER_ACTIVITY = 0, 1, 2

_lead_key = attrgetter("email", "domain", "name", "company", "title", "phone", "country")
_act_key = attrgetter("kind", "occurred_at", "text")
_act_key_no_text = attrgetter("kind", "occurred_at")


def _micros(when: datetime) -> int:
    """µs since the epoch; naive datetimes are UTC, as (now - occurred_at) treats them with an
    aware UTC `now` (the only `now` the fast path takes, see FastPath.score_many)."""
    if when.tzinfo is None or when.utcoffset() is None:
        return (when.replace(tzinfo=None) - _EPOCH_NAIVE) // _US
    return (when - _EPOCH) // _US


def _result_factory() -> Any:
    # ScoreResult is a frozen dataclass: its __init__ pays an object.__setattr__ per field, the
    # largest single cost of a rescore. Filling the instance dict gives an equal object.
    probe = object.__new__(ScoreResult)
    if not hasattr(probe, "__dict__"):
        return lambda s, f, e, t, p, g: ScoreResult(s, f, e, t, (), p, g)
    new = object.__new__

    def make(s: float, f: float, e: float, t: str, p: str | None, g: str | None) -> ScoreResult:
        r = new(ScoreResult)
        r.__dict__.update(score=s, fit=f, engagement=e, temperature=t, reasons=(), product=p,
                          grade=g)
        return r  # type: ignore[no-any-return]

    return make


make_result = _result_factory()


def per_activity(points: float, decays: list[float] | None, n: int,
                 cap: float | None) -> float:
    """Points of a per_activity rule over n activities (decays None: no fading), as _hits."""
    base = points * n
    raw = sum([points * d for d in decays]) if decays is not None else base
    if cap is not None and abs(base) > cap:
        raw = raw * cap / abs(base)
        base = cap if base > 0 else -cap
    decay = raw / base if base else 1.0
    return round(base * decay, 2)


class FastPath:
    """Plans cached by lead content; the RuleSet stays the reference for every rule's meaning."""

    __slots__ = ("_cache", "_field_names", "_has_products", "_needs_text", "rs")

    def __init__(self, rs: RuleSet) -> None:
        self.rs = rs
        self._cache: dict[int, tuple[str, _Plan]] = {}
        self._has_products = bool(rs.products)
        self._needs_text = rs._needs_text
        names = {*rs._field_names, *rs._number_names}
        if self._has_products:
            names.add("product")
        self._field_names = tuple(sorted(names))

    def clear(self) -> None:
        self._cache.clear()

    # -- the time step ------------------------------------------------------------------------
    def score_many(self, items: Iterable[tuple[LeadFacts, list[ActivityFacts]]],
                   now: datetime) -> list[ScoreResult]:
        rs = self.rs
        if now.tzinfo is None or now.utcoffset() != _ZERO:
            # Naive or local `now`: (now - occurred_at) then depends on each value's zone; rare
            # enough to leave to the reference path.
            return [rs._result(lead, acts, now, reasons=False) for lead, acts in items]
        now_us = (now - _EPOCH) // _US
        hl = rs.half_life_days
        warm, hot = rs.warm_threshold, rs.hot_threshold
        cache = self._cache
        names = self._field_names
        with_product = self._has_products
        act_key = _act_key if self._needs_text else _act_key_no_text
        make = make_result
        out: list[ScoreResult] = []
        append = out.append
        for lead, acts in items:
            f = lead.fields
            # The plan's key: everything a rule can read, timestamps included (they fix the
            # order in which a rule counts activities). A 64-bit hash (SipHash on the strings)
            # plus the email guards the entry; the texts themselves are not kept in memory.
            if with_product:
                akey = tuple([(act_key(a), a.fields.get("product") if a.fields else None)
                              for a in acts])
            else:
                akey = tuple(map(act_key, acts))
            h = hash((_lead_key(lead), tuple(map(f.get, names)) if f else None, akey))
            entry = cache.get(h)
            if entry is not None and entry[0] == lead.email:
                plan = entry[1]
            else:
                plan = self._plan(lead, acts)
                if len(cache) >= PLAN_CACHE_MAX:
                    cache.clear()
                cache[h] = (lead.email, plan)
            ts = plan[0]
            if ts is None:
                _, s, fit, e, product, grade = plan
            else:
                s, fit, e, product, grade = _evaluate(plan, now_us, hl)
            append(make(s, fit, e, "hot" if s >= hot else "warm" if s >= warm else "cold",
                        product, grade))
        return out

    # -- the plan -----------------------------------------------------------------------------
    def _plan(self, lead: LeadFacts, activities: list[ActivityFacts]) -> _Plan:
        rs = self.rs
        acts: list[tuple[int, ActCtx]] = []
        for a in activities:
            if rs._needs_text and a.text:
                text, words, ordered, hits = rs._analyse(a.text, rs.vocab.texts)
                ctx = ActCtx(a.kind.strip().casefold(), 0.0, 1.0, a.occurred_at, text, words,
                             ordered, hits)
            else:
                ctx = ActCtx(a.kind.strip().casefold(), 0.0, 1.0, a.occurred_at, "",
                             frozenset(), [], set())
            acts.append((_micros(a.occurred_at), ctx))
        acts.sort(key=_first, reverse=True)  # most recent first; stable, as the age sort
        ctxs = [c for _, c in acts]
        in_play = rs._products_in_play(lead, activities, ctxs) if rs.products else {}
        lc = rs._lead_ctx(lead)
        stamps = sorted({t for t, _ in acts}, reverse=True)
        where = {t: i for i, t in enumerate(stamps)}
        by_kind: dict[str, list[tuple[int, ActCtx]]] = {}
        for t, c in acts:
            by_kind.setdefault(c.kind, []).append((where[t], c))
        everything = [(where[t], c) for t, c in acts]
        # hits: (points or None when timed, product, engagement side?)
        template: list[float] = []
        owners: list[str | None] = []
        sides: list[bool] = []
        ops: list[tuple[Any, ...]] = []
        for rule in rs.rules if acts else rs._fit_rules:
            if rule.product is not None and rule.product not in in_play:
                continue
            if not all(test(lc) for test, _ in rule.lead_checks):
                continue
            slot = len(template)
            if not rule.engagement:
                template.append(round(rule.points, 2))
                owners.append(rule.product)
                sides.append(False)
                continue
            kinds = rule.kinds
            if kinds is None:
                pool = everything
            elif len(kinds) == 1:
                pool = by_kind.get(next(iter(kinds)), [])
            else:
                pool = [p for p in everything if p[1].kind in kinds]
            matched = [i for i, c in pool if all(t(c) for t, _ in rule.act_checks)]
            if len(matched) < rule.min_count:
                continue  # time only ever removes activities from a rule
            value = 0.0
            if rule.per_activity:
                if rule.within_days is None and not rule.decays:
                    value = per_activity(rule.points, None, len(matched), rule.max_points)
                else:
                    ops.append((slot, _PER_ACTIVITY, rule.points, tuple(matched),
                                rule.within_days, rule.decays, rule.min_count, rule.max_points))
            else:
                j = matched[rule.min_count - 1]  # the count holds from this activity on
                if rule.decays:
                    ops.append((slot, _SINGLE, rule.points, j, rule.within_days))
                elif rule.within_days is None:
                    value = round(rule.points, 2)
                else:
                    ops.append((slot, _SINGLE_FLAT, round(rule.points, 2), j, rule.within_days))
            template.append(value)
            owners.append(rule.product)
            sides.append(True)
        variants = []
        for product in [p.name for p in rs.products if p.name in in_play] or [None]:
            slots = tuple(i for i, o in enumerate(owners) if o in (None, product))
            fit = 0.0
            for i in slots:
                if not sides[i]:
                    fit += template[i]
            variants.append((slots, tuple(i for i in slots if sides[i]), round(fit, 2),
                             rs.grade_for(fit), product))
        plan = (tuple(stamps), tuple(ops), template, tuple(variants))
        if not ops:
            s, fit_r, e, product, grade = _evaluate(plan, 0, 1.0)
            return (None, s, fit_r, e, product, grade)
        return plan


def _first(pair: tuple[int, ActCtx]) -> int:
    return pair[0]


def _evaluate(plan: _Plan, now_us: int, hl: float
              ) -> tuple[float, float, float, str | None, str | None]:
    stamps, ops, template, variants = plan
    ages = []
    decays = []
    for t in stamps:
        age = (now_us - t) / 1_000_000 / 86400.0  # = timedelta.total_seconds() / _DAY
        if age < 0:
            age = 0.0
        ages.append(age)
        decays.append(0.5 ** (age / hl))
    vals = template.copy() if ops else template
    for op in ops:
        kind = op[1]
        if kind == _SINGLE:
            j = op[3]
            if op[4] is None or ages[j] <= op[4]:
                vals[op[0]] = round(op[2] * decays[j], 2)
        elif kind == _SINGLE_FLAT:
            if ages[op[3]] <= op[4]:
                vals[op[0]] = op[2]
        else:
            _, _, points, idx, within, fades, min_count, cap = op
            if within is not None:
                idx = [i for i in idx if ages[i] <= within]  # most recent first: a prefix
                if len(idx) < min_count:
                    continue
            vals[op[0]] = per_activity(points, [decays[i] for i in idx] if fades else None,
                                       len(idx), cap)
    if len(variants) == 1:
        slots, eng_slots, fit, grade, product = variants[0]
    else:
        # The product with the highest score wins; file order breaks ties (as _result).
        best = None
        for v in variants:
            total = sum([vals[i] for i in v[0]])
            if best is None or total > best:
                best = total
                slots, eng_slots, fit, grade, product = v
    s = 0.0
    for i in slots:
        s += vals[i]
    e = 0.0
    for i in eng_slots:
        e += vals[i]
    return s, fit, round(e, 2), product, grade
