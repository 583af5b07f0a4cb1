"""The HTTP routes' own threads for reading what clients send, apart from the shared pool.

`asyncio.to_thread` runs on the event loop's default executor, a handful of threads shared with
`/healthz`, the Slack endpoint and every other route. Reading a form or an inbound payload is
CPU spent on a stranger's input: here it gets a few threads of its own, so six hostile posts
at once leave the health check and signed Slack commands answering. The caps on the input
(ingest.bodies) bound each read; the queue bound refuses a flood with 503 instead of letting it
pile up behind the threads.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from storage.errors import Refused

P = ParamSpec("P")
T = TypeVar("T")

THREADS = 4  # enough to overlap database waits; parsing holds the GIL anyway
MAX_WAITING = 64  # inputs queued behind the threads before new ones are refused
RETRY_AFTER_S = 5


class ReadPool:
    """A few threads for reading client input; more than `max_waiting` queued answer 503."""

    def __init__(self, *, threads: int = THREADS, max_waiting: int = MAX_WAITING) -> None:
        self.threads = threads
        self.max_waiting = max_waiting
        self._executor: ThreadPoolExecutor | None = None
        self._busy = 0  # only touched on the event loop

    async def run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """`fn(*args, **kwargs)` on the pool; Refused(503) when too much is waiting already."""
        if self._busy >= self.threads + self.max_waiting:
            raise Refused(
                503,
                "busy reading other submissions, retry later",
                headers={"Retry-After": str(RETRY_AFTER_S)},
            )
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.threads, thread_name_prefix="leadbot-read")
        self._busy += 1
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(
                self._executor, functools.partial(fn, *args, **kwargs)
            )
        finally:
            self._busy -= 1

    def shutdown(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
