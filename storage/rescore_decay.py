"""Decay-only rescoring: each lead's stored plan scored at the new time, only changed rows written.

When the rules are those of the last run, the only thing that changed for a lead whose row is as it
was when its plan was stored (score_plan_at = updated_at) is time. Such a lead is rescored from
lead.score_plan alone (scoring.plan: the rules that hit, their points, the timestamps they count),
read with the raw DBAPI cursor in keyset batches, without activities, texts or ORM objects.

Score, engagement and temperature of the changed rows are written here (one COPY or executemany
into a temporary table and one UPDATE … FROM … RETURNING per batch, only where the row is still as
read), with a `score_changed` activity where the rounded score or the temperature changed. The
stored `reasons` are left as they are (see README "Scoring"). Leads without a valid plan, leads
that may have to be announced and the rare ones whose fit, grade or product changed go through
storage.rescore.FullPath, which rebuilds reasons, history, plan and announcement from the facts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from storage import lifecycle
from storage.models import Activity, Lead, LeadStatus
from storage.rescore_write import parse_time

if TYPE_CHECKING:
    from storage.rescore import FullPath

log = logging.getLogger("leadbot.rescore")
# Leads handed to the full path per query (SQLite allows 32,766 bound parameters).
_REDO_CHUNK = 5_000
_SELECT = ("SELECT id, CASE WHEN score_plan_at = updated_at AND substr(score_plan, 1, {n}) = {m}"
           " THEN substr(score_plan, {n1}) END, score, fit_score, engagement_score, temperature,"
           " grade, product, status, updated_at, nurtured_at, last_activity_at"
           " FROM lead WHERE id > {m} ORDER BY id LIMIT {m}")
_PG_TEMP = ("CREATE TEMP TABLE decay_tmp (id integer PRIMARY KEY, score double precision,"
            " engagement_score double precision, temperature varchar(10),"
            " old_updated_at timestamptz, old_score double precision,"
            " old_temperature varchar(10)) ON COMMIT DROP")
_SQLITE_UPDATE = ("UPDATE lead SET score = ?, engagement_score = ?, temperature = ? WHERE id = ?"
                  " AND updated_at = ? AND score = ? AND temperature = ?")
_UPDATE = ("UPDATE lead SET score = t.score, engagement_score = t.engagement_score,"
           " temperature = t.temperature FROM decay_tmp AS t WHERE lead.id = t.id"
           " AND lead.updated_at = t.old_updated_at AND lead.score = t.old_score"
           " AND lead.temperature = t.old_temperature RETURNING lead.id")


def _announceable(status: str, score: float, nurtured_at: Any, last_activity_at: Any, *,
                  hot: float) -> bool:
    if status != LeadStatus.NURTURING or score < hot:
        return False  # nearly every row stops here
    probe = Lead(email="", status=status, score=score, nurtured_at=parse_time(nurtured_at),
                 last_activity_at=parse_time(last_activity_at))
    return lifecycle.eligible_for_announcement(probe, hot_threshold=hot)


def _read(run: FullPath, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    raw = run.store.engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute(sql, params)
        rows: list[tuple[Any, ...]] = list(cur.fetchall())
        cur.close()
        raw.rollback()  # PostgreSQL: end the read transaction (SQLite: autocommit, a no-op)
        return rows
    finally:
        raw.close()


def _write(run: FullPath, rows: Sequence[tuple[Any, ...]]) -> tuple[int, int]:
    """(id, score, engagement, temperature, updated_at, old score, old temperature) of changed
    rows, written where the lead is still as read; a score_changed activity where a person would
    see the change (storage.scores.apply_score's rule). Returns (written, recorded)."""
    with run.store.engine.begin() as conn:
        dbapi = conn.connection.dbapi_connection
        assert dbapi is not None
        cur = dbapi.cursor()
        written: set[int]
        if conn.dialect.name == "postgresql":
            cur.execute(_PG_TEMP)
            with cur.copy("COPY decay_tmp FROM STDIN") as copy:
                for rec in rows:
                    copy.write_row(rec)
            cur.execute(_UPDATE)
            written = {i for (i,) in cur.fetchall()}
            count = len(written)
        else:
            # SQLite updates in place faster than it joins a temporary table; only the rows
            # that need history have to say whether they were written.
            plain = [(s, e, t, i, u, os, ot) for i, s, e, t, u, os, ot in rows
                     if round(s) == round(os) and t == ot]
            cur.executemany(_SQLITE_UPDATE, plain)
            count = cur.rowcount
            written = set()
            for i, s, e, t, u, os, ot in rows:
                if round(s) != round(os) or t != ot:
                    cur.execute(_SQLITE_UPDATE, (s, e, t, i, u, os, ot))
                    if cur.rowcount:
                        written.add(i)
            count += len(written)
        now = run.now
        history = [{"lead_id": i, "kind": "score_changed", "occurred_at": now,
                    "actor": "leadbot", "detail": f"score {old:g} → {new:g} ({temp})",
                    "source": "", "raw_id": None, "dedup_key": None,
                    "data": {"from": old, "to": new, "temperature": temp}}
                   for i, new, _, temp, _, old, old_temp in rows
                   if i in written and (round(old) != round(new) or old_temp != temp)]
        if history:
            conn.execute(sa.insert(Activity.__table__), history)  # type: ignore[attr-defined]
        return count, len(history)


def decay_batches(run: FullPath, *, batch: int) -> None:
    """Rescore every lead: stored plans here, the rest through run (see the module docstring)."""
    scorer, stats, now = run.scorer, run.stats, run.now
    assert run.fingerprint is not None
    hot = scorer.hot_threshold
    pg = run.store.dialect == "postgresql"
    mark = "%s" if pg else "?"
    prefix = f"{run.fingerprint}:"
    sql = _SELECT.format(n=len(prefix), n1=len(prefix) + 1, m=mark)
    score_plans = scorer.score_plans  # type: ignore[attr-defined]
    last_id = 0
    while True:
        t0 = time.perf_counter()
        rows = _read(run, sql, (prefix, last_id, batch))
        if not rows:
            return
        t1 = time.perf_counter()
        planned = [row for row in rows if row[1] is not None]
        try:
            results = score_plans([row[1] for row in planned], now=now)
        except (ValueError, TypeError, LookupError):
            # A plan that does not parse (written by hand, or by a version with another layout)
            # must not stop every future run: the full path rewrites the batch's plans.
            log.warning("unreadable stored plans in leads %d-%d: rescoring them from their"
                        " activities", rows[0][0], rows[-1][0], exc_info=True)
            planned, results = [], []
        redo = [row[0] for row in rows if row[1] is None or not planned]
        drift: list[tuple[Any, ...]] = []  # changed by time alone: written here
        for row, r in zip(planned, results, strict=True):
            lead_id, _, score, fit, engagement, temp, grade, product, status, updated, nurtured, \
                active = row
            s = r.score
            if s == score and r.engagement == engagement and r.temperature == temp \
                    and r.fit == fit and r.grade == grade \
                    and (r.product is None or r.product == product):
                if _announceable(status, s, nurtured, active, hot=hot):
                    redo.append(lead_id)  # waiting to be announced: the full path does it
                continue
            if (r.fit != fit or r.grade != grade
                    or (r.product is not None and r.product != product)
                    or _announceable(status, s, nurtured, active, hot=hot)):
                redo.append(lead_id)  # rare: reasons, history and announcement from the facts
            else:
                drift.append((lead_id, s, r.engagement, r.temperature, updated, score, temp))
        t2 = time.perf_counter()
        written, recorded = _write(run, drift) if drift else (0, 0)
        stats.seconds["read"] += t1 - t0
        stats.seconds["score"] += t2 - t1
        stats.seconds["write"] += time.perf_counter() - t2
        stats.leads += len(rows)
        stats.planned += len(planned)
        stats.changed += written
        stats.recorded += recorded
        stats.conflicts += len(drift) - written
        redo.sort()
        for i in range(0, len(redo), _REDO_CHUNK):
            run.leads(redo[i:i + _REDO_CHUNK])
        last_id = rows[-1][0]
