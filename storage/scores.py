"""Applying scores to stored leads: facts out of rows, results back in, announcement when hot."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlmodel import Session, col

from scoring.types import ActivityFacts, LeadFacts, Scorer, ScoreResult
from storage import lifecycle
from storage.leads import LIFECYCLE_KINDS, touch_fields
from storage.models import Activity, Lead, LeadRow, utcnow

# How much of an activity's text scoring gets to read: enough for intent words, bounded for speed.
TEXT_FOR_SCORING = 4000


def lead_facts(lead: Lead | LeadRow) -> LeadFacts:
    return LeadFacts(
        email=lead.email,
        domain=lead.domain,
        name=lead.name,
        company=lead.company,
        title=lead.title,
        phone=lead.phone,
        country=lead.country,
        fields={
            **{k: str(v) for k, v in lead.fields.items() if v is not None},
            **touch_fields(lead),  # source_channel, source_utm_campaign, latest_form, …
        },
    )


class ActivityRow(Protocol):
    """What scoring reads of an activity: an `Activity`, or any row with these attributes."""

    @property
    def kind(self) -> str: ...
    @property
    def occurred_at(self) -> datetime: ...
    @property
    def data(self) -> dict[str, Any]: ...
    @property
    def detail(self) -> str: ...
    @property
    def source(self) -> str: ...


def activity_facts(activities: Sequence[ActivityRow]) -> list[ActivityFacts]:
    facts = []
    for a in activities:
        if a.kind in LIFECYCLE_KINDS:
            continue
        text = " ".join(filter(None, [a.data.get("subject"), a.data.get("text") or a.detail]))
        facts.append(
            ActivityFacts(
                kind=a.kind,
                occurred_at=a.occurred_at,
                text=text[:TEXT_FOR_SCORING],
                source=a.source,
                fields={k: str(v) for k, v in (a.data.get("fields") or {}).items()},
            )
        )
    return facts


def engagement_activities(session: Session, lead_id: int) -> list[Activity]:
    stmt = (
        select(Activity)
        .where(col(Activity.lead_id) == lead_id)
        .where(col(Activity.kind).not_in(LIFECYCLE_KINDS))
        .order_by(col(Activity.occurred_at))
    )
    return list(session.scalars(stmt))


def reasons_json(result: ScoreResult) -> list[dict[str, Any]]:
    """Reasons as JSON rows; `vars` rather than `asdict`, whose deep copies cost a third of a rescore."""
    return [dict(vars(r)) if hasattr(r, "__dict__") else asdict(r) for r in result.reasons]


def store_result(
    session: Session | None,
    *,
    lead: Lead | LeadRow,
    result: ScoreResult,
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
    lead.reasons = reasons_json(result)
    if result.product:
        lead.product = result.product
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


def apply_score(
    session: Session,
    *,
    lead: Lead,
    result: ScoreResult,
    hot_threshold: float,
    now: datetime | None = None,
) -> bool:
    """Store `result` on `lead`; announce when it is eligible. True when it was announced."""
    now = now or utcnow()
    store_result(session, lead=lead, result=result, now=now)
    session.flush()
    if lifecycle.eligible_for_announcement(lead, hot_threshold=hot_threshold):
        assert lead.id is not None
        lifecycle.announce(session, lead_id=lead.id, now=now)
        return True
    return False


def score_lead(
    session: Session, *, lead: Lead, scorer: Scorer, now: datetime | None = None
) -> bool:
    """Score one lead from its stored activities; True when this announced it."""
    now = now or utcnow()
    assert lead.id is not None
    facts = activity_facts(engagement_activities(session, lead.id))
    result = scorer.score(lead_facts(lead), facts, now=now)
    return apply_score(
        session, lead=lead, result=result, hot_threshold=scorer.hot_threshold, now=now
    )
