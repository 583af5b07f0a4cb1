"""Importing historical leads (rows of a CSV): the lead, its fields, an `imported` activity and,
when the row says so, the outcome (won / lost) — idempotent on the email address.

Rows are the dicts of scoring.learn.read_csv_rows: `email`, `name`, … , `fields.<name>` and
`outcome`. A lead that exists keeps what it has (values are only filled where empty, as with
inquiries). An imported lead without an outcome joins the nurturing pool as if sent back there
at import time: it is scored like any other lead, but announced only after new activity lifts it
over the threshold (storage.lifecycle.eligible_for_announcement), so an import never floods Slack.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email
from sqlmodel import Session, col, select

from storage import lifecycle
from storage.db import Store, insert_ignore_many, insert_ignore_quiet, table
from storage.leads import FieldChanges, domain_of, field_change_row, fill_empty
from storage.models import Activity, Lead, utcnow
from storage.scores import StoredScore

WON = frozenset({"1", "yes", "true", "won", "converted", "y", "closed won"})
LOST = frozenset({"0", "no", "false", "lost", "not converted", "n", "closed lost"})
# Lead columns a CSV may fill, with their sizes; a value that does not fit becomes a field.
PROFILE = {"name": 200, "company": 200, "title": 200, "phone": 32, "country": 2}
CHUNK = 2_000  # rows per transaction: few statements each, and progress a person can see
# A new lead's score columns (score, temperature, reasons, …) from its values and its `imported`
# activity: passed in by the caller, which owns scoring (storage does not import it).
Score = Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]


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


# RFC 5322 dot-atom local part, ASCII: most addresses of a CSV; anything else goes to the library.
_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")


def normal_email(value: str | None) -> str:
    """The lead's identity: a valid address, lower-cased; raises ValueError otherwise."""
    if not value or not value.strip():
        raise ValueError("no email address")
    text = value.strip()
    local, at, domain = text.rpartition("@")
    simple = at and len(text) <= 254 and len(local) <= 64 and _LOCAL.fullmatch(local)
    if simple and domain.isascii() and _domain_ok(domain.lower()):
        return text.lower()  # what validate_email normalises it to, lower-cased
    try:
        checked = validate_email(text, check_deliverability=False)
    except EmailNotValidError as e:
        raise ValueError(f"invalid email address {text[:80]!r}: {e}") from None
    return checked.normalized.lower()


_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DOMAIN = re.compile(rf"(?:{_LABEL}\.)+[a-z](?:[a-z0-9-]{{0,61}}[a-z0-9])?")
_SPECIAL = frozenset(d for d in SPECIAL_USE_DOMAIN_NAMES if "." not in d)  # TLDs, today all
_SPECIAL_LONG = tuple(f".{d}" for d in SPECIAL_USE_DOMAIN_NAMES if "." in d)


@lru_cache(maxsize=65_536)
def _domain_ok(domain: str) -> bool:
    """Plain LDH labels are settled here (most domains of a CSV); the library decides the rest
    (IDNA, special-use names), once per domain."""
    plain = len(domain) <= 253 and "--" not in domain and _DOMAIN.fullmatch(domain)
    special = domain.rpartition(".")[2] in _SPECIAL or f".{domain}".endswith(_SPECIAL_LONG)
    if plain and not special:
        return True
    try:
        validate_email(f"a@{domain}", check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


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
    """Upsert a lead per row (by email) and record its outcome, in the caller's transaction."""
    report = ImportReport()
    import_chunk(session, list(enumerate(rows, start=1)), source=source, now=now, report=report)
    return report


def import_chunks(
    store: Store,
    rows: Iterable[dict[str, str]],
    *,
    source: str,
    now: datetime | None = None,
    chunk: int = CHUNK,
    score: Score | None = None,
    done: Callable[[list[int], ImportReport], None] | None = None,
) -> ImportReport:
    """import_rows in transactions of `chunk` rows; new leads get the columns of `score` in their
    INSERT, and `done(ids of the leads left to score, report so far)` runs after each commit.
    A failure keeps what was committed, and importing the file again finishes it: every row is
    idempotent on its email."""
    now = now or utcnow()
    report = ImportReport()
    numbered = enumerate(rows, start=1)
    while part := list(itertools.islice(numbered, chunk)):
        with store.session() as session:
            ids = import_chunk(session, part, source=source, now=now, report=report, score=score)
        if done is not None:
            done(ids, report)
    return report


@dataclass
class _Entry:
    profile: dict[str, str]
    fields: dict[str, str]
    outcome: str | None


def _entries(numbered: list[tuple[int, dict[str, str]]], report: ImportReport) -> dict[str, _Entry]:
    """The chunk's rows by email, in order; a later row of the same person fills what is empty,
    and the first outcome counts (the lead is closed by then), as one row after the other would."""
    entries: dict[str, _Entry] = {}
    for number, row in numbered:
        report.rows += 1
        try:
            email = normal_email(row.get("email"))
        except ValueError as e:
            report.skipped.append(f"row {number}: {e}")
            continue
        profile, fields = _profile(row)
        if (domain := row.get("domain")) is not None:
            profile["domain"] = domain
        outcome = row.get("outcome") if outcome_of(row.get("outcome")) is not None else None
        seen = entries.get(email)
        if seen is None:
            entries[email] = _Entry(profile, fields, outcome)
        else:
            seen.profile = {**profile, **seen.profile}
            seen.fields = {**fields, **seen.fields}
            seen.outcome = seen.outcome or outcome
    return entries


def import_chunk(
    session: Session,
    numbered: list[tuple[int, dict[str, str]]],
    *,
    source: str,
    now: datetime | None,
    report: ImportReport,
    score: Score | None = None,
) -> list[int]:
    """One chunk of (row number, row) in the session's transaction. Returns the ids of the leads
    to score again: with `score`, those that existed and got values filled in; without, all.

    A few statements per chunk, not per row: the leads that exist are read with one SELECT, new
    ones inserted with one executemany (ON CONFLICT DO NOTHING) with their score columns from
    `score(lead values, its imported activity)`, activities likewise, and the outcomes applied
    with one UPDATE per outcome.
    """
    now = now or utcnow()
    entries = _entries(numbered, report)
    if not entries:
        return []
    leads = {
        lead.email: lead
        for lead in session.scalars(select(Lead).where(col(Lead.email).in_(list(entries))))
    }
    filled: list[int] = []
    for email, lead in leads.items():
        e = entries[email]
        e.profile.pop("domain", None)
        if changes := _fill(lead, e.profile, e.fields):
            lead.updated_at = now
            report.updated += 1
            filled.append(int(lead.id or 0))
            session.add(
                Activity(
                    **field_change_row(
                        int(lead.id or 0), changes, actor="import", why=f"imported from {source}",
                        occurred_at=now, source=source,
                    )
                )
            )  # fmt: skip
    session.flush()
    new = [email for email in entries if email not in leads]
    ids = {email: int(lead.id) for email, lead in leads.items() if lead.id is not None}
    detail = f"imported from {source}"
    activities = {email: _imported(email, e, source, detail, now) for email, e in entries.items()}
    values = [_values(m, entries[m], source, now) for m in new]
    if score is not None:
        values = [{**v, **score(v, activities[v["email"]])} for v in values]
    made = insert_ignore_many(session, table(Lead), values, "email")
    ids.update({str(email): int(i) for i, email in made})
    report.created += len(made)
    raced = [m for m in new if m not in ids]  # written by another import since our SELECT
    if raced:
        rows = session.execute(
            select(col(Lead.email), col(Lead.id)).where(col(Lead.email).in_(raced))
        )
        ids.update({str(m): int(i) for m, i in rows})
    insert_ignore_quiet(
        session,
        table(Activity),
        [{**a, "lead_id": ids[email]} for email, a in activities.items()],
        "dedup_key",
    )
    for won in (True, False):
        wanted = [ids[m] for m, e in entries.items() if e.outcome and outcome_of(e.outcome) is won]
        closed = lifecycle.close_imported_many(
            session,
            lead_ids=wanted,
            won=won,
            reason=f"{'won' if won else 'lost'} ({detail})",
            now=now,
        )
        if won:
            report.won += len(closed)
        else:
            report.lost += len(closed)
    if score is None:
        return sorted(ids.values())
    return sorted({*filled, *(ids[m] for m in raced if m in ids)})  # the others: as they were


def score_columns(result: StoredScore) -> dict[str, Any]:
    """A score as the lead's columns, for the INSERT (every lead of a chunk has the same keys)."""
    return {
        "score": result.score,
        "fit_score": result.fit,
        "engagement_score": result.engagement,
        "temperature": result.temperature,
        "grade": result.grade,
        "reasons": result.reasons,
        "product": result.product,
    }


def _imported(email: str, e: _Entry, source: str, detail: str, now: datetime) -> dict[str, Any]:
    """The lead's `imported` activity (its lead_id is added once the lead has one)."""
    return {
        "kind": "imported",
        "occurred_at": now,
        "actor": "import",
        "detail": detail,
        "data": {"source": source, "outcome": e.outcome},
        "source": source[:100],
        "raw_id": None,
        "dedup_key": f"imported:{email}",
    }


def _values(email: str, e: _Entry, source: str, now: datetime) -> dict[str, Any]:
    """A new lead's row; every row of one executemany has the same keys."""
    profile = {name: None for name in PROFILE} | {
        k: v for k, v in e.profile.items() if k != "domain"
    }
    return {
        "email": email,
        "domain": (e.profile.get("domain") or domain_of(email)).lower()[:255],
        "source": source[:100],
        "latest_source": source[:100],
        "created_at": now,
        "updated_at": now,
        "nurtured_at": now,
        **profile,
        "fields": e.fields,
    }
