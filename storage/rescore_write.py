"""Writing a rescored batch: changed rows through a temporary table, history, announcements.

One UPDATE … FROM a temporary table (filled by COPY on PostgreSQL, executemany on SQLite) writes
every changed lead of a batch. It only touches rows still as they were read (same updated_at,
score and temperature): a lead that an inquiry or a rep changed meanwhile was rescored by them, and
two rescoring processes never record the same score change twice. RETURNING tells which rows
were written, so history and announcements follow exactly those.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from scoring.types import ScoreResult
from storage import lifecycle
from storage.db import Store
from storage.errors import TransitionRefused
from storage.models import Activity, Lead, LeadStatus
from storage.scores import score_changed, visible_change

A = Activity.__table__  # type: ignore[attr-defined]
_COLUMNS = (
    "id",
    "score",
    "fit_score",
    "engagement_score",
    "temperature",
    "grade",
    "product",
    "reasons",
    "old_updated_at",
    "old_score",
    "old_temperature",
    "score_plan",
)
_PG_TEMP = """CREATE TEMP TABLE rescore_tmp (id integer PRIMARY KEY, score double precision,
 fit_score double precision, engagement_score double precision, temperature varchar(10),
 grade varchar(2), product varchar(100), reasons json, old_updated_at timestamptz,
 old_score double precision, old_temperature varchar(10), score_plan text) ON COMMIT DROP"""
_SQLITE_TEMP = """CREATE TEMP TABLE IF NOT EXISTS rescore_tmp (id INTEGER PRIMARY KEY, score REAL,
 fit_score REAL, engagement_score REAL, temperature TEXT, grade TEXT, product TEXT, reasons TEXT,
 old_updated_at TEXT, old_score REAL, old_temperature TEXT, score_plan TEXT)"""
_UPDATE = sa.text("""UPDATE lead SET score = t.score, fit_score = t.fit_score,
 engagement_score = t.engagement_score, temperature = t.temperature, grade = t.grade,
 product = t.product, reasons = t.reasons, score_plan = t.score_plan,
 score_plan_at = lead.updated_at
 FROM rescore_tmp AS t
 WHERE lead.id = t.id AND lead.updated_at = t.old_updated_at AND lead.score = t.old_score
   AND lead.temperature = t.old_temperature
 RETURNING lead.id""")


@dataclass(frozen=True, slots=True)
class Change:
    row: Any  # the lead as read (storage.rescore._LEAD_COLUMNS)
    result: ScoreResult
    reasons: list[dict[str, Any]]
    plan: str | None = None  # lead.score_plan built from the same facts (storage.rescore_decay)


@dataclass
class Written:
    changed: int = 0
    recorded: int = 0
    announced: int = 0


def _record(c: Change) -> tuple[Any, ...]:
    r, row = c.result, c.row
    product = r.product or row.product  # like apply_score: a lead keeps its product line
    return (
        row.id,
        r.score,
        r.fit,
        r.engagement,
        r.temperature,
        r.grade,
        product,
        json.dumps(c.reasons),
        row.updated_at,
        row.score,
        row.temperature,
        c.plan,
    )


def _update(session: Session, changes: Sequence[Change], *, pg_copy: bool) -> set[int]:
    conn = session.connection()
    records = [_record(c) for c in changes]
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(_PG_TEMP)
        if pg_copy:
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            with cursor.copy(f"COPY rescore_tmp ({', '.join(_COLUMNS)}) FROM STDIN") as copy:
                for rec in records:
                    copy.write_row(rec)
        else:
            marks = ", ".join(["%s"] * len(_COLUMNS))
            conn.exec_driver_sql(f"INSERT INTO rescore_tmp VALUES ({marks})", records)
    else:
        conn.exec_driver_sql(_SQLITE_TEMP)
        conn.exec_driver_sql("DELETE FROM rescore_tmp")
        marks = ", ".join(["?"] * len(_COLUMNS))
        conn.exec_driver_sql(f"INSERT INTO rescore_tmp VALUES ({marks})", records)
    return {int(i) for (i,) in conn.execute(_UPDATE)}


def _history(c: Change, now: datetime) -> dict[str, Any] | None:
    """A score_changed activity when a person would see the change (apply_score's rule)."""
    old, new, temp = c.row.score, c.result.score, c.result.temperature
    if not visible_change(old, c.row.temperature, new, temp):
        return None  # sub-point change of a lead scored from its facts: stored, not news
    return score_changed(c.row.id, old, new, temp, now)


def parse_time(value: Any) -> datetime | None:
    """A stored UTC datetime as the driver returns it (text on SQLite) → aware datetime."""
    if value is None or isinstance(value, datetime):
        return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def _eligible(row: Any, score: float, *, hot_threshold: float) -> bool:
    if row.status != LeadStatus.NURTURING or score < hot_threshold:
        return False  # most rows stop here, before any object is built
    probe = Lead(
        email=row.email,
        status=row.status,
        score=score,
        nurtured_at=parse_time(row.nurtured_at),
        last_activity_at=parse_time(row.last_activity_at),
    )
    return lifecycle.eligible_for_announcement(probe, hot_threshold=hot_threshold)


def write_changes(
    store: Store,
    changes: Sequence[Change],
    rows: Sequence[Any],
    stale: Sequence[tuple[Any, ...]] = (),
    *,
    hot_threshold: float,
    now: datetime,
    pg_copy: bool = True,
) -> Written:
    """Write `changes` (of the batch `rows`) in one transaction; announce who became eligible.

    `stale`: (plan, id, updated_at as read) of unchanged leads whose stored plan is missing or
    out of date; written only where the lead is still as read.
    """
    by_id = {c.row.id: c for c in changes}
    # Unchanged rows can be eligible too (an announcement refused earlier, a lowered threshold
    # that moved no score): the per-lead path announced them on every run, so this does as well.
    waiting = [
        r.id
        for r in rows
        if r.id not in by_id and _eligible(r, r.score, hot_threshold=hot_threshold)
    ]
    if not changes and not waiting and not stale:
        return Written()
    out = Written()
    with store.session() as session:
        if stale:
            conn = session.connection()
            mark = "%s" if conn.dialect.name == "postgresql" else "?"
            conn.exec_driver_sql(
                f"UPDATE lead SET score_plan = {mark}, score_plan_at = updated_at"
                f" WHERE id = {mark} AND updated_at = {mark}",
                list(stale),
            )
        written = _update(session, changes, pg_copy=pg_copy) if changes else set()
        out.changed = len(written)
        history = [h for i in sorted(written) if (h := _history(by_id[i], now)) is not None]
        if history:
            session.execute(sa.insert(A), history)
            out.recorded = len(history)
        hot = [
            i
            for i in sorted(written)
            if _eligible(by_id[i].row, by_id[i].result.score, hot_threshold=hot_threshold)
        ]
        for lead_id in sorted([*hot, *waiting]):
            try:
                with session.begin_nested():
                    lifecycle.announce(session, lead_id=lead_id, now=now)
            except TransitionRefused:
                continue  # a rep or another process moved it meanwhile: theirs to decide
            out.announced += 1
            if lead_id in written:
                # Our UPDATE holds the row since it stored the plan, and announcing changes no
                # scoring fact: the plan stays valid for the new updated_at.
                session.execute(
                    sa.text(
                        "UPDATE lead SET score_plan_at = updated_at WHERE id = :i"
                        " AND score_plan IS NOT NULL"
                    ),
                    {"i": lead_id},
                )
    return out
