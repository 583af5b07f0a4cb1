"""Decay-only rescoring on every core: contiguous id ranges, one per worker process.

Scoring stored plans is CPU-bound Python, so one process uses one core. With many leads
(PARALLEL_MIN), the id range is cut into as many shards as there are workers and each worker runs
bot.jobs.decay on its shard, with its own connection, rules and plan cache; the shards' counts are
added up. The workers live in a pool kept per database, rules file and threshold, so a
long-running `serve` parses each lead's plan once, as the single-process path does. The rules are
loaded again in each worker (a RuleSet holds closures and does not pickle) and a pool serves one
rules fingerprint; a worker whose rules file changed before it read it refuses its shard and the
caller does the run itself.
"""

from __future__ import annotations

import logging
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import fields
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.jobs.decay import decay_batches
from bot.jobs.full_path import FullPath, RescoreStats, rules_fingerprint
from ingest.worker import Parent, exit_with_parent, this_parent
from scoring import load_rules
from scoring.types import Scorer
from storage.db import Store
from storage.errors import RulesChanged

log = logging.getLogger("leadbot.rescore")

PARALLEL_MIN = 50_000  # leads (by id span) below which one process is faster than starting more
_POOLS: dict[tuple[str, str, float, int, str], ProcessPoolExecutor] = {}
_WORKER: dict[str, Any] = {}  # in a worker process: its store and rules, built once


def _init(parent: Parent, url: str, rules_path: str, hot_threshold: float) -> None:
    exit_with_parent(parent)  # never outlive serve (or the CLI) holding the database open
    _WORKER["store"] = Store(url)
    _WORKER["scorer"] = scorer = load_rules(rules_path, hot_threshold=hot_threshold)
    _WORKER["fingerprint"] = rules_fingerprint(scorer)  # of the file as it was just read


def _shard(fingerprint: str, now: datetime, after: int, upto: int, batch: int) -> RescoreStats:
    scorer = _WORKER["scorer"]
    if _WORKER["fingerprint"] != fingerprint:
        raise RulesChanged("the rules file changed while rescoring")
    stats = RescoreStats()
    run = FullPath(_WORKER["store"], scorer, now=now, fingerprint=fingerprint, stats=stats)
    decay_batches(run, batch=batch, after=after, upto=upto)
    return stats


def usable(store: Store, scorer: Scorer, workers: int) -> bool:
    """Whether this run can go to worker processes: rules from a file, a database every process
    can open (not in-memory SQLite), and more than one worker."""
    return workers > 1 and not store.per_connection and getattr(scorer, "path", None) is not None


def _pool(store: Store, scorer: Scorer, workers: int, fingerprint: str) -> ProcessPoolExecutor:
    url = store.engine.url.render_as_string(hide_password=False)
    path = str(Path(scorer.path))  # type: ignore[attr-defined]
    key = (url, path, float(scorer.hot_threshold), workers, fingerprint)
    pool = _POOLS.get(key)
    if pool is None:
        for old in [k for k in _POOLS if k[:2] == key[:2]]:  # workers with other rules: retire
            _POOLS.pop(old).shutdown(wait=False, cancel_futures=True)
        pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),  # never fork a process with threads
            initializer=_init,
            initargs=(this_parent(), url, key[1], key[2]),
        )
        _POOLS[key] = pool
    return pool


def shutdown() -> None:
    """Stop every pool's workers (serve does this when it stops)."""
    while _POOLS:
        _, pool = _POOLS.popitem()
        pool.shutdown(wait=True, cancel_futures=True)


def decay_in_workers(
    store: Store,
    scorer: Scorer,
    stats: RescoreStats,
    *,
    fingerprint: str,
    now: datetime,
    batch: int,
    workers: int,
    after: int,
    upto: int,
) -> bool:
    """Rescore leads after < id <= upto in `workers` processes, adding their counts to `stats`.

    False when the workers could not take the run (rules changed under them, a worker died):
    nothing is counted then, and the caller runs it in this process (a shard that was already
    done finds its leads unchanged and writes nothing twice).
    """
    step = -(-(upto - after) // workers)
    bounds = [(lo, min(lo + step, upto)) for lo in range(after, upto, step)]
    pool = _pool(store, scorer, workers, fingerprint)
    try:
        futures = [pool.submit(_shard, fingerprint, now, lo, hi, batch) for lo, hi in bounds]
        results = [f.result() for f in futures]
    except (RulesChanged, BrokenProcessPool) as e:
        log.warning("rescoring in worker processes failed (%s); rescoring in this process", e)
        shutdown()
        return False
    for part in results:
        for f in fields(part):
            if f.name == "seconds":
                for key, value in part.seconds.items():  # summed over the workers
                    stats.seconds[key] += value
            elif f.name not in ("full",):
                setattr(stats, f.name, getattr(stats, f.name) + getattr(part, f.name))
    return True
