"""The SQL of rescoring: keyset reads of leads, their activities and stored plans; the writes.

The rescoring job (bot.jobs.rescore) decides which leads go which way and scores them; this module
only reads and writes, fast:

- `read_leads` — a batch of leads and the text of their engagement activities, in two queries,
  datetimes left as the driver gives them (SQLite: text) and parsed only where needed.
- `read_plans` — (id, stored plan, numbers) of a keyset batch with the raw DBAPI cursor: the
  decay-only path reads nothing else.
- `write_changes` — the changed leads of a batch in one UPDATE … FROM a temporary table (filled by
  COPY on PostgreSQL), their `score_changed` history and announcements.
- `write_decay` — decay-only changes, COPY + UPDATE … FROM … RETURNING on PostgreSQL.

Every write touches only rows still as they were read (same updated_at, score and temperature):
a lead that an inquiry or a rep changed meanwhile was rescored by them, and two rescoring processes
never record the same score change twice. RETURNING tells which rows were written, so history and
announcements follow exactly those. Scores arrive as storage's own `StoredScore`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from storage import lifecycle
from storage.db import Store
from storage.errors import TransitionRefused
from storage.leads import LIFECYCLE_KINDS
from storage.models import Activity, Lead, LeadStatus, ScoringState, parse_time
from storage.scores import TEXT_FOR_SCORING, StoredScore, score_changed, visible_change

FINGERPRINT = "rules_fingerprint"
# Above any lead id (the largest 64-bit integer): "no upper bound".
LAST_ID = 2**63 - 1
L = Lead.__table__  # type: ignore[attr-defined]
A = Activity.__table__  # type: ignore[attr-defined]

# The lead's updated_at goes back untouched as the optimistic-concurrency check of the write.
LEAD_COLUMNS = [
    L.c.id,
    L.c.email,
    L.c.domain,
    L.c.name,
    L.c.company,
    L.c.title,
    L.c.phone,
    L.c.country,
    L.c.fields,
    L.c.first_touch,
    L.c.latest_touch,
    L.c.status,
    L.c.score,
    L.c.fit_score,
    L.c.engagement_score,
    L.c.temperature,
    L.c.grade,
    L.c.product,
    L.c.product_scores,
    sa.type_coerce(L.c.updated_at, sa.String).label("updated_at"),
    sa.type_coerce(L.c.nurtured_at, sa.String).label("nurtured_at"),
    sa.type_coerce(L.c.last_activity_at, sa.String).label("last_activity_at"),
    L.c.score_plan,
    sa.type_coerce(L.c.score_plan_at, sa.String).label("score_plan_at"),
]
_ACTIVITY_COLUMNS = [
    A.c.lead_id,
    A.c.kind,
    sa.type_coerce(A.c.occurred_at, sa.String).label("occurred_at"),
    A.c.source,
    A.c.data["subject"].as_string().label("subject"),
    # Only what scoring reads: the inquiry text, cut in the database, not the whole JSON document.
    sa.func.substr(
        sa.func.coalesce(A.c.data["text"].as_string(), A.c.detail), 1, TEXT_FOR_SCORING
    ).label("text"),
    # Raw JSON text (SQLite) or already parsed (psycopg): most activities have no fields at all.
    sa.type_coerce(A.c.data["fields"], sa.String).label("fields"),
]


# --- reads ------------------------------------------------------------------------------------


def read_leads(
    store: Store, where: sa.ColumnElement[bool], *, limit: int | None, reasons: bool
) -> tuple[list[Any], list[Any]]:
    """(leads, their engagement activities) of the leads `where` selects, the first `limit` by
    id; `reasons` adds the stored reasons to each lead row.

    A short read transaction of its own: SQLite's write lock (BEGIN IMMEDIATE) is not held while
    the batch is scored; the write checks that nobody changed the rows meanwhile.
    """
    columns = [*LEAD_COLUMNS, L.c.reasons] if reasons else LEAD_COLUMNS
    with store.engine.connect() as conn:
        stmt = sa.select(*columns).where(where).order_by(L.c.id)
        rows = conn.execute(stmt if limit is None else stmt.limit(limit)).all()
        if not rows:
            return [], []
        ids = [r.id for r in rows]
        of_leads = A.c.lead_id.between(ids[0], ids[-1]) if limit else A.c.lead_id.in_(ids)
        acts = (
            sa.select(*_ACTIVITY_COLUMNS)
            .where(of_leads)
            .where(A.c.kind.not_in(sorted(LIFECYCLE_KINDS)))
        )
        activities = conn.execute(acts).all()  # one fetchall, not a fetchone a row
        conn.rollback()
    return list(rows), list(activities)


def id_span(store: Store) -> tuple[int, int]:
    """(smallest id - 1, largest id) of the leads: both ends of the primary key index."""
    with store.engine.connect() as conn:
        low, high = conn.execute(sa.text("SELECT min(id), max(id) FROM lead")).one()
    return (int(low) - 1, int(high)) if low is not None else (0, 0)


def load_fingerprint(store: Store) -> str | None:
    with store.session() as session:
        state = session.get(ScoringState, FINGERPRINT)
        return state.value if state else None


def save_fingerprint(store: Store, value: str, *, now: datetime) -> None:
    with store.session() as session:
        state = session.get(ScoringState, FINGERPRINT) or ScoringState(name=FINGERPRINT)
        state.value, state.updated_at = value, now
        session.add(state)


# (id, plan if still valid, score, fit, temperature, grade, product, status, updated_at,
#  nurtured_at, last_activity_at, product_scores as JSON text) of a keyset batch: a plan is valid while the row is unchanged
# since it was stored (score_plan_at = updated_at) and made with these rules (its prefix).
_PLANS = (
    "SELECT id, CASE WHEN score_plan_at = updated_at AND substr(score_plan, 1, {n}) = {m}"
    " THEN substr(score_plan, {n1}) END, score, fit_score, temperature,"
    " grade, product, status, updated_at, nurtured_at, last_activity_at, {scores}"
    " FROM lead WHERE id > {m} AND id <= {m} ORDER BY id LIMIT {m}"
)


def plans_query(store: Store, prefix: str) -> str:
    """The SQL of `read_plans` for plans that start with `prefix` ("<rules fingerprint>:")."""
    pg = store.dialect == "postgresql"
    scores = "product_scores::text" if pg else "product_scores"
    return _PLANS.format(n=len(prefix), n1=len(prefix) + 1, m="%s" if pg else "?", scores=scores)


def read_plans(
    store: Store, sql: str, prefix: str, *, after: int, upto: int, limit: int
) -> list[tuple[Any, ...]]:
    """The rows of `plans_query` with after < id <= upto, through the raw DBAPI cursor."""
    raw = store.engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute(sql, (prefix, after, upto, limit))
        rows: list[tuple[Any, ...]] = list(cur.fetchall())
        cur.close()
        raw.rollback()  # PostgreSQL: end the read transaction (SQLite: autocommit, a no-op)
        return rows
    finally:
        raw.close()


# --- announcements ------------------------------------------------------------------------------


def announceable(
    status: str, score: float, nurtured_at: Any, last_activity_at: Any, *, hot: float
) -> bool:
    """Whether a lead as read (datetimes as the driver gives them) is to be announced now."""
    if status != LeadStatus.NURTURING or score < hot:
        return False  # nearly every row stops here, before any object is built
    probe = Lead(
        email="",
        status=status,
        score=score,
        nurtured_at=parse_time(nurtured_at),
        last_activity_at=parse_time(last_activity_at),
    )
    return lifecycle.eligible_for_announcement(probe, hot_threshold=hot)


# --- the full path's write ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Change:
    row: Any  # the lead as read (read_leads)
    score: StoredScore
    plan: str | None = None  # lead.score_plan built from the same facts ("<fingerprint>:<JSON>")


@dataclass
class Written:
    changed: int = 0
    recorded: int = 0
    announced: int = 0


_COLUMNS = (
    "id",
    "score",
    "fit_score",
    "engagement_score",
    "temperature",
    "grade",
    "product",
    "reasons",
    "product_scores",
    "old_updated_at",
    "old_score",
    "old_temperature",
    "score_plan",
)
_PG_TEMP = """CREATE TEMP TABLE rescore_tmp (id integer PRIMARY KEY, score double precision,
 fit_score double precision, engagement_score double precision, temperature varchar(10),
 grade varchar(2), product varchar(100), reasons json, product_scores json,
 old_updated_at timestamptz,
 old_score double precision, old_temperature varchar(10), score_plan text) ON COMMIT DROP"""
_SQLITE_TEMP = """CREATE TEMP TABLE IF NOT EXISTS rescore_tmp (id INTEGER PRIMARY KEY, score REAL,
 fit_score REAL, engagement_score REAL, temperature TEXT, grade TEXT, product TEXT, reasons TEXT,
 product_scores TEXT, old_updated_at TEXT, old_score REAL, old_temperature TEXT, score_plan TEXT)"""
_UPDATE = sa.text("""UPDATE lead SET score = t.score, fit_score = t.fit_score,
 engagement_score = t.engagement_score, temperature = t.temperature, grade = t.grade,
 product = t.product, reasons = t.reasons, product_scores = t.product_scores,
 score_plan = t.score_plan,
 score_plan_at = lead.updated_at
 FROM rescore_tmp AS t
 WHERE lead.id = t.id AND lead.updated_at = t.old_updated_at AND lead.score = t.old_score
   AND lead.temperature = t.old_temperature
 RETURNING lead.id""")


def _record(c: Change) -> tuple[Any, ...]:
    r, row = c.score, c.row
    product = r.product or row.product  # a lead keeps its product line
    return (
        row.id,
        r.score,
        r.fit,
        r.engagement,
        r.temperature,
        r.grade,
        product,
        json.dumps(r.reasons),
        json.dumps(r.product_scores),
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
    """A score_changed activity when a person would see the change (the rule of history)."""
    old, new, temp = c.row.score, c.score.score, c.score.temperature
    if not visible_change(old, c.row.temperature, new, temp):
        return None  # sub-point change of a lead scored from its facts: stored, not news
    return score_changed(c.row.id, old, new, temp, now)


def _eligible(row: Any, score: float, *, hot_threshold: float) -> bool:
    return announceable(row.status, score, row.nurtured_at, row.last_activity_at, hot=hot_threshold)


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
            if _eligible(by_id[i].row, by_id[i].score.score, hot_threshold=hot_threshold)
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


# --- the decay-only path's write ----------------------------------------------------------------

_PG_DECAY_TEMP = (
    "CREATE TEMP TABLE decay_tmp (id integer PRIMARY KEY, score double precision,"
    " engagement_score double precision, temperature varchar(10), product_scores json,"
    " old_updated_at timestamptz, old_score double precision,"
    " old_temperature varchar(10)) ON COMMIT DROP"
)
_HISTORY_AT = A.c.occurred_at
_HISTORY_COLUMNS = "lead_id, kind, occurred_at, actor, detail, source, data"
_SQLITE_DECAY_UPDATE = (
    "UPDATE lead SET score = ?, engagement_score = ?, temperature = ?, product_scores = ?"
    " WHERE id = ?"
    " AND updated_at = ? AND score = ? AND temperature = ?"
)
_DECAY_UPDATE = (
    "UPDATE lead SET score = t.score, engagement_score = t.engagement_score,"
    " temperature = t.temperature, product_scores = t.product_scores FROM decay_tmp AS t WHERE lead.id = t.id"
    " AND lead.updated_at = t.old_updated_at AND lead.score = t.old_score"
    " AND lead.temperature = t.old_temperature RETURNING lead.id"
)


def write_decay(store: Store, rows: Sequence[tuple[Any, ...]], *, now: datetime) -> tuple[int, int]:
    """(id, score, engagement, temperature, product_scores JSON, updated_at, old score, old
    temperature) of rows whose whole-point score, temperature or product score changed with time
    alone, written where the lead is still as read, each with its score_changed activity where the
    score or temperature changed visibly. Returns (written, recorded)."""
    with store.engine.begin() as conn:
        dbapi = conn.connection.dbapi_connection
        assert dbapi is not None
        cur = dbapi.cursor()
        written: set[int]
        if conn.dialect.name == "postgresql":
            cur.execute(_PG_DECAY_TEMP)
            with cur.copy("COPY decay_tmp FROM STDIN") as copy:
                for rec in rows:
                    copy.write_row(rec)
            cur.execute(_DECAY_UPDATE)
            written = {i for (i,) in cur.fetchall()}
        else:
            # SQLite updates in place faster than it joins a temporary table; each row has to
            # say whether it was written (its history follows), so one statement a row.
            written = set()
            for i, s, e, t, ps, u, os, ot in rows:
                cur.execute(_SQLITE_DECAY_UPDATE, (s, e, t, ps, i, u, os, ot))
                if cur.rowcount:
                    written.add(i)
        # The history rows, through the driver: the same values SQLAlchemy would bind.
        bind = _HISTORY_AT.type.bind_processor(conn.dialect)
        when = bind(now) if bind else now
        dumps = json.JSONEncoder(separators=(", ", ": ")).encode  # json.dumps' output
        history = []
        for i, new, _, temp, _, _, old, old_temp in rows:
            if i in written and visible_change(old, old_temp, new, temp):
                row = score_changed(i, old, new, temp, now)
                history.append(
                    (
                        i,
                        row["kind"],
                        when,
                        row["actor"],
                        row["detail"],
                        row["source"],
                        dumps(row["data"]),
                    )
                )
        if conn.dialect.name == "postgresql" and history:
            with cur.copy(f"COPY activity ({_HISTORY_COLUMNS}) FROM STDIN") as copy:
                for rec in history:
                    copy.write_row(rec)
        elif history:
            cur.executemany(
                f"INSERT INTO activity ({_HISTORY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)", history
            )
        return len(written), len(history)
