"""The public shape of a lead (CLI `--json`, HTTP answers): the contract of SPEC.md."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from storage.models import Activity, Lead, Note


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def product_scores(lead: Lead) -> dict[str, float]:
    """Every product in play and the lead's score for it, the best first (ties: file order)."""
    held = lead.product_scores if isinstance(lead.product_scores, dict) else {}
    pairs = [(str(k), round(float(v), 2)) for k, v in held.items() if isinstance(v, int | float)]
    return dict(sorted(pairs, key=lambda kv: -kv[1]))


def fits_text(scores: dict[str, float]) -> str:
    """`analytics 71, integrations 48`: product_scores() as a person reads it (unescaped)."""
    return ", ".join(f"{name} {value:.0f}" for name, value in scores.items())


def lead_public(lead: Lead) -> dict[str, Any]:
    return {
        "id": lead.id,
        "email": lead.email,
        "name": lead.name,
        "company": lead.company,
        "title": lead.title,
        "phone": lead.phone,
        "country": lead.country,
        "domain": lead.domain,
        "status": lead.status,
        "status_reason": lead.status_reason,
        "temperature": lead.temperature,
        "score": round(lead.score, 2),
        "fit_score": round(lead.fit_score, 2),
        "engagement_score": round(lead.engagement_score, 2),
        "grade": lead.grade,
        "product": lead.product,
        "product_scores": product_scores(lead),
        "owner": lead.owner,
        "source": lead.source,
        "latest_source": lead.latest_source,
        "forwarded_by": lead.forwarded_by,
        "created_at": _iso(lead.created_at),
        "updated_at": _iso(lead.updated_at),
        "last_activity_at": _iso(lead.last_activity_at),
    }


def activity_public(activity: Activity) -> dict[str, Any]:
    return {
        "kind": activity.kind,
        "occurred_at": _iso(activity.occurred_at),
        "actor": activity.actor,
        "detail": activity.detail,
        "source": activity.source,
    }


def note_public(note: Note) -> dict[str, Any]:
    return {"author": note.author, "text": note.text, "created_at": _iso(note.created_at)}


def lead_detail(lead: Lead, activities: list[Activity], notes: list[Note]) -> dict[str, Any]:
    return {
        **lead_public(lead),
        "fields": lead.fields,
        "first_touch": lead.first_touch or {},
        "latest_touch": lead.latest_touch or {},
        "reasons": lead.reasons,
        "activities": [activity_public(a) for a in activities],
        "notes": [note_public(n) for n in notes],
    }
