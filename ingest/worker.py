"""Processing after the answer: a queue that batches accepted inputs for a worker thread or process.

Receivers put raw ids in as they commit them; one consumer takes whatever has queued up and hands
it to `Pipeline.process_batch` in an executor, so a burst costs one transaction, and parsing (which
can take seconds on a hostile message) never runs on the event loop. With a process pool the work
also runs on another core than the SMTP and HTTP servers.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import Any

from ingest.pipeline import Outcome, Pipeline
from storage.errors import StoreUnavailable

log = logging.getLogger("leadbot.worker")

BatchRunner = Callable[[list[int]], list[Outcome]]


def batch_length(sizes: Iterable[int], max_items: int, max_bytes: int) -> int:
    """How many of the oldest inputs (of these sizes) make a batch: at most `max_items`, and
    within `max_bytes` except that the first always goes."""
    total, n = 0, 0
    for size in sizes:
        total += size
        if n == max_items or (n and total > max_bytes):
            break
        n += 1
    return n


class BatchQueue:
    """Raw ids in, processed in batches of up to `max_batch` inputs and (after the first)
    `max_bytes` of raw input, `concurrency` batches at a time.

    Bigger batches spread a transaction's fixed cost (a dozen statements, a commit, on SQLite a
    write-lock handover) over more inputs; smaller ones keep the time a receiver's commit may wait
    behind a batch on SQLite's single write lock short. The byte cap bounds a worker's memory when
    large messages arrive together.
    """

    def __init__(
        self,
        run_batch: BatchRunner,
        *,
        executor: Executor | None = None,
        max_batch: int = 20,
        max_bytes: int = 64 * 2**20,
        concurrency: int = 1,
        linger: float = 0.0,
    ) -> None:
        self.run_batch = run_batch
        self.executor = executor
        self.max_batch = max_batch
        self.max_bytes = max_bytes
        self.concurrency = concurrency
        self.linger = linger
        self._pending: list[tuple[int, int]] = []  # (raw id, size in bytes)
        self._wakeup: asyncio.Event | None = None
        self._idle: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    def put(self, raw_id: int, size: int = 0) -> None:
        """Called on the event loop right after the raw input (of `size` bytes) was committed."""
        if self._task is None:
            self._wakeup, self._idle = asyncio.Event(), asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(
                self._consume(), name="ingest-batches"
            )
        assert self._wakeup is not None and self._idle is not None
        self._pending.append((raw_id, size))
        self._idle.clear()
        self._wakeup.set()

    async def _consume(self) -> None:
        assert self._wakeup is not None and self._idle is not None
        inflight: set[asyncio.Task[None]] = set()
        while True:
            self._wakeup.clear()
            if (
                self.linger
                and inflight
                and 0 < len(self._pending) < self.max_batch
                and (sum(size for _, size in self._pending) < self.max_bytes)
            ):
                # A batch is already running: let a short queue grow for a moment, so one
                # transaction records several inputs instead of one each (fewer lock handovers
                # with the receivers' commits on SQLite). Adds at most `linger` to processing,
                # never to the SMTP answer.
                await asyncio.sleep(self.linger)
            while self._pending and len(inflight) < self.concurrency:
                inflight.add(asyncio.create_task(self._run(self._take())))
            if not inflight:
                self._idle.set()
                await self._wakeup.wait()
                continue
            woken = asyncio.create_task(self._wakeup.wait())
            done, _ = await asyncio.wait({*inflight, woken}, return_when=asyncio.FIRST_COMPLETED)
            inflight -= done
            if woken not in done:
                woken.cancel()

    def _take(self) -> list[int]:
        """The oldest pending inputs, up to `max_batch` and (after the first) `max_bytes`."""
        n = batch_length((size for _, size in self._pending), self.max_batch, self.max_bytes)
        batch = [raw_id for raw_id, _ in self._pending[:n]]
        del self._pending[:n]
        return batch

    async def _run(self, batch: list[int]) -> None:
        try:
            await asyncio.get_running_loop().run_in_executor(self.executor, self.run_batch, batch)
        except StoreUnavailable as e:
            # Left pending in the store: the periodic sweep (and the next start) finishes them.
            log.warning("%d accepted input(s) left pending: %s", len(batch), e)
        except Exception:
            log.exception("processing %d accepted input(s) failed; they stay pending", len(batch))

    async def drain(self) -> None:
        """Wait until everything put so far has been processed."""
        if self._idle is not None and (self._pending or not self._idle.is_set()):
            await self._idle.wait()

    async def close(self) -> None:
        await self.drain()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None


# A worker process builds its own pipeline once (spawned processes share nothing with the parent).
_worker_pipeline: Pipeline | None = None


# How a worker process builds its pipeline: a module-level function (it is pickled to the
# spawned process) and its arguments, e.g. bot.runtime.build_pipeline and the Settings.
PipelineFactory = Callable[..., Pipeline]


def init_worker_process(factory: PipelineFactory, *args: Any) -> None:
    global _worker_pipeline
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s[worker]: %(message)s"
    )
    _worker_pipeline = factory(*args)
    freeze_startup_objects()


def init_guarded_worker(parent: Parent, factory: PipelineFactory, *args: Any) -> None:
    """A pool initializer: exit with the parent (`exit_with_parent`), then build the pipeline."""
    exit_with_parent(parent)
    init_worker_process(factory, *args)


# --- a worker never outlives the process that started it ----------------------------------------

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
PARENT_POLL_S = 0.5  # how often a worker checks that its parent is still there


Parent = tuple[int, bool]  # the parent's pid, and whether PR_SET_PDEATHSIG may be used


def this_parent() -> Parent:
    """What a worker about to be started here needs to know to exit when this process dies.

    PR_SET_PDEATHSIG fires when the *thread* that started the child ends, not the process: only
    children started by the main thread (whose end is the process's) may use it."""
    return os.getpid(), threading.current_thread() is threading.main_thread()


def exit_with_parent(parent: Parent) -> None:
    """In a worker process: exit at once when the parent dies, even killed with SIGKILL (which
    runs no clean-up that could stop its workers), instead of living on, reparented to init,
    with the database open.

    On Linux the kernel sends SIGKILL on the parent's death (prctl PR_SET_PDEATHSIG), which works
    even while this process is deep in a parse that holds the GIL; everywhere a thread also
    checks the parent's pid twice a second.
    """
    pid, pdeathsig = parent
    if pdeathsig and sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # no libc to speak of: the thread below still works
            pass
    if os.getppid() != pid:  # the parent died before the prctl took effect
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(pid,), name="parent-watch", daemon=True).start()


def _watch_parent(pid: int) -> None:
    while os.getppid() == pid:
        time.sleep(PARENT_POLL_S)
    log.warning("parent process %d is gone: this worker exits", pid)
    os._exit(1)  # no clean-up: the open transaction is the database's to roll back


def freeze_startup_objects() -> None:
    """Move what start-up made (modules, rules, the pipeline) out of the cyclic GC's sight.

    Full collections would otherwise walk those objects again and again: about 6 % of a worker's
    time per message (0.045 of 0.75 ms), and pauses inside SQLite's write lock.
    """
    gc.collect()
    gc.freeze()


def process_in_worker(raw_ids: list[int]) -> list[Outcome]:
    assert _worker_pipeline is not None, "init_worker_process did not run"
    return _worker_pipeline.process_batch(raw_ids)


LINGER = 0.05  # seconds a short queue may wait while a batch is running (BatchQueue)
# Inputs per batch in worker processes. bench/ingest.py on SQLite, 2 cores (msg/s, 1 and 8
# connections): 20 -> about 650 / 700, 40 -> 720 / 800, 100 -> 870 / 970; a batch of 100
# ordinary inquiries holds the write lock for about 40 ms.
MAX_BATCH = 100


def process_pool_queue(
    factory: PipelineFactory, *args: Any, workers: int = 2
) -> tuple[Executor, BatchQueue]:
    """A queue whose batches run in `workers` spawned processes (how `leadbot serve` runs it),
    each with the pipeline `factory(*args)` builds.

    Parsing and recording are CPU-bound Python: separate processes put them on other cores than
    the event loop answering SMTP and HTTP, and a hostile message stalls only its own worker.
    """
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),  # never fork a process that has threads
        initializer=init_guarded_worker,
        initargs=(this_parent(), factory, *args),
    )
    # Start the workers now (spawning and importing take a second or two), not on the first mail.
    for _ in range(workers):
        pool.submit(_ready)
    queue = BatchQueue(
        process_in_worker,
        executor=pool,
        max_batch=MAX_BATCH,
        concurrency=workers,
        linger=LINGER,
    )
    return pool, queue


def _ready() -> bool:
    return _worker_pipeline is not None
