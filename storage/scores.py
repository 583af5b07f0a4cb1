"""Scores on stored leads: kept as plain numbers and JSON reasons, with the history a person sees."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from storage.leads import LIFECYCLE_KINDS
from storage.models import Activity, Lead, LeadRow

# How much of an activity's text scoring gets to read: enough for intent words, bounded for speed.
TEXT_FOR_SCORING = 4000


@dataclass(frozen=True)
class StoredScore:
    """A score as storage keeps it on a lead: plain numbers and JSON reasons, no scoring types."""

    score: float
    fit: float
    engagement: float
    temperature: str
    grade: str | None
    reasons: list[dict[str, Any]]
    product: str | None = None
    # Every product in play: {name: score}, in the rules file's order (scoring's product_scores).
    product_scores: dict[str, float] = field(default_factory=dict)


def engagement_activities(session: Session, lead_id: int) -> list[Activity]:
    stmt = (
        select(Activity)
        .where(col(Activity.lead_id) == lead_id)
        .where(col(Activity.kind).not_in(LIFECYCLE_KINDS))
        .order_by(col(Activity.occurred_at))
    )
    return list(session.scalars(stmt))


def store_score(
    session: Session | None,
    *,
    lead: Lead | LeadRow,
    result: StoredScore,
    now: datetime,
    history: list[dict[str, Any]] | None = None,
) -> None:
    """Copy `result` onto `lead`, and record a `score_changed` activity when a person would see it
    (added to the session, or appended to `history` for the caller to insert with others)."""
    old_score, old_temp = lead.score, lead.temperature
    lead.score = result.score
    lead.fit_score = result.fit
    lead.engagement_score = result.engagement
    lead.temperature = result.temperature
    lead.grade = result.grade
    lead.reasons = result.reasons
    if result.product:
        lead.product = result.product
    lead.product_scores = result.product_scores
    assert lead.id is not None
    if visible_change(old_score, old_temp, result.score, result.temperature):
        row = score_changed(lead.id, old_score, result.score, result.temperature, now)
        if history is None:
            assert session is not None, "a session or a history list to add the row to"
            session.add(Activity(**row))
        else:
            history.append(row)


def visible_change(
    old_score: float, old_temperature: str, new_score: float, new_temperature: str
) -> bool:
    """A change a person would see: whole points or the temperature (small decay drift is not
    news). Decides history on every path, and what a decay-only rescore writes at all."""
    return round(old_score) != round(new_score) or old_temperature != new_temperature


def score_changed(
    lead_id: int, old: float, new: float, temperature: str, now: datetime
) -> dict[str, Any]:
    """The `score_changed` activity row: from → to, as `leadbot leads show` prints it."""
    return {
        "lead_id": lead_id,
        "kind": "score_changed",
        "occurred_at": now,
        "actor": "leadbot",
        "detail": f"score {old:g} → {new:g} ({temperature})",
        "source": "",
        "raw_id": None,
        "data": {"from": old, "to": new, "temperature": temperature},
        "dedup_key": None,
    }
