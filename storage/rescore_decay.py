"""Decay-only rescoring: each lead's stored plan scored at the new time, only changed rows written.

When the rules are those of the last run, the only thing that changed for a lead whose row is as it
was when its plan was stored (score_plan_at = updated_at) is time. Such a lead is rescored from
lead.score_plan alone (scoring.fastpath.plan: the rules that hit, their points, the timestamps they
count), read with the raw DBAPI cursor in keyset batches, without activities, texts or ORM objects.

Time alone changes what is stored only when a person would see it: the whole-point score or the
temperature (storage.scores.visible_change, the rule of history). Then score, engagement and
temperature are written here (COPY into a temporary table and one UPDATE … FROM … RETURNING per
batch on PostgreSQL, an UPDATE by primary key per row on SQLite, only where the row is still as
read), each with its `score_changed` activity, so every stored score change is in the history.
Sub-point decay drift is neither stored nor recorded: a periodic rescore writes a few rows, not
nearly all of them. The stored `reasons` are left as they are (see README "Scoring"). Leads
without a valid plan, leads that may have to be announced and the rare ones whose fit, grade or
product changed go through storage.rescore.FullPath, which rebuilds reasons, history, plan and
announcement from the facts.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from bot.jobs.gc import collector_paused
from storage import lifecycle
from storage.models import Activity, Lead, LeadStatus
from storage.rescore_write import parse_time
from storage.scores import score_changed, visible_change

if TYPE_CHECKING:
    from storage.rescore import FullPath

log = logging.getLogger("leadbot.rescore")
T = TypeVar("T")
# Leads handed to the full path per query (SQLite allows 32,766 bound parameters).
_REDO_CHUNK = 5_000
_SELECT = (
    "SELECT id, CASE WHEN score_plan_at = updated_at AND substr(score_plan, 1, {n}) = {m}"
    " THEN substr(score_plan, {n1}) END, score, fit_score, temperature,"
    " grade, product, status, updated_at, nurtured_at, last_activity_at"
    " FROM lead WHERE id > {m} AND id <= {m} ORDER BY id LIMIT {m}"
)
_PG_TEMP = (
    "CREATE TEMP TABLE decay_tmp (id integer PRIMARY KEY, score double precision,"
    " engagement_score double precision, temperature varchar(10),"
    " old_updated_at timestamptz, old_score double precision,"
    " old_temperature varchar(10)) ON COMMIT DROP"
)
_HISTORY_AT = Activity.__table__.c.occurred_at  # type: ignore[attr-defined]
_HISTORY_COLUMNS = "lead_id, kind, occurred_at, actor, detail, source, data"
_SQLITE_UPDATE = (
    "UPDATE lead SET score = ?, engagement_score = ?, temperature = ? WHERE id = ?"
    " AND updated_at = ? AND score = ? AND temperature = ?"
)
_UPDATE = (
    "UPDATE lead SET score = t.score, engagement_score = t.engagement_score,"
    " temperature = t.temperature FROM decay_tmp AS t WHERE lead.id = t.id"
    " AND lead.updated_at = t.old_updated_at AND lead.score = t.old_score"
    " AND lead.temperature = t.old_temperature RETURNING lead.id"
)


def _announceable(
    status: str, score: float, nurtured_at: Any, last_activity_at: Any, *, hot: float
) -> bool:
    if status != LeadStatus.NURTURING or score < hot:
        return False  # nearly every row stops here
    probe = Lead(
        email="",
        status=status,
        score=score,
        nurtured_at=parse_time(nurtured_at),
        last_activity_at=parse_time(last_activity_at),
    )
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
    """(id, score, engagement, temperature, updated_at, old score, old temperature) of rows whose
    whole-point score or temperature changed, written where the lead is still as read, each with
    its score_changed activity. Returns (written, recorded)."""
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
        else:
            # SQLite updates in place faster than it joins a temporary table; each row has to
            # say whether it was written (its history follows), so one statement a row.
            written = set()
            for i, s, e, t, u, os, ot in rows:
                cur.execute(_SQLITE_UPDATE, (s, e, t, i, u, os, ot))
                if cur.rowcount:
                    written.add(i)
        # The history rows, through the driver: the same values SQLAlchemy would bind.
        bind = _HISTORY_AT.type.bind_processor(conn.dialect)
        when = bind(run.now) if bind else run.now
        dumps = json.JSONEncoder(separators=(", ", ": ")).encode  # json.dumps' output
        history = []
        for i, new, _, temp, _, old, _ in rows:
            if i in written:
                row = score_changed(i, old, new, temp, run.now)
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


# Above any lead id (the largest 64-bit integer): "no upper bound".
LAST_ID = 2**63 - 1


def decay_batches(run: FullPath, *, batch: int, after: int = 0, upto: int = LAST_ID) -> None:
    """Rescore the leads with after < id <= upto: stored plans here, the rest through run (see
    the module docstring)."""
    with collector_paused():  # rows, history and SQL objects: collections over the plan cache
        _decay_batches(run, batch=batch, after=after, upto=upto)  # cost more than this work


def _decay_batches(run: FullPath, *, batch: int, after: int, upto: int) -> None:
    """Batches in a pipeline: the next batch is read (one thread) and the last one written
    (another) while this one is scored; the database works while Python does. Redoing leads
    through the full path (rare) waits for the write, so the main thread alone uses the scorer."""
    scorer, stats, now = run.scorer, run.stats, run.now
    assert run.fingerprint is not None
    hot = scorer.hot_threshold
    pg = run.store.dialect == "postgresql"
    mark = "%s" if pg else "?"
    prefix = f"{run.fingerprint}:"
    sql = _SELECT.format(n=len(prefix), n1=len(prefix) + 1, m=mark)
    score_plans = scorer.score_plans  # type: ignore[attr-defined]
    waited = {"read": 0.0, "score": 0.0, "write": 0.0}  # the main thread's time, added at the end
    pending: Future[tuple[int, int, int]] | None = None

    def settle() -> None:
        nonlocal pending
        if pending is not None:
            t = time.perf_counter()
            written, recorded, tried = pending.result()
            waited["write"] += time.perf_counter() - t
            stats.changed += written
            stats.recorded += recorded
            stats.conflicts += tried - written
            pending = None

    def write(drift: list[tuple[Any, ...]]) -> tuple[int, int, int]:
        return (*_write(run, drift), len(drift))

    with _executor(run, "rescore-read") as reader, _executor(run, "rescore-write") as writer:
        ahead = reader.submit(_read, run, sql, (prefix, after, upto, batch))
        while True:
            t0 = time.perf_counter()
            rows = ahead.result()
            if not rows:
                break
            ahead = reader.submit(_read, run, sql, (prefix, rows[-1][0], upto, batch))
            t1 = time.perf_counter()
            drift, redo, planned = _decide(rows, score_plans, now=now, hot=hot)
            t2 = time.perf_counter()
            settle()  # at most one write in flight: memory stays one batch deep
            if drift:
                pending = writer.submit(write, drift)
            stats.leads += len(rows)
            stats.planned += planned
            waited["read"] += t1 - t0
            waited["score"] += t2 - t1
            if redo:
                settle()
                redo.sort()
                for i in range(0, len(redo), _REDO_CHUNK):
                    run.leads(redo[i : i + _REDO_CHUNK])
        settle()
    for key, value in waited.items():
        stats.seconds[key] += value


class _Inline:
    """An executor that runs each call at once, in the caller's thread."""

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        done: Future[T] = Future()
        try:
            done.set_result(fn(*args))
        except Exception as e:  # handed to .result(), as a thread pool would
            done.set_exception(e)
        return done


@contextmanager
def _executor(run: FullPath, name: str) -> Iterator[ThreadPoolExecutor | _Inline]:
    if run.store.per_connection:  # each thread would see its own empty database
        yield _Inline()
        return
    with ThreadPoolExecutor(1, name) as pool:
        yield pool


def _decide(
    rows: list[tuple[Any, ...]], score_plans: Any, *, now: Any, hot: float
) -> tuple[list[tuple[Any, ...]], list[int], int]:
    """(rows to write, lead ids for the full path, leads scored from plans) of one batch."""
    planned = [row for row in rows if row[1] is not None]
    try:
        results = score_plans([row[1] for row in planned], now=now)
    except (ValueError, TypeError, LookupError):
        # A plan that does not parse (written by hand, or by a version with another layout)
        # must not stop every future run: the full path rewrites the batch's plans.
        log.warning(
            "unreadable stored plans in leads %d-%d: rescoring them from their activities",
            rows[0][0],
            rows[-1][0],
            exc_info=True,
        )
        planned, results = [], []
    redo = [row[0] for row in rows if row[1] is None or not planned]
    drift: list[tuple[Any, ...]] = []  # changed visibly by time alone: written here
    for row, r in zip(planned, results, strict=True):
        lead_id, _, score, fit, temp, grade, product, status, updated, nurtured, active = row
        s = r.score
        # Nothing a person would see: sub-point drift stays unwritten (module docstring).
        if (
            not visible_change(score, temp, s, r.temperature)
            and r.fit == fit
            and r.grade == grade
            and (r.product is None or r.product == product)
        ):
            if _announceable(status, s, nurtured, active, hot=hot):
                redo.append(lead_id)  # waiting to be announced: the full path does it
            continue
        if (
            r.fit != fit
            or r.grade != grade
            or (r.product is not None and r.product != product)
            or _announceable(status, s, nurtured, active, hot=hot)
        ):
            redo.append(lead_id)  # rare: reasons, history and announcement from the facts
        else:
            drift.append((lead_id, s, r.engagement, r.temperature, updated, score, temp))
    return drift, redo, len(planned)
