"""Where stored rows meet scoring: facts out of leads and activities, a score back as storage keeps it.

Storage is the bottom floor and knows nothing of scoring; scoring is pure and knows nothing of
rows. This adapter is the one place that knows both: the intake pipeline, the rescoring job and the
CLI's `score explain` all build their facts here, so they can never read a lead differently.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any, Protocol

from sqlmodel import Session

from scoring.types import ActivityFacts, LeadFacts, Scorer, ScoreResult
from storage.leads import LIFECYCLE_KINDS, touch_fields
from storage.models import Lead, LeadRow, parse_time
from storage.scores import TEXT_FOR_SCORING, StoredScore, engagement_activities, store_score

_NO_FIELDS = (None, "null", "{}", "")


def lead_facts(lead: Lead | LeadRow | Any) -> LeadFacts:
    """A lead's facts: from a `Lead`, a `LeadRow` or a row of `storage.rescore.read_leads`."""
    return LeadFacts(
        email=lead.email,
        domain=lead.domain,
        name=lead.name,
        company=lead.company,
        title=lead.title,
        phone=lead.phone,
        country=lead.country,
        fields={
            **{k: str(v) for k, v in (lead.fields or {}).items() if v is not None},
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


def activity_facts_by_lead(rows: Iterable[Any]) -> dict[int, list[ActivityFacts]]:
    """Facts of the activity rows of `storage.rescore.read_leads` (text already cut, in the
    database, as `activity_facts` cuts it), by lead id."""
    out: dict[int, list[ActivityFacts]] = {}
    for r in rows:
        text = f"{r.subject} {r.text}" if r.subject and r.text else (r.subject or r.text or "")
        raw = r.fields
        if raw in _NO_FIELDS:
            fields = {}
        else:
            found = json.loads(raw) if isinstance(raw, str) else raw
            fields = {k: str(v) for k, v in found.items()} if isinstance(found, dict) else {}
        facts = ActivityFacts(
            kind=r.kind,
            occurred_at=parse_time(r.occurred_at),  # type: ignore[arg-type]
            text=text[:TEXT_FOR_SCORING],
            source=r.source or "",
            fields=fields,
        )
        out.setdefault(r.lead_id, []).append(facts)
    return out


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
        product_scores=dict(result.product_scores),
    )


def score_again(session: Session, lead: Lead, scorer: Scorer, *, now: datetime) -> None:
    """One stored lead scored again from its activities, in `session` (a person corrected its
    profile): the card shows the new score at once rather than after the next rescore."""
    assert lead.id is not None
    facts = activity_facts(engagement_activities(session, lead.id))
    result = scorer.score(lead_facts(lead), facts, now=now)
    store_score(session, lead=lead, result=stored_score(result), now=now)
