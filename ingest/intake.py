"""Planning a batch of inquiries: each applied to its lead in order, scored, announced when hot.

The one way an inquiry is recorded. `storage.batch` reads what a batch depends on and writes the
result; this module decides what the result is, in Python, with no statements: the lead's profile
and touches (`storage.batch.apply_item`), its score from all its engagement activities (scoring,
through the facts of ingest.facts), the `score_changed` row a person would see, and whether it
is announced. Inquiries are applied in order, so a person twice in a batch is scored twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session

from ingest.facts import activity_facts, lead_facts, stored_score
from scoring.types import Scorer
from storage import batch, lifecycle
from storage.batch import ActivityRead, Item, ItemResult, Prepared, Snapshot
from storage.leads import field_change_row
from storage.models import LeadRow
from storage.scores import store_score

__all__ = ["Item", "ItemResult", "Prepared", "prepare_batch", "prepare_rows", "record_batch"]


def prepare_rows(
    snapshot: Snapshot, items: Sequence[Item], *, scorer: Scorer, now: datetime
) -> Prepared:
    """The batch applied in order to what was read: pure Python, no statements."""
    leads = snapshot.leads
    history = snapshot.history
    known = list(leads.values())
    new: list[LeadRow] = []
    activities: list[dict[str, Any]] = []
    changes: list[dict[str, Any]] = []  # score_changed rows
    announce: list[int] = []
    results: list[ItemResult] = []
    recorded = dict(snapshot.seen)  # dedup key -> lead id, from the database and then this batch
    for item in items:
        if item.dedup_key in recorded:
            results.append(ItemResult(recorded[item.dedup_key], duplicate=True))
            continue
        email = item.email.strip().lower()
        lead = leads.get(email)
        known_lead = lead is not None
        if lead is None:  # a new person: a placeholder id until the row is inserted
            lead = leads[email] = batch.new_lead(email, item, placeholder=-1 - len(new), now=now)
            new.append(lead)
        recorded[item.dedup_key] = lead.id
        row, filled = batch.apply_item(lead, item, now=now)
        activities.append(row)
        if filled and known_lead:  # a new lead's first values are its creation, not a change
            why = f"filled from a later {item.kind.replace('_', ' ')}"
            changes.append(
                field_change_row(
                    lead.id, filled, actor=row["actor"], why=why, occurred_at=now,
                    source=item.source, raw_id=item.raw_id,
                )
            )  # fmt: skip
        acts = history[lead.id]
        acts.append(ActivityRead(*(row[name] for name in ActivityRead._fields)))
        acts.sort(key=lambda a: a.occurred_at)  # stable: ties keep insertion (id) order
        result = scorer.score(lead_facts(lead), activity_facts(acts), now=now)
        store_score(None, lead=lead, result=stored_score(result), now=now, history=changes)
        hot = lifecycle.eligible_for_announcement(lead, hot_threshold=scorer.hot_threshold)
        # Scoring never reads a lead's status, so announcing them all after the loop leaves every
        # row as one by one; once announced a lead is no longer in the pool.
        announced = hot and lead.id not in announce
        if announced:
            announce.append(lead.id)
        results.append(ItemResult(lead.id, duplicate=False, announced=announced))
    return Prepared(snapshot, known + new, activities, changes, announce, results)


def prepare_batch(
    session: Session, items: Sequence[Item], *, scorer: Scorer, now: datetime
) -> Prepared:
    """Read what the batch depends on and prepare its rows; `session` may be a read-only snapshot."""
    return prepare_rows(batch.read_batch(session, items), items, scorer=scorer, now=now)


def record_batch(
    session: Session,
    items: Sequence[Item],
    *,
    scorer: Scorer,
    now: datetime,
    prepared: Prepared | None = None,
) -> list[ItemResult]:
    """Record, score and (when hot) announce `items` in order; one result per item.

    With `prepared` (from a snapshot read before this transaction) the batch is only checked and
    written; if anything it read has changed since, or without it, it is prepared again here.
    """

    def prepare(snapshot: Snapshot) -> Prepared:
        return prepare_rows(snapshot, items, scorer=scorer, now=now)

    return batch.record_batch(session, items, prepare=prepare, now=now, prepared=prepared)
