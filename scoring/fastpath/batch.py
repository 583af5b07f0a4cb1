"""FastPath: plans cached by lead content (scoring.fastpath.plan), then decay for a whole batch.

Rescoring stored leads mostly means "only time has changed": the plan of each lead is found by a
hash of its content, and the decay of every counted activity of the batch is computed in one pass
of C-level map() calls. Every float operation is the one RuleSet._result performs, in the same
order, so the numbers are identical to the reasons path (tests/scoring/test_fastpath.py).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from itertools import repeat
from operator import attrgetter, mul
from typing import Any

from scoring.fastpath.plan import STATIC, Plan, Planner, complex_points
from scoring.rulebook import RuleBook
from scoring.types import ActivityFacts, LeadFacts, ScoreResult

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_ZERO = timedelta(0)
# About 0.6 KB a lead: a million leads rescore from memory; past that the cache starts over.
PLAN_CACHE_MAX = 1_000_000

_lead_key = attrgetter("email", "domain", "name", "company", "title", "phone", "country")
_act_key = attrgetter("kind", "occurred_at", "text")
_act_key_no_text = attrgetter("kind", "occurred_at")
_fields = attrgetter("fields")


def _loop_sum(values: Iterable[float], start: float) -> float:
    for v in values:
        start += v
    return start


# The reasons path adds a lead's points one by one; sum() does the same up to 3.11 and uses
# compensated summation from 3.12 on, where the loop keeps the results identical.
seq_sum: Callable[[Iterable[float], float], float] = (
    sum if sys.version_info < (3, 12) else _loop_sum
)
# ScoreResult is a frozen dataclass whose __init__ pays an object.__setattr__ per field: filling
# the instance dict directly gives an equal object at a third of the cost.
_DICT_RESULT = hasattr(object.__new__(ScoreResult), "__dict__")
_NO_SCORES: tuple[tuple[str, float], ...] = ()


class FastPath:
    """Plans cached by lead content for one rules file (a RuleSet hands it its batches)."""

    __slots__ = (
        "_cache",
        "_fact_names",
        "_field_names",
        "_has_products",
        "_needs_text",
        "_stored",
        "planner",
        "rs",
    )

    def __init__(self, rs: RuleBook) -> None:
        self.rs = rs
        self.planner = Planner(rs)
        self._cache: dict[int, tuple[str, Plan]] = {}
        self._stored: dict[str, Plan] = {}  # score_stored: JSON text -> plan
        self._has_products = bool(rs.products)
        self._needs_text = rs._needs_text
        names = {*rs._field_names, *rs._number_names}
        if self._has_products:
            names.add("product")
        self._field_names = tuple(sorted(names))
        self._fact_names = rs._fact_names

    def score_many(
        self, items: Iterable[tuple[LeadFacts, list[ActivityFacts]]], now: datetime
    ) -> list[ScoreResult]:
        """The leads scored at an aware UTC `now` (RuleSet.score_batch scores any other `now`
        on the reasons path)."""
        if now.tzinfo is None or now.utcoffset() != _ZERO:
            raise ValueError("the fast path scores at an aware UTC datetime")
        return self.evaluate(self.plans(items), now)

    def score_stored(self, texts: list[str], now: datetime) -> list[ScoreResult]:
        """Plans stored as JSON text (dump_plan) scored at `now`; their stamps are UTC
        instants, so any aware `now` works. Parsed plans are kept by their text: a periodic
        rescore in a long-running process parses each lead's plan once."""
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError("stored plans are scored at an aware datetime")
        stored = self._stored
        missing = [t for t in texts if t not in stored]
        if missing:
            if len(stored) + len(missing) > PLAN_CACHE_MAX:
                stored.clear()
            load = self.planner.load
            # One parse for the batch: a json.loads call a lead costs more than its text.
            for text, data in zip(missing, json.loads(f"[{','.join(missing)}]"), strict=True):
                stored[text] = load(data)
        return self.evaluate(list(map(stored.__getitem__, texts)), now.astimezone(UTC))

    def plans(self, items: Iterable[tuple[LeadFacts, list[ActivityFacts]]]) -> list[Plan]:
        """Each lead's time-free plan, from the cache when its content was seen before."""
        cache = self._cache
        names = self._field_names
        with_product = self._has_products
        act_key = _act_key if self._needs_text else _act_key_no_text
        plan_of = self.planner.plan
        facts = self._fact_names
        plans: list[Plan] = []
        for lead, acts in items:
            # The key is everything a rule can read, timestamps included (they order what a
            # rule counts). Its 64-bit hash (SipHash on the strings) plus the email identify the
            # entry, so the cache never keeps the texts themselves alive.
            f = lead.fields
            akey: tuple[Any, ...] = tuple(map(act_key, acts))
            if with_product and any(map(_fields, acts)):
                akey += tuple([a.fields.get("product") for a in acts])
            if facts and any(map(_fields, acts)):
                akey += tuple([tuple(map(a.fields.get, facts)) for a in acts])
            h = hash((_lead_key(lead), tuple(map(f.get, names)) if f else None, akey))
            entry = cache.get(h)
            if entry is not None and entry[0] == lead.email:
                plan = entry[1]
            else:
                plan = plan_of(lead, acts)
                if len(cache) >= PLAN_CACHE_MAX:
                    cache.clear()
                    self.planner.forget()
                cache[h] = (lead.email, plan)
            plans.append(plan)
        return plans

    def evaluate(self, plans: list[Plan], now: datetime) -> list[ScoreResult]:
        """Decay applied to `plans` at an aware UTC `now` (the caller checks the zone)."""
        rs = self.rs
        stamps: list[int] = []
        points: list[float] = []
        where: list[int] = []
        for plan in plans:
            if plan[0] != STATIC:
                if plan[3]:
                    points.extend(plan[3])
                    where.extend(map(len(stamps).__add__, plan[4]))
                stamps.extend(plan[1])
        now_us = (now - _EPOCH) // _US
        hl = float(rs.half_life_days)
        # age = (now - occurred_at).total_seconds() / 86400, never below 0; decay = 0.5 ** (age
        # / half_life): the same operations as RuleSet._act_ctxs, mapped over the whole batch.
        ages = list(
            map(
                max,
                map(
                    (86400.0).__rtruediv__,
                    map((1_000_000).__rtruediv__, map(now_us.__sub__, stamps)),
                ),
                repeat(0.0),
            )
        )
        decays = list(map((0.5).__pow__, map(hl.__rtruediv__, ages)))
        decayed = list(map(round, map(mul, points, map(decays.__getitem__, where)), repeat(2)))
        warm, hot = rs.warm_threshold, rs.hot_threshold
        new = object.__new__
        out: list[ScoreResult] = []
        append = out.append
        off = 0  # into stamps, ages, decays
        k = 0  # into decayed
        for plan in plans:
            if plan[0] == STATIC:
                _, s, fit, e, product, grade, scores = plan
            else:
                _, st, consts, pts, _, cx, variants = plan
                n = len(pts)
                values: tuple[float, ...] = consts + tuple(decayed[k : k + n])
                k += n
                if cx:
                    values += tuple([complex_points(op, ages, decays, off) for op in cx])
                off += len(st)
                if len(variants) == 1:
                    get, eget, fit, grade, product, _, _ = variants[0]
                    s = seq_sum(get(values), 0.0)
                    scores = _NO_SCORES if product is None else ((product, s),)
                else:
                    best = None
                    for v in variants:  # the highest score wins; file order breaks ties
                        total = sum(v[0](values))
                        if best is None or total > best:
                            best = total
                            get, eget, fit, grade, product, _, _ = v
                    # Every product's score, added as the score is (the winner's equals it).
                    scores = tuple([(v[4], seq_sum(v[0](values), 0.0)) for v in variants])
                    s = seq_sum(get(values), 0.0)
                e = round(seq_sum(eget(values), 0.0), 2)
            temperature = "hot" if s >= hot else "warm" if s >= warm else "cold"
            if _DICT_RESULT:
                r: Any = new(ScoreResult)
                d = r.__dict__
                d["score"] = s
                d["fit"] = fit
                d["engagement"] = e
                d["temperature"] = temperature
                d["reasons"] = ()
                d["product"] = product
                d["grade"] = grade
                d["product_scores"] = scores
            else:
                r = ScoreResult(s, fit, e, temperature, (), product, grade, scores)  # type: ignore[arg-type]
            append(r)
        return out
