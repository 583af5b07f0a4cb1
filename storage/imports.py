"""Importing historical leads (rows of a CSV): the lead, its fields, an `imported` activity and,
when the row says so, the outcome (won / lost) — idempotent on the email address.

Rows are the dicts of scoring.learn.read_csv_rows: `email`, `name`, … , `fields.<name>` and
`outcome`. A lead that exists keeps what it has (values are only filled where empty, as with
inquiries). An imported lead without an outcome joins the nurturing pool as if sent back there
at import time: it is scored like any other lead, but announced only after new activity lifts it
over the threshold (storage.lifecycle.eligible_for_announcement), so an import never floods Slack.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlmodel import Session, select

from storage import lifecycle
from storage.db import insert_ignore
from storage.leads import FieldChanges, domain_of, field_change_row, fill_empty
from storage.models import Activity, Lead, LeadStatus, utcnow

WON = frozenset({"1", "yes", "true", "won", "converted", "y", "closed won"})
LOST = frozenset({"0", "no", "false", "lost", "not converted", "n", "closed lost"})
# Lead columns a CSV may fill, with their sizes; a value that does not fit becomes a field.
PROFILE = {"name": 200, "company": 200, "title": 200, "phone": 32, "country": 2}


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    updated: int = 0  # existing leads that got empty values filled
    won: int = 0
    lost: int = 0
    skipped: list[str] = field(default_factory=list)  # "row 7: no email address", …


def outcome_of(value: str | None) -> bool | None:
    """True for won, False for lost, None when the cell says neither."""
    folded = (value or "").strip().casefold()
    return True if folded in WON else False if folded in LOST else None


def normal_email(value: str | None) -> str:
    """The lead's identity: a valid address, lower-cased; raises ValueError otherwise."""
    if not value or not value.strip():
        raise ValueError("no email address")
    try:
        checked = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError as e:
        raise ValueError(f"invalid email address {value.strip()[:80]!r}: {e}") from None
    return checked.normalized.lower()


def _profile(row: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    profile: dict[str, str] = {}
    fields = {k[7:]: v for k, v in row.items() if k.startswith("fields.")}
    for name, size in PROFILE.items():
        value = row.get(name)
        if value:
            if name == "country" and not (len(value) == 2 and value.isalpha()):
                fields.setdefault("country", value)  # "India": kept, the column holds ISO codes
            elif len(value) <= size:
                profile[name] = value.upper() if name == "country" else value
            else:
                fields.setdefault(name, value)
    return profile, fields


def _fill(lead: Lead, profile: dict[str, str], fields: dict[str, str]) -> FieldChanges:
    return fill_empty(lead, profile=dict(profile), forwarded_by=None, fields=fields)


def import_rows(
    session: Session, rows: Iterable[dict[str, str]], *, source: str, now: datetime | None = None
) -> ImportReport:
    """Upsert a lead per row (by email) and record its outcome; see the module docstring."""
    now = now or utcnow()
    report = ImportReport()
    for number, row in enumerate(rows, start=1):
        report.rows += 1
        try:
            email = normal_email(row.get("email"))
        except ValueError as e:
            report.skipped.append(f"row {number}: {e}")
            continue
        profile, fields = _profile(row)
        values: dict[str, Any] = {
            "email": email,
            "domain": (row.get("domain") or domain_of(email)).lower()[:255],
            "source": source[:100],
            "latest_source": source[:100],
            "created_at": now,
            "updated_at": now,
            "nurtured_at": now,
            **profile,
            "fields": fields,
        }
        new_id = insert_ignore(session, Lead.__table__, values, conflict=["email"])  # type: ignore[attr-defined]
        lead = session.scalar(select(Lead).where(Lead.email == email))
        assert lead is not None and lead.id is not None
        if new_id is not None:
            report.created += 1
        elif filled := _fill(lead, profile, fields):
            lead.updated_at = now
            report.updated += 1
            why = f"imported from {source}"
            session.add(
                Activity(
                    **field_change_row(
                        lead.id, filled, actor="import", why=why, occurred_at=now, source=source
                    )
                )
            )
        won = outcome_of(row.get("outcome"))
        detail = f"imported from {source}"
        data: dict[str, Any] = {"source": source, "outcome": row.get("outcome")}
        activity = {
            "lead_id": lead.id,
            "kind": "imported",
            "occurred_at": now,
            "actor": "import",
            "detail": detail,
            "data": data,
            "source": source[:100],
            "raw_id": None,
            "dedup_key": f"imported:{email}",
        }
        insert_ignore(session, Activity.__table__, activity, conflict=["dedup_key"])  # type: ignore[attr-defined]
        session.flush()
        if won is not None and lead.status == LeadStatus.NURTURING:
            outcome = "won" if won else "lost"
            lifecycle.close_imported(
                session,
                lead_id=lead.id,
                won=won,
                reason=f"{outcome} (imported from {source})",
                now=now,
            )
            report.won += won
            report.lost += not won
    return report
