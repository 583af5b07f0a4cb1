"""Leads and their activities: profile and touch rules, lookups, notes and search."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from storage.errors import LeadNotFound
from storage.models import Activity, Lead, LeadRow, Note, utcnow
from storage.search import find_leads

# Profile fields an inquiry may fill. A field is only ever filled when empty, so what a rep
# edited (or what an earlier, richer message gave) is never overwritten by a later message.
PROFILE_FIELDS = ("name", "company", "title", "phone", "country")

# Activities that record what happened to a lead rather than what the person did: scoring's
# engagement rules never see these.
LIFECYCLE_KINDS = frozenset(
    {
        "announced",
        "claimed",
        "nurtured",
        "won",
        "lost",
        "disqualified",
        "reassigned",
        "reopened",
        "score_changed",
        "note_added",
        "edited",
        "field_changed",  # a field filled from later mail or an import (field_change_row)
        "sla_reminder",
        "sla_escalated",
        "imported",  # a historical lead loaded from a CSV (storage.imports): not engagement
    }
)


def domain_of(email: str) -> str:
    return email.rpartition("@")[2].lower()


TOUCH_UTM = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")


def make_touch(source: str, fields: dict[str, Any], occurred_at: datetime) -> dict[str, Any]:
    """Where one inquiry came from: channel, form or provider, UTM tags and page."""
    channel, _, detail = source.partition(":")
    touch: dict[str, Any] = {"channel": channel or "unknown", "source": source[:100]}
    if channel == "form":
        touch["form"] = detail[:100]
    elif detail:
        touch["provider"] = detail[:100]
    if fields.get("_form") and "form" not in touch:
        touch["form"] = str(fields["_form"])[:100]
    for key in TOUCH_UTM:
        if fields.get(key):
            touch[key] = str(fields[key])[:200]
    if fields.get("page_url"):
        touch["page"] = str(fields["page_url"])[:2000]
    touch["at"] = occurred_at.isoformat()
    return touch


def touch_fields(lead: Lead | LeadRow) -> dict[str, str]:
    """First and latest touch as flat facts for scoring and routing rules (`source_channel`, …)."""
    out: dict[str, str] = {}
    for prefix, touch in (("source_", lead.first_touch), ("latest_", lead.latest_touch)):
        for key, value in (touch or {}).items():
            if key not in ("at", "source") and value not in (None, ""):
                out[prefix + key] = str(value)
    return out


FieldChanges = dict[str, dict[str, Any]]  # field -> {"from": old, "to": new}


def fill_empty(
    lead: Lead | LeadRow,
    *,
    profile: dict[str, str | None],
    forwarded_by: str | None,
    fields: dict[str, Any],
) -> FieldChanges:
    """Fill what is empty from a later input (never what a person edited); returns what changed,
    form fields as `fields.<key>`, for the audit row of `field_change_row`."""
    done: FieldChanges = {}
    for name in PROFILE_FIELDS:
        value = profile.get(name)
        if value and not getattr(lead, name) and name not in lead.edited_fields:
            done[name] = {"from": getattr(lead, name), "to": value}
            setattr(lead, name, value)
    if forwarded_by and not lead.forwarded_by:
        done["forwarded_by"] = {"from": None, "to": forwarded_by}
        lead.forwarded_by = forwarded_by
    missing = {k: v for k, v in fields.items() if k not in lead.fields and v not in (None, "")}
    if missing:
        lead.fields = {**lead.fields, **missing}
        done.update({f"fields.{k}": {"from": None, "to": v} for k, v in missing.items()})
    return done


def describe_changes(changes: FieldChanges) -> str:
    """`company: — → Acme, phone: — → +49 …`: how `leads show` and the lead page print a change."""
    return ", ".join(
        f"{name}: {_shown(change['from'])} → {_shown(change['to'])}"
        for name, change in changes.items()
    )


def _shown(value: Any) -> str:
    text = "" if value is None else str(value)
    return (text[:80] + "…" if len(text) > 80 else text) or "—"


def field_change_row(
    lead_id: int,
    changes: FieldChanges,
    *,
    actor: str,
    why: str,
    occurred_at: datetime,
    source: str = "",
    raw_id: int | None = None,
) -> dict[str, Any]:
    """The audit activity of fields a later input filled: old and new value, who and why.

    A rep's edits are the `edited` activity (edit_lead) with the same `changes` shape."""
    return {
        "lead_id": lead_id,
        "kind": "field_changed",
        "occurred_at": occurred_at,
        "actor": actor[:320],
        "detail": f"{describe_changes(changes)} ({why})"[:500],
        "source": source[:100],
        "raw_id": raw_id,
        "data": {"changes": changes, "why": why},
        "dedup_key": None,
    }


def edit_lead(
    session: Session,
    *,
    lead_id: int,
    actor: str,
    changes: dict[str, str | None],
    why: str = "edited by a rep",
    now: datetime | None = None,
) -> tuple[Lead, dict[str, dict[str, str | None]]]:
    """A person's corrections to profile fields: applied, marked edited (so no later message fills
    them again, even when emptied), and recorded as one `edited` activity naming before and after.
    Returns the lead and what actually changed (nothing: no activity)."""
    now = now or utcnow()
    lead = get_lead(session, lead_id=lead_id)
    done: dict[str, dict[str, str | None]] = {}
    for name, value in changes.items():
        if name not in PROFILE_FIELDS:
            raise ValueError(f"{name} is not an editable field")
        new = (value or "").strip() or None
        if new != getattr(lead, name):
            done[name] = {"from": getattr(lead, name), "to": new}
            setattr(lead, name, new)
    if not done:
        return lead, done
    lead.edited_fields = sorted({*lead.edited_fields, *done})
    lead.updated_at = now  # the next rescore scores the corrected profile
    session.add(
        Activity(
            lead_id=lead_id, kind="edited", occurred_at=now, actor=actor,
            detail=describe_changes(done)[:500], data={"changes": done, "why": why},
        )
    )  # fmt: skip
    session.flush()
    return lead, done


def get_lead(session: Session, *, email: str | None = None, lead_id: int | None = None) -> Lead:
    if lead_id is not None:
        lead = session.get(Lead, lead_id)
    else:
        assert email is not None
        lead = session.scalar(select(Lead).where(col(Lead.email) == email.strip().lower()))
    if lead is None:
        raise LeadNotFound(f"no lead {email or lead_id}")
    return lead


def list_leads(
    session: Session,
    *,
    status: str | None = None,
    temperature: str | None = None,
    owner: str | None = None,
    limit: int = 1000,
) -> list[Lead]:
    stmt = select(Lead)
    if status:
        stmt = stmt.where(col(Lead.status) == status)
    if temperature:
        stmt = stmt.where(col(Lead.temperature) == temperature)
    if owner:
        stmt = stmt.where(col(Lead.owner) == owner)
    stmt = stmt.order_by(col(Lead.score).desc(), col(Lead.id)).limit(limit)
    return list(session.scalars(stmt))


def search_leads(session: Session, query: str, *, limit: int = 20) -> list[Lead]:
    """Leads matching `query` by email, domain, name or company, best first (storage.search)."""
    return find_leads(session, query, limit=limit)


def activities_of(session: Session, lead_id: int) -> list[Activity]:
    stmt = (
        select(Activity)
        .where(col(Activity.lead_id) == lead_id)
        .order_by(col(Activity.occurred_at), col(Activity.id))
    )
    return list(session.scalars(stmt))


def notes_of(session: Session, lead_id: int) -> list[Note]:
    stmt = (
        select(Note)
        .where(col(Note.lead_id) == lead_id)
        .order_by(col(Note.created_at), col(Note.id))
    )
    return list(session.scalars(stmt))


def add_note(
    session: Session, *, lead_id: int, author: str, text: str, now: datetime | None = None
) -> Note:
    now = now or utcnow()
    get_lead(session, lead_id=lead_id)
    note = Note(lead_id=lead_id, author=author, text=text, created_at=now)
    session.add(note)
    session.add(
        Activity(
            lead_id=lead_id, kind="note_added", occurred_at=now, actor=author, detail=text[:500]
        )
    )
    session.flush()
    return note
