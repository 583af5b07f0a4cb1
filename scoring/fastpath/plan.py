"""A lead's plan: the time-free part of its score (which rules hit, their points, what they count).

Only decay depends on `now`; everything else is decided here once per lead content and reused by
scoring.fastpath.batch, or stored as JSON (dump_plan) and loaded back (Planner.load). The meaning
of every rule stays in RuleSet._hits (scoring.engine, the reasons path): this module mirrors its
arithmetic operation by operation so that both paths give identical floats.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from typing import Any

from scoring.conditions import ActCtx
from scoring.rulebook import Rule, RuleBook
from scoring.types import ActivityFacts, LeadFacts

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_NAIVE = datetime(1970, 1, 1)
_US = timedelta(microseconds=1)

# Plans (tuples, to stay small and out of the garbage collector's way):
#   (STATIC, score, fit, engagement, product, grade, product_scores)   nothing depends on time
#   (VECTOR, stamps, consts, points, where, complex, variants)
# stamps: distinct µs of the counted activities, most recent first; ops refer to them by index.
# VECTOR: the hit points in rule order are get(consts + decayed + complex values), where
#   decayed[k] = round(points[k] * decay(stamps[where[k]]), 2) is computed for a whole batch at
#   once and complex ops (within_days, per_activity) one by one. A variant per product in play
#   (or one for none): (get, eget, fit, grade, product, idx, eidx), eget picking the engagement
#   hits, idx and eidx the indexes the two getters pick (kept for dump_plan).
# op: (slot, SINGLE, points, stamp, within) | (slot, SINGLE_FLAT, points, stamp, within)
#     | (slot, PER_ACTIVITY, points, stamps, within, decays, min_count, cap)
Plan = tuple[Any, ...]
STATIC, VECTOR = 0, 1
SINGLE, SINGLE_FLAT, PER_ACTIVITY = 0, 1, 2
_Getter = Callable[[tuple[float, ...]], tuple[float, ...]]


def micros(when: datetime) -> int:
    """µs since the epoch, naive values read as UTC, as (now - occurred_at) does with an aware UTC
    `now` (the only `now` the fast path takes)."""
    if when.tzinfo is None or when.utcoffset() is None:
        return (when.replace(tzinfo=None) - _EPOCH_NAIVE) // _US
    return (when - _EPOCH) // _US


def per_activity(points: float, decays: list[float] | None, n: int, cap: float | None) -> float:
    """A per_activity rule's points over n activities (decays None: no fading), as in _hits."""
    base = points * n
    raw = sum([points * d for d in decays]) if decays is not None else base
    if cap is not None and abs(base) > cap:
        raw = raw * cap / abs(base)
        base = cap if base > 0 else -cap
    decay = raw / base if base else 1.0
    return round(base * decay, 2)


def complex_points(op: tuple[Any, ...], ages: list[float], decays: list[float], off: int) -> float:
    """One timed rule other than a plain decayed one; 0.0 when time took its activities away."""
    kind = op[1]
    if kind == SINGLE:
        j = off + op[3]
        return round(op[2] * decays[j], 2) if op[4] is None or ages[j] <= op[4] else 0.0
    if kind == SINGLE_FLAT:
        return op[2] if ages[off + op[3]] <= op[4] else 0.0
    _, _, points, idx, within, fades, min_count, cap = op
    n = len(idx)
    if within is not None:
        n = 0
        for i in idx:  # most recent first: those still within the window are a prefix
            if ages[off + i] > within:
                break
            n += 1
        if n < min_count:
            return 0.0
    # per_activity() inlined: this runs for most leads on every rescore.
    base = points * n
    if not fades:
        raw = base
    elif n == 1:
        raw = points * decays[off + idx[0]]  # = sum([that]): fading points are positive
    else:
        raw = sum([points * decays[off + i] for i in idx[:n]])
    if cap is not None and abs(base) > cap:
        raw = raw * cap / abs(base)
        base = cap if base > 0 else -cap
    decay = raw / base if base else 1.0
    return round(base * decay, 2)


def _first(pair: tuple[int, ActCtx]) -> int:
    return pair[0]


def all_pass(checks: list[Callable[[ActCtx], bool]], act: ActCtx) -> bool:
    for test in checks:  # noqa: SIM110 -- all() over a generator is slower here
        if not test(act):
            return False
    return True


class Planner:
    """Builds plans for one rules file; shares getters and constants between plans (memory)."""

    def __init__(self, rs: RuleBook) -> None:
        self.rs = rs
        self._shared: dict[Any, Any] = {}

    def forget(self) -> None:
        """Drop the shared parts (with the plan cache, so neither grows without bound)."""
        self._shared.clear()

    def _share(self, tag: str, value: Any) -> Any:
        # The tag keeps (1,) and (1.0,) apart; 0.0 and -0.0 may merge: added to a sum that
        # starts at 0.0 they give the same result.
        return self._shared.setdefault((tag, value), value)

    def _getter(self, idx: tuple[int, ...]) -> _Getter:
        got = self._shared.get(("get", idx))
        if got is None:
            if len(idx) == 1:
                i = idx[0]
                got = lambda values: (values[i],)  # noqa: E731 -- itemgetter(i) gives no tuple
            else:
                got = itemgetter(*idx) if idx else (lambda values: ())
            self._shared[("get", idx)] = got
        return got

    def plan(self, lead: LeadFacts, activities: list[ActivityFacts]) -> Plan:
        rs = self.rs
        acts: list[tuple[int, ActCtx]] = []
        for a in activities:
            kind = a.kind.strip().casefold()
            if rs._needs_text and a.text:
                text, words, ordered, hits = rs._analyse(a.text, rs.vocab.texts)
                ctx = ActCtx(kind, 0.0, 1.0, a.occurred_at, text, words, ordered, hits, a.fields)
            else:
                ctx = ActCtx(kind, 0.0, 1.0, a.occurred_at, "", frozenset(), [], set(), a.fields)
            acts.append((micros(a.occurred_at), ctx))
        acts.sort(key=_first, reverse=True)  # most recent first; stable, like the age sort
        in_play = (
            rs._products_in_play(lead, activities, [c for _, c in acts]) if rs.products else {}
        )
        lc = rs._lead_ctx(lead)
        stamps = sorted({t for t, _ in acts}, reverse=True)
        where = {t: i for i, t in enumerate(stamps)}
        everything = [(where[t], c) for t, c in acts]
        by_kind: dict[str, list[tuple[int, ActCtx]]] = {}
        for pair in everything:
            by_kind.setdefault(pair[1].kind, []).append(pair)
        template: list[float] = []  # points of each hit; 0.0 where time decides
        owners: list[str | None] = []
        sides: list[bool] = []  # engagement?
        ops: list[tuple[Any, ...]] = []
        for rule in rs.rules if acts else rs._fit_rules:
            if rule.product is not None and rule.product not in in_play:
                continue
            for test, _ in rule.lead_checks:  # a for/else: all() with a generator costs twice
                if not test(lc):
                    break
            else:
                if rule.engagement:
                    self._hit(rule, everything, by_kind, template, owners, sides, ops)
                else:
                    template.append(round(rule.points, 2))
                    owners.append(rule.product)
                    sides.append(False)
        variants: list[tuple[Any, ...]] = []
        names: list[str | None] = [p.name for p in rs.products if p.name in in_play]
        for product in names or [None]:
            slots = tuple(i for i, o in enumerate(owners) if o in (None, product))
            fit = 0.0
            for i in slots:
                if not sides[i]:
                    fit += template[i]
            variants.append(
                (
                    slots,
                    tuple(i for i in slots if sides[i]),
                    round(fit, 2),
                    rs.grade_for(fit),
                    product,
                )
            )
        if not ops:
            return (STATIC, *evaluate_static(template, variants))
        return self._vector(tuple(stamps), ops, template, variants)

    def _hit(
        self,
        rule: Rule,
        everything: list[tuple[int, ActCtx]],
        by_kind: dict[str, list[tuple[int, ActCtx]]],
        template: list[float],
        owners: list[str | None],
        sides: list[bool],
        ops: list[tuple[Any, ...]],
    ) -> None:
        """An engagement rule whose lead checks passed: what _hits decides, minus the time."""
        slot = len(template)
        owners.append(rule.product)
        sides.append(True)
        kinds = rule.kinds
        if kinds is None:
            pool = everything
        elif len(kinds) == 1:
            pool = by_kind.get(next(iter(kinds)), [])
        else:
            pool = [p for p in everything if p[1].kind in kinds]
        checks = [t for t, _ in rule.act_checks]
        matched = [i for i, c in pool if all_pass(checks, c)] if checks else [i for i, _ in pool]
        if len(matched) < rule.min_count:  # time only ever takes activities away
            owners.pop()
            sides.pop()
            return
        value = 0.0
        if rule.per_activity:
            if rule.within_days is None and not rule.decays:
                value = per_activity(rule.points, None, len(matched), rule.max_points)
            else:
                ops.append(
                    (
                        slot,
                        PER_ACTIVITY,
                        rule.points,
                        tuple(matched),
                        rule.within_days,
                        rule.decays,
                        rule.min_count,
                        rule.max_points,
                    )
                )
        else:
            j = matched[rule.min_count - 1]  # the count holds from this activity on
            if rule.decays:
                ops.append((slot, SINGLE, rule.points, j, rule.within_days))
            elif rule.within_days is not None:
                ops.append((slot, SINGLE_FLAT, round(rule.points, 2), j, rule.within_days))
            else:
                value = round(rule.points, 2)
        template.append(value)

    def _variant(
        self,
        idx: tuple[int, ...],
        eidx: tuple[int, ...],
        fit: float,
        grade: str | None,
        product: str | None,
    ) -> tuple[Any, ...]:
        # The index tuples ride along so that dump_plan can store the variant.
        return self._share(
            "v", (self._getter(idx), self._getter(eidx), fit, grade, product, idx, eidx)
        )

    def load(self, data: list[Any]) -> Plan:
        """A plan from dump_plan's JSON value (as stored in lead.score_plan)."""
        if data[0] == STATIC:
            return (*data[:6], tuple([(p, v) for p, v in data[6]]))
        _, stamps, consts, points, where, others, variants = data
        getter = self._getter
        return (
            VECTOR,
            stamps,
            tuple(consts),
            tuple(points),
            where,
            tuple([tuple(op) for op in others]),
            tuple(
                [
                    (
                        getter(tuple(v[3])),
                        getter(tuple(v[4])),
                        v[0],
                        v[1],
                        v[2],
                        tuple(v[3]),
                        tuple(v[4]),
                    )
                    for v in variants
                ]
            ),
        )

    def _vector(
        self,
        stamps: tuple[int, ...],
        ops: list[tuple[Any, ...]],
        template: list[float],
        variants: list[tuple[Any, ...]],
    ) -> Plan:
        timed = {op[0] for op in ops}
        plain = [op for op in ops if op[1] == SINGLE and op[4] is None]
        others = [op for op in ops if not (op[1] == SINGLE and op[4] is None)]
        consts = [v for i, v in enumerate(template) if i not in timed]
        pos = [i for i in range(len(template)) if i not in timed]
        pos += [op[0] for op in plain + others]
        at = {slot: n for n, slot in enumerate(pos)}  # slot -> index in the values tuple
        shared = tuple(
            self._variant(
                tuple(at[i] for i in slots), tuple(at[i] for i in eng_slots), fit, grade, product
            )
            for slots, eng_slots, fit, grade, product in variants
        )
        return (
            VECTOR,
            stamps,
            self._share("c", tuple(consts)),
            self._share("p", tuple([op[2] for op in plain])),
            self._share("w", tuple([op[3] for op in plain])),
            self._share("x", tuple(others)),
            shared,
        )


def dump_plan(plan: Plan) -> list[Any]:
    """A plan as a JSON value: floats keep their exact value (repr), ints stay ints."""
    if plan[0] == STATIC:
        return [*plan[:6], [list(pair) for pair in plan[6]]]
    _, stamps, consts, points, where, others, variants = plan
    return [
        VECTOR,
        list(stamps),
        list(consts),
        list(points),
        list(where),
        [list(op) for op in others],
        [[v[2], v[3], v[4], list(v[5]), list(v[6])] for v in variants],
    ]


def evaluate_static(
    template: list[float], variants: list[tuple[Any, ...]]
) -> tuple[float, float, float, str | None, str | None, tuple[tuple[str, float], ...]]:
    """A plan without timed rules, added up exactly as in RuleSet._result (scoring.engine)."""
    slots, eng_slots, fit, grade, product = variants[0]
    if len(variants) > 1:
        best = None
        for v in variants:  # the highest score wins; file order breaks ties
            total = sum(template[i] for i in v[0])
            if best is None or total > best:
                best = total
                slots, eng_slots, fit, grade, product = v
    scores = tuple([(v[4], _added(template, v[0])) for v in variants if v[4] is not None])
    s = _added(template, slots)
    e = 0.0
    for i in eng_slots:
        e += template[i]
    return s, fit, round(e, 2), product, grade, scores


def _added(template: list[float], slots: tuple[int, ...]) -> float:
    s = 0.0
    for i in slots:
        s += template[i]
    return s
