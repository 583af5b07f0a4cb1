"""Explanations that add up: a score as text for the CLI and as JSON, and its temperature."""

from __future__ import annotations

from scoring.types import Reason, ScoreResult, Temperature


def temperature_for(score: float, *, warm: float, hot: float) -> Temperature:
    """`hot` at or above the hot threshold, `warm` at or above warm, else `cold`."""
    if score >= hot:
        return "hot"
    if score >= warm:
        return "warm"
    return "cold"


def _reason_json(r: Reason) -> dict[str, object]:
    return {
        "rule": r.rule,
        "group": r.group,
        "product": r.product,
        "reason": r.reason,
        "evidence": r.evidence,
        "base_points": r.base_points,
        "decay": r.decay,
        "points": r.points,
    }


def explain_json(result: ScoreResult) -> dict[str, object]:
    """The result as plain JSON types; `reasons[*].points` sum exactly to `score`."""
    return {
        "score": result.score,
        "temperature": result.temperature,
        "product": result.product,
        "grade": result.grade,
        "fit": result.fit,
        "engagement": result.engagement,
        "product_scores": {name: round(value, 2) for name, value in result.product_scores},
        "reasons": [_reason_json(r) for r in result.reasons],
    }


def explain_text(result: ScoreResult) -> str:
    """A readable breakdown: one line per rule, decay shown where it changed the points."""
    head = f"Score {result.score:.2f} ({result.temperature})"
    if result.product:
        head += f" for product {result.product}"
    head += f": fit {result.fit:.2f}"
    if result.grade:
        head += f" (grade {result.grade})"
    head += f", engagement {result.engagement:.2f}"
    lines = [head]
    if len(result.product_scores) > 1:
        best = sorted(result.product_scores, key=lambda kv: -kv[1])
        others = ", ".join(f"{name} {value:.2f}" for name, value in best)
        lines.append(f"  per product: {others} (the reasons below are for {result.product})")
    width = max((len(r.rule) for r in result.reasons), default=4)
    for r in result.reasons:
        line = f"  {r.points:+8.2f}  {r.rule:<{width}}  {r.reason}"
        if r.decay != 1.0:
            line += f" ({r.base_points:g} × decay {r.decay:.2f})"  # noqa: RUF001
        if r.evidence:
            line += f"  [{r.evidence}]"
        lines.append(line)
    if not result.reasons:
        lines.append("  (no rule matched)")
    lines.append(f"  {result.score:+8.2f}  {'total':<{width}}")
    return "\n".join(lines)
