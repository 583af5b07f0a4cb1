"""Why a lead is hot, in a rep's words: whole points that add up to the shown score, and the
scoring engine's evidence (activity counts and kinds, the latest date, the words matched:
"text: pricing") as plain words ("“pricing” in the email of Dec 2").

The evidence is the text `scoring.engine._reason` and the `describe` functions of
`scoring.conditions` write; tests/bot/slack/test_why.py runs the real engine with the default
rules, so a change of that format shows up there rather than on a card.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

TOP = 3

# What an activity kind is called in a sentence; "in" where a person wrote something.
_NOUNS = {
    "email_inquiry": ("email", "emails", True),
    "email_reply": ("reply", "replies", True),
    "form_submission": ("form", "forms", True),
    "chat": ("chat", "chats", True),
    "call": ("call", "calls", True),
    "meeting": ("meeting", "meetings", True),
    "page_visit": ("page visit", "page visits", False),
    "download": ("download", "downloads", False),
}
TIMES = "\u00d7"  # the engine writes counts as "2\u00d7 email_inquiry"
_COUNTS = re.compile(
    rf"^(?P<counts>\d+{TIMES} [^,;]+(?:, \d+{TIMES} [^,;]+)*), latest (?P<day>\d{{4}}-\d{{2}}-\d{{2}})$"
)
_COUNT = re.compile(rf"(\d+){TIMES} (.+)")
_DOMAIN_CLASS = re.compile(r"^(\S+) is (business|webmail|disposable|competitor)$")
_FIELD = re.compile(r"^(\w+) = (.+)$")
_PRESENCE = re.compile(r"^(\w+) (present|missing)$")


@dataclass(frozen=True)
class Line:
    points: int
    reason: str  # the rule's sentence, as the rules file says it (outside text: escape it)
    evidence: str  # in plain words (escape it too)


def points_of(reason: dict[str, Any]) -> float:
    try:
        value = float(reason.get("points", 0))
    except (TypeError, ValueError):
        return 0.0
    return value if math.isfinite(value) else 0.0


def whole_points(values: Sequence[float], total: int) -> list[int]:
    """Whole numbers, each within one of its value, that add up to `total` (largest remainder:
    the values whose fractions are largest are rounded up, the rest down)."""
    floors = [math.floor(v) for v in values]
    if not values:
        return []
    short = total - sum(floors)
    order = sorted(range(len(values)), key=lambda i: (-(values[i] - floors[i]), i))
    step = 1 if short >= 0 else -1
    if step < 0:
        order.reverse()
    for n in range(abs(short)):
        floors[order[n % len(order)]] += step
    return floors


def _fitted(reasons: Sequence[dict[str, Any]], score: float) -> list[float]:
    """The reasons' points, scaled to the score where they no longer add up to it: a decay-only
    rescore leaves the stored reasons as they were (docs/scoring.md), and what faded is the
    engagement points, so those shrink."""
    points = [points_of(r) for r in reasons]
    gap = score - sum(points)
    if abs(gap) < 0.5:
        return points
    fading = [i for i, r in enumerate(reasons) if r.get("group") == "engagement" and points[i] > 0]
    fading = fading or [i for i, p in enumerate(points) if p > 0]
    base = sum(points[i] for i in fading)
    if base <= 0:
        return points
    factor = max((base + gap) / base, 0.0)
    return [p * factor if i in fading else p for i, p in enumerate(points)]


def why(
    reasons: Sequence[Any], score: float, *, title: str | None = None, today: date | None = None
) -> tuple[int, list[Line], int, int]:
    """(shown score, the top lines, points of the rest, how many the rest are): the lines' points
    and the rest add up to the shown score."""
    total = round(score)
    scored = [r for r in reasons if isinstance(r, dict) and points_of(r) != 0]
    whole = whole_points(_fitted(scored, score), total)
    ranked = sorted(range(len(scored)), key=lambda i: (-whole[i], i))
    top = [i for i in ranked if whole[i] > 0][:TOP]
    lines = [
        Line(
            whole[i],
            str(scored[i].get("reason") or scored[i].get("rule") or ""),
            in_words(str(scored[i].get("evidence") or ""), title=title, today=today),
        )
        for i in top
    ]
    rest = [i for i in range(len(scored)) if i not in top and whole[i] != 0]
    return total, lines, total - sum(line.points for line in lines), len(rest)


def in_words(evidence: str, *, title: str | None = None, today: date | None = None) -> str:
    """The engine's evidence as a rep would say it; anything not recognised is kept as it is."""
    words: list[str] = []
    facts: list[str] = []
    when = ""
    for piece in (p.strip() for p in evidence.split(";")):
        if not piece:
            continue
        if piece.startswith("text: "):
            found = [w.strip() for w in piece[6:].split(",") if w.strip()]
            words.extend(w for w in found if w not in words)
        elif (m := _COUNTS.match(piece)) is not None:
            when = _activities(m.group("counts"), m.group("day"), today=today)
        else:
            facts.append(_fact(piece, title=title))
    said = ", ".join(f"“{w}”" for w in words[:4])
    if said and when:
        facts.append(f"{said} {when}")
    elif said or when:
        facts.append(said or when.removeprefix("in "))
    return "; ".join(f for f in facts if f)


def _fact(piece: str, *, title: str | None) -> str:
    if piece.startswith("title: "):
        return f"title “{title}”" if title else f"title “{piece[7:]}”"
    if (m := _DOMAIN_CLASS.match(piece)) is not None:
        return m.group(1)
    for prefix in ("domain ", "email ", "country "):
        if piece.startswith(prefix):
            return piece[len(prefix) :]
    if piece.startswith("profile has "):
        return "gave " + piece[len("profile has ") :]
    if (m := _FIELD.match(piece)) is not None:
        return f"{m.group(1).replace('_', ' ')} {m.group(2)}"
    if (m := _PRESENCE.match(piece)) is not None:
        name = m.group(1).replace("_", " ")
        return f"{name} given" if m.group(2) == "present" else f"no {name}"
    return piece


def _activities(counts: str, day: str, *, today: date | None) -> str:
    kinds = [(int(n), k.strip()) for n, k in (_COUNT.match(c).groups() for c in _split(counts))]  # type: ignore[union-attr]
    total = sum(n for n, _ in kinds)
    on = _day(day, today)
    if len(kinds) == 1:
        noun = kinds[0][1].replace("_", " ")
        one, many, wrote = _NOUNS.get(kinds[0][1], (noun, noun + "s", False))
        if total == 1:
            return f"{'in ' if wrote else ''}the {one} of {on}"
        return f"{'in ' if wrote else ''}{total} {many}, the latest on {on}"
    return f"in {total} messages, the latest on {on}"


def _split(counts: str) -> list[str]:
    return [c.strip() for c in counts.split(", ") if _COUNT.match(c.strip())]


def _day(day: str, today: date | None) -> str:
    try:
        d = datetime.strptime(day, "%Y-%m-%d").date()
    except ValueError:
        return day
    text = f"{d:%b} {d.day}"
    return text if today is not None and d.year == today.year else f"{text}, {d.year}"
