"""Where stored rows meet scoring: facts out of leads and activities, a score back as storage keeps it.

Storage is the bottom floor and knows nothing of scoring; scoring is pure and knows nothing of
rows. This adapter is the one place that knows both: the intake pipeline, the rescoring job and the
CLI's `score explain` all build their facts here, so they can never read a lead differently.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any, Protocol

from scoring.types import ActivityFacts, LeadFacts, ScoreResult
from storage.leads import LIFECYCLE_KINDS, touch_fields
from storage.models import Lead, LeadRow
from storage.scores import StoredScore

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


def reasons_json(result: ScoreResult) -> list[dict[str, Any]]:
    """Reasons as JSON rows; `vars` rather than `asdict`, whose deep copies cost a third of a rescore."""
    return [dict(vars(r)) if hasattr(r, "__dict__") else asdict(r) for r in result.reasons]


def stored_score(result: ScoreResult) -> StoredScore:
    """A scoring result in storage's own terms."""
    return StoredScore(
        score=result.score,
        fit=result.fit,
        engagement=result.engagement,
        temperature=result.temperature,
        grade=result.grade,
        reasons=reasons_json(result),
        product=result.product,
    )
