"""What the pages show, read from storage and scoring into plain dicts for the templates.

The explanation is recomputed from the activities with the rules in effect (as `leadbot score
explain` does), never read from stored reasons, so its points add up to the score it shows.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bot import review
from bot.runtime import Runtime
from ingest.facts import activity_facts, lead_facts
from scoring import explain_json
from storage import dashboard, stats
from storage import raw as raw_store
from storage.leads import LIFECYCLE_KINDS, get_lead, notes_of

TEXT = 2000  # characters of an activity's text or a note shown on the page
TIMELINE = 200  # most recent entries of a lead's timeline
DAY_S = 86400.0
QUEUE = 25  # inputs of the review queue listed
FUNNEL_DAYS = 30


def _age_days(then: datetime, now: datetime) -> float:
    return max((now - then).total_seconds() / DAY_S, 0.0)


def lead_view(rt: Runtime, lead_id: int, *, now: datetime) -> dict[str, Any]:
    """One lead: profile, touches, timeline (activities and notes), per-product scores and an
    explanation of its score with the decay of each rule's points. LeadNotFound if none."""
    half_life = getattr(rt.scorer, "half_life_days", None)
    with rt.store.session() as session:
        lead = get_lead(session, lead_id=lead_id)
        activities = dashboard.lead_activities(session, lead_id)
        notes = notes_of(session, lead_id)
    # What storage.scores.engagement_activities reads, from the rows already read (one query).
    engagement = [a for a in activities if a.kind not in LIFECYCLE_KINDS]
    result = rt.scorer.score(lead_facts(lead), activity_facts(engagement), now=now)
    explained = explain_json(result)
    timeline: list[dict[str, Any]] = []
    for a in activities:
        if a.kind == "note_added":  # the note itself is on the timeline, with all its text
            continue
        data = a.data or {}
        text = str(data.get("text") or a.detail or data.get("subject") or "")
        entry = {
            "at": a.occurred_at,
            "kind": a.kind.replace("_", " "),
            "actor": a.actor,
            "source": a.source,
            "subject": str(data.get("subject") or "")[:300],
            "text": text[:TEXT],
            "cut": len(text) > TEXT,
            "note": False,
            "weight": None,
        }
        if a.kind not in LIFECYCLE_KINDS and half_life:
            # The documented decay (docs/scoring.md): worth half after half_life_days.
            entry["weight"] = 0.5 ** (_age_days(a.occurred_at, now) / float(half_life))
        timeline.append(entry)
    for n in notes:
        timeline.append(
            {
                "at": n.created_at,
                "kind": "note",
                "actor": n.author,
                "source": "",
                "subject": "",
                "text": n.text[:TEXT],
                "cut": len(n.text) > TEXT,
                "note": True,
                "weight": None,
            }
        )
    timeline.sort(key=lambda e: e["at"], reverse=True)
    reasons = []
    for r in explained["reasons"]:  # type: ignore[attr-defined]
        base, points = float(r["base_points"]), float(r["points"])
        reasons.append({**r, "lost": round(base - points, 2) if r["decay"] != 1.0 else 0.0})
    return {
        "lead": lead,
        "touches": [
            ("First touch", _touch(lead.first_touch)),
            ("Latest touch", _touch(lead.latest_touch)),
        ],
        "fields": sorted((str(k), str(v)[:300]) for k, v in (lead.fields or {}).items()),
        "timeline": timeline[:TIMELINE],
        "timeline_more": max(len(timeline) - TIMELINE, 0),
        "explain": {**explained, "reasons": reasons},
        "products": product_scores(lead, explained),
        "half_life": half_life,
    }


def _touch(touch: dict[str, Any] | None) -> dict[str, str]:
    out = {str(k): str(v)[:300] for k, v in (touch or {}).items() if v not in (None, "")}
    if "at" in out:
        out["at"] = out["at"][:16].replace("T", " ")  # to the minute, as the timeline
    return out


def product_scores(lead: Any, explained: dict[str, Any]) -> list[tuple[str, float]]:
    """Every product's score, best first: what the lead stores per product when it does
    (`product_scores`), else the product that won the score."""
    stored = getattr(lead, "product_scores", None)
    if isinstance(stored, dict) and stored:
        pairs = [(str(k), float(v)) for k, v in stored.items() if isinstance(v, int | float)]
        return sorted(pairs, key=lambda p: -p[1])
    product = explained.get("product")
    return [(str(product), float(explained["score"]))] if product else []


def dashboard_view(rt: Runtime, *, now: datetime, days: int = FUNNEL_DAYS) -> dict[str, Any]:
    """The funnel of the last `days` days (created, announced, claimed, won), the leads per
    status now, speed to lead, the hot leads waiting and the review queue."""
    since = now - timedelta(days=days)
    with rt.store.session() as session:
        funnel = stats.funnel(session, now=now, since=since)
        created = dashboard.created_count(session, since=since, now=now)
        speed = dashboard.speed_to_lead(session, since=since, now=now)
        waiting = stats.hot_unclaimed(session, limit=10)
        attention = raw_store.attention(session, limit=QUEUE)
        queue = [review.describe(raw, head) for raw, head in attention.oldest]
    stages = [
        ("Created", created),
        ("Announced", int(funnel["announced"])),
        ("Claimed", int(funnel["claimed"])),
        ("Won", int(funnel["won"])),
    ]
    return {
        "days": days,
        "funnel": funnel,
        "stages": bars(stages),
        "speed": bars([(s["label"], s["claims"]) for s in speed]),
        "by_status": list(funnel["by_status"].items()),
        "waiting": waiting,
        "attention": attention,
        "queue": queue,
    }


BAR_WIDTH = 400  # px of the longest bar in the SVG charts


def bars(rows: list[tuple[str, int]]) -> list[dict[str, Any]]:
    """Rows of a bar chart: label, value, bar width (attributes of an SVG rect, no styles)."""
    top = max((v for _, v in rows), default=0)
    return [
        {"label": label, "value": v, "width": round(BAR_WIDTH * v / top) if top else 0}
        for label, v in rows
    ]
