"""Learned scoring: outcomes in, readable integer point rules (a scorecard) out, as rules TOML."""

from __future__ import annotations

import csv
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any

from scoring.types import LeadFacts

# numpy and scikit-learn (the optional `learn` extra) are imported in the functions that train,
# so that scoring loads without them; no cycle is involved.

NULLS = frozenset({"", "select", "null", "none", "n/a", "na", "nan"})
LEAD_ATTRIBUTES = ("email", "domain", "name", "company", "title", "phone", "country")
POSITIVE = frozenset({"1", "yes", "true", "won", "converted", "y"})
Row = dict[str, str]
# A feature: the rule conditions it stands for, as (field, kind, value) triples.
Cond = tuple[str, str, Any]


def read_csv_rows(
    path: str | Path, mapping: dict[str, str] | None = None, *, drop: Iterable[str] = ()
) -> list[Row]:
    """Read a CSV into rows keyed `email`/`title`/… , `fields.<name>` or `outcome`.

    `mapping` maps a CSV column to one of those keys ("-" drops it); unmapped columns become
    `fields.<column>`. Empty cells and "Select" (a form's untouched dropdown) count as null
    and are left out of the row.
    """
    mapping = mapping or {}
    dropped = set(drop)
    rows: list[Row] = []
    with open(path, newline="", encoding="utf-8-sig") as fh:
        for record in csv.DictReader(fh):
            row: Row = {}
            for column, value in record.items():
                if not column or column in dropped or value is None:
                    continue  # a trailing comma makes a nameless column
                key = mapping.get(column, f"fields.{column}")
                value = value.strip()
                if key != "-" and value.casefold() not in NULLS:
                    row[key] = value
            rows.append(row)
    return rows


def row_to_lead(row: Row, *, index: int = 0) -> LeadFacts:
    """The LeadFacts a CSV row describes (a placeholder email when the row has none)."""
    email = row.get("email", f"row{index}@example.invalid")
    fields = {k[7:]: v for k, v in row.items() if k.startswith("fields.")}
    return LeadFacts(
        email=email,
        domain=row.get("domain", email.rpartition("@")[2]),
        name=row.get("name"),
        company=row.get("company"),
        title=row.get("title"),
        phone=row.get("phone"),
        country=row.get("country"),
        fields=fields,
    )


def _number(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def _is_numeric(values: list[str]) -> bool:
    parsed = [_number(v) for v in values]
    return bool(values) and all(p is not None for p in parsed) and len(set(values)) > 12


def _bins(xs: list[float], ys: list[int], max_bins: int, min_leaf: int) -> list[float]:
    """Cut points chosen by a small decision tree: bins that separate outcomes, not quantiles."""
    import numpy as np
    from sklearn.tree import DecisionTreeClassifier

    tree = DecisionTreeClassifier(
        max_leaf_nodes=max_bins, min_samples_leaf=min_leaf, random_state=0
    )
    tree.fit(np.asarray(xs).reshape(-1, 1), ys)
    cuts = sorted(
        {float(t) for t, f in zip(tree.tree_.threshold, tree.tree_.feature, strict=True) if f >= 0}
    )
    return [float(f"{c:.3g}") for c in cuts]


def _levels(
    rows: Sequence[Row], ys: list[int], field: str, *, max_bins: int, min_count: int
) -> list[tuple[Cond, ...]]:
    """The one-condition features of one field: its frequent values, or numeric bins."""
    key = f"fields.{field}"
    present = [r[key] for r in rows if key in r]
    feats: list[tuple[Cond, ...]] = []
    if len(present) < len(rows) and len(rows) - len(present) >= min_count:
        feats.append(((field, "missing", True),))
    if _is_numeric(present):
        pairs = [(float(r[key]), y) for r, y in zip(rows, ys, strict=True) if key in r]
        cuts = _bins([p[0] for p in pairs], [p[1] for p in pairs], max_bins, min_count)
        edges = [-math.inf, *cuts, math.inf]
        feats.extend(((field, "range", (lo, hi)),) for lo, hi in pairwise(edges))
        return feats
    counts = Counter(v.casefold() for v in present)
    feats.extend(((field, "in", v),) for v, n in counts.most_common() if n >= min_count)
    return feats


def _holds(row: Row, cond: Cond) -> bool:
    field, kind, value = cond
    got = row.get(f"fields.{field}")
    if kind == "missing":
        return got is None
    if got is None:
        return False
    if kind == "in":
        return got.casefold() == value
    x = _number(got)
    return x is not None and value[0] <= x < value[1]


def _label(rows: Sequence[Row], field: str, folded: str) -> str:
    spelled = Counter(
        r[f"fields.{field}"] for r in rows if r.get(f"fields.{field}", "").casefold() == folded
    )
    return spelled.most_common(1)[0][0] if spelled else folded


def _describe(rows: Sequence[Row], cond: Cond) -> tuple[str, str]:
    """(TOML condition, words for the reason) of one condition."""
    field, kind, value = cond
    name = json.dumps(field, ensure_ascii=False)
    if kind == "missing":
        return f"{{name = {name}, missing = true}}", f"{field} not given"
    if kind == "in":
        label = _label(rows, field, value)
        return (
            f"{{name = {name}, in = [{json.dumps(label, ensure_ascii=False)}]}}",
            f"{field} = {label}",
        )
    lo, hi = value
    bounds = ([f"gte = {lo:g}"] if lo > -math.inf else []) + (
        [f"lt = {hi:g}"] if hi < math.inf else []
    )
    words = (
        f"{field} {lo:g} to under {hi:g}"
        if bounds == [f"gte = {lo:g}", f"lt = {hi:g}"]
        else f"{field} under {hi:g}"
        if lo == -math.inf
        else f"{field} {lo:g} or more"
    )
    return f"{{name = {name}, {', '.join(bounds)}}}", words


def _slug(text: str) -> str:
    return re.sub(r"[^\w]+", "-", text.casefold(), flags=re.UNICODE).strip("-")[:60] or "rule"


def find_interactions(
    rows: Sequence[Row], ys: Sequence[int], names: Sequence[str], *, top: int = 10, seed: int = 0
) -> list[tuple[str, str]]:
    """The `top` pairs of fields whose combination says more than each alone, from the data.

    A small boosted model of depth-2 trees is fitted on the fields (numbers as numbers, other
    values one-hot); every tree whose second split is on another field than its first is a pair
    seen working together, weighted by how much that second split improved the fit. Only the
    pairs are kept: their points are learned with the rest of the scorecard.
    """
    import numpy as np
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.feature_extraction import DictVectorizer

    wanted = set(names)

    def features(row: Row) -> dict[str, float | str]:
        out: dict[str, float | str] = {}
        for key, value in row.items():
            if key.startswith("fields.") and key[7:] in wanted:
                number = _number(value)
                out[key[7:]] = value if number is None or not math.isfinite(number) else number
        return out

    vec = DictVectorizer(sparse=False, separator="\x00")
    x = vec.fit_transform([features(r) for r in rows])
    field_of = [str(n).split("\x00", 1)[0] for n in vec.get_feature_names_out()]
    model = GradientBoostingClassifier(
        max_depth=2, n_estimators=300, learning_rate=0.1, random_state=seed
    )
    model.fit(x, np.asarray(ys))
    gains: dict[tuple[str, str], float] = {}
    for tree in (est.tree_ for est in model.estimators_[:, 0]):
        first = field_of[tree.feature[0]]
        for child in (tree.children_left[0], tree.children_right[0]):
            if tree.feature[child] < 0 or field_of[tree.feature[child]] == first:
                continue
            left, right = tree.children_left[child], tree.children_right[child]
            n = tree.weighted_n_node_samples
            gain = (
                tree.impurity[child] * n[child]
                - tree.impurity[left] * n[left]
                - tree.impurity[right] * n[right]
            )
            a, b = sorted((first, field_of[tree.feature[child]]))
            gains[a, b] = gains.get((a, b), 0.0) + float(gain)
    return sorted(gains, key=lambda pair: -gains[pair])[:top]


def train_point_rules(
    rows: Sequence[Row],
    target: str = "outcome",
    *,
    fields: Sequence[str] | None = None,
    positive: Iterable[str] = POSITIVE,
    interactions: Sequence[tuple[str, str]] = (),
    auto_interactions: int = 0,
    max_bins: int = 8,
    min_count: int = 20,
    points_per_doubling: float = 10.0,
    regularisation: float = 1.0,
) -> str:
    """Learn a scorecard from outcomes and write it as rules TOML that load_rules() accepts.

    One rule per frequent field value or numeric bin (and per pair of levels for each of
    `interactions`, plus the `auto_interactions` pairs find_interactions picks from the rows),
    logistic regression weights scaled so that `points_per_doubling` points double the odds of
    the outcome, rounded to whole points. Needs the `learn` extra.
    """
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    wanted = {v.casefold() for v in positive}
    ys = [int(r.get(target, "").casefold() in wanted) for r in rows]
    if len(set(ys)) < 2:
        raise ValueError(f"'{target}' needs both outcomes in the rows to learn from")
    names = (
        list(fields)
        if fields is not None
        else sorted({k[7:] for r in rows for k in r if k.startswith("fields.")} - {target[7:]})
    )
    levels = {f: _levels(rows, ys, f, max_bins=max_bins, min_count=min_count) for f in names}
    feats = [feat for f in names for feat in levels[f]]
    if auto_interactions > 0:
        found = find_interactions(rows, ys, names, top=auto_interactions)
        interactions = list(dict.fromkeys([*interactions, *found]))
    for a, b in interactions:
        for la in levels[a]:
            for lb in levels[b]:
                feat = la + lb
                if sum(all(_holds(r, c) for c in feat) for r in rows) >= min_count:
                    feats.append(feat)
    x = np.array([[all(_holds(r, c) for c in feat) for feat in feats] for r in rows], dtype=float)
    model = LogisticRegression(C=regularisation, max_iter=5000)
    model.fit(x, ys)
    coefs = model.coef_[0]
    factor = points_per_doubling / math.log(2)
    top = float(np.max(np.abs(coefs))) if len(coefs) else 0.0
    if top * factor > 100:  # rules allow at most 100 points
        factor = 100 / top
    intercept = float(model.intercept_[0]) * factor
    offset = min(max(50.0, -100 - intercept), 100 - intercept)  # so the base rule fits too
    hot, warm = offset, offset - factor * math.log(3)  # odds 1:1 and 1:3
    out = [
        "# Learned point rules: a scorecard from outcomes, in the LeadBot rules format.",
        f"# {len(rows)} rows, {sum(ys)} with '{target}'. {points_per_doubling:g} points double",
        "# the odds (as far as the 100-point limit allows). Edit freely: it is just rules.",
        "",
        "[settings]",
        'description = "Learned point rules"',
        "",
        "[thresholds]",
        f"warm = {round(warm)}       # odds of the outcome 1:3",
        f"hot = {round(hot)}        # odds 1:1",
        "",
        "[[rule]]",
        'name = "base"',
        f"points = {round(intercept + offset)}",
        'reason = "Starting points of every lead (learned)"',
        "",
    ]
    seen: set[str] = set()
    for feat, coef in zip(feats, coefs, strict=True):
        points = round(float(coef) * factor)
        if points == 0:
            continue
        described = [_describe(rows, c) for c in feat]
        name = base = _slug(" ".join(w for _, w in described))
        n = 2
        while name in seen:
            name, n = f"{base}-{n}", n + 1
        seen.add(name)
        conds = (
            described[0][0] if len(feat) == 1 else ("[" + ", ".join(c for c, _ in described) + "]")
        )
        odds = f"learned: {math.exp(coef):.1f}× odds"  # noqa: RUF001
        reason = f"{' and '.join(w for _, w in described)} ({odds})"
        out += [
            "[[rule]]",
            f"name = {json.dumps(name)}",
            f"points = {points}",
            f"when.field = {conds}",
            f"reason = {json.dumps(reason, ensure_ascii=False)}",
            "",
        ]
    return "\n".join(out)
