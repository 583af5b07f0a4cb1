"""Decay-only rescoring: each lead's stored plan scored at the new time, only changed rows written.

When the rules are those of the last run, the only thing that changed for a lead whose row is as it
was when its plan was stored (score_plan_at = updated_at) is time. Such a lead is rescored from
lead.score_plan alone (the scoring fast path: the rules that hit, their points, the timestamps they
count), read in keyset batches without activities, texts or ORM objects (storage.rescore).

Time alone changes what is stored only when a person would see it: the whole-point score or the
temperature (storage.scores.visible_change, the rule of history), or a product's whole-point score
(lead.product_scores, read with the plan). Then score, engagement, temperature and product scores
are written (storage.rescore.write_decay), with a `score_changed` activity where the score or
temperature moved, so every visible score change is in the history. Sub-point decay drift is neither stored nor
recorded: a periodic rescore writes a few rows, not nearly all of them. The stored `reasons` are
left as they are (docs/scoring.md). Leads without a valid plan, leads that may have to be
announced and the rare ones whose fit, grade or product changed go through
bot.jobs.full_path.FullPath, which rebuilds reasons, history, plan and announcement from the facts.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

from bot.jobs.full_path import FullPath
from bot.jobs.gc import collector_paused
from storage import rescore as sql
from storage.scores import visible_change

log = logging.getLogger("leadbot.rescore")
T = TypeVar("T")
# Leads handed to the full path per query (SQLite allows 32,766 bound parameters).
_REDO_CHUNK = 5_000


def decay_batches(run: FullPath, *, batch: int, after: int = 0, upto: int = sql.LAST_ID) -> None:
    """Rescore the leads with after < id <= upto: stored plans here, the rest through run (see
    the module docstring)."""
    with collector_paused():  # rows, history and SQL objects: collections over the plan cache
        _decay_batches(run, batch=batch, after=after, upto=upto)  # cost more than this work


def _decay_batches(run: FullPath, *, batch: int, after: int, upto: int) -> None:
    """Batches in a pipeline: the next batch is read (one thread) and the last one written
    (another) while this one is scored; the database works while Python does. Redoing leads
    through the full path (rare) waits for the write, so the main thread alone uses the scorer."""
    scorer, stats, now, store = run.scorer, run.stats, run.now, run.store
    assert run.fingerprint is not None
    hot = scorer.hot_threshold
    prefix = f"{run.fingerprint}:"
    query = sql.plans_query(store, prefix)
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
        return (*sql.write_decay(store, drift, now=now), len(drift))

    def read(after: int) -> list[tuple[Any, ...]]:
        return sql.read_plans(store, query, prefix, after=after, upto=upto, limit=batch)

    with _executor(run, "rescore-read") as reader, _executor(run, "rescore-write") as writer:
        ahead = reader.submit(read, after)
        while True:
            t0 = time.perf_counter()
            rows = ahead.result()
            if not rows:
                break
            ahead = reader.submit(read, rows[-1][0])
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
        lead_id, _, score, fit, temp, grade, product, status, updated, nurtured, active, ps = row
        s = r.score
        # Nothing a person would see: sub-point drift stays unwritten (module docstring).
        if (
            not visible_change(score, temp, s, r.temperature)
            and not _products_moved(r.product_scores, ps)
            and r.fit == fit
            and r.grade == grade
            and (r.product is None or r.product == product)
        ):
            if sql.announceable(status, s, nurtured, active, hot=hot):
                redo.append(lead_id)  # waiting to be announced: the full path does it
            continue
        if (
            r.fit != fit
            or r.grade != grade
            or (r.product is not None and r.product != product)
            or sql.announceable(status, s, nurtured, active, hot=hot)
        ):
            redo.append(lead_id)  # rare: reasons, history and announcement from the facts
        else:
            scores = json.dumps(dict(r.product_scores))
            drift.append((lead_id, s, r.engagement, r.temperature, scores, updated, score, temp))
    return drift, redo, len(planned)


def _products_moved(scores: tuple[tuple[str, float], ...], stored: Any) -> bool:
    """Whether a product's whole-point score moved from what the lead holds (JSON text as read).
    With one product in play its score is the lead's score, which visible_change already saw."""
    if len(scores) < 2:
        return False
    try:
        held = json.loads(stored) if isinstance(stored, str) else stored
    except ValueError:
        return True
    if not isinstance(held, dict):
        return True  # not scored since product scores were stored: write them
    return any(
        not isinstance(held.get(name), int | float) or round(held[name]) != round(value)
        for name, value in scores
    )
