"""The one-by-one reference path: record one inquiry, then score it, with the ORM.

The product records inquiries in batches (`ingest.intake`). This slower path says the same thing
one statement at a time, so tests can check that a batch writes exactly the rows it would, and
can set up a lead in a line.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from ingest.facts import activity_facts, lead_facts, stored_score
from scoring.types import Scorer, ScoreResult
from storage import lifecycle
from storage.db import insert_ignore, table
from storage.leads import domain_of, fill_empty, make_touch
from storage.models import Activity, Lead, utcnow
from storage.scores import engagement_activities, store_score


@dataclass(frozen=True)
class Recorded:
    lead: Lead
    activity: Activity | None  # None when the input was a duplicate
    created: bool

    @property
    def duplicate(self) -> bool:
        return self.activity is None


def record_inquiry(
    session: Session,
    *,
    email: str,
    kind: str,
    source: str,
    occurred_at: datetime,
    dedup_key: str | None,
    profile: dict[str, str | None],
    detail: str = "",
    data: dict[str, Any] | None = None,
    forwarded_by: str | None = None,
    fields: dict[str, Any] | None = None,
    raw_id: int | None = None,
    now: datetime | None = None,
) -> Recorded:
    """Upsert the lead for `email` and append one activity, unless `dedup_key` was seen before."""
    now = now or utcnow()
    email = email.strip().lower()
    if dedup_key is not None:
        seen = session.scalar(
            select(col(Activity.lead_id)).where(col(Activity.dedup_key) == dedup_key)
        )
        if seen is not None:
            lead = session.get(Lead, seen)
            assert lead is not None
            return Recorded(lead=lead, activity=None, created=False)
    lead, created = _get_or_create(session, email=email, source=source, now=now)
    fill_empty(lead, profile=profile, forwarded_by=forwarded_by, fields=fields or {})
    lead.latest_source = source[:100]
    touch = make_touch(source, (data or {}).get("fields") or fields or {}, occurred_at)
    if not lead.first_touch:
        lead.first_touch = touch
    if lead.last_activity_at is None or occurred_at >= lead.last_activity_at:
        lead.latest_touch = touch
    if lead.last_activity_at is None or occurred_at > lead.last_activity_at:
        lead.last_activity_at = occurred_at
    lead.updated_at = now
    session.flush()  # the lead's new values go out before the activity that refers to it
    values: dict[str, Any] = {
        "lead_id": lead.id,
        "kind": kind,
        "occurred_at": occurred_at,
        "actor": forwarded_by or email,
        "detail": detail,
        "data": data or {},
        "source": source[:100],
        "raw_id": raw_id,
        "dedup_key": dedup_key,
    }
    activity_id = insert_ignore(session, table(Activity), values, conflict=["dedup_key"])
    if activity_id is None:  # the same message on two connections at once: one activity
        return Recorded(lead=lead, activity=None, created=created)
    activity = Activity(id=activity_id, **values)
    return Recorded(lead=lead, activity=activity, created=created)


def _get_or_create(
    session: Session, *, email: str, source: str, now: datetime
) -> tuple[Lead, bool]:
    lead = session.scalar(select(Lead).where(col(Lead.email) == email))
    if lead is not None:
        return lead, False
    values = {
        "email": email,
        "domain": domain_of(email),
        "source": source[:100],
        "latest_source": source[:100],
        "created_at": now,
        "updated_at": now,
    }
    new_id = insert_ignore(session, table(Lead), values, conflict=["email"])
    lead = session.get(Lead, new_id) if new_id is not None else None
    if lead is None:  # created a moment ago by another connection
        lead = session.scalar(select(Lead).where(col(Lead.email) == email))
        assert lead is not None
        return lead, False
    return lead, True


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
    store_score(session, lead=lead, result=stored_score(result), now=now)
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
