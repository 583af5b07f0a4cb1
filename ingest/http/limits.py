"""Rate limits of the HTTP intake (form posts, tracking events, link clicks), shared by processes.

With a store the buckets are rows of the database (storage.limits), so several `serve` processes
on one database hold one limit between them; the takes of concurrent requests share one
transaction on a thread of their own (ingest.commit.Batcher), as their commits do. A bucket in
this process's memory answers first when it says no: it has counted only this process's requests,
so the database's bucket, which counts everyone's, is empty too. It never says yes on its own.
Without a store (LEADBOT_SHARED_LIMITS=false) the memory bucket is the limit, per process.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ingest.commit import Batcher
from ingest.forms.limits import RateLimiter
from storage import limits
from storage.db import Store

PRUNE_EVERY_S = 60.0  # full buckets and expired tokens forgotten this often


class Limits:
    """Token buckets by name (`form:<key>`, `events:<site>`, `clicks`) and client."""

    def __init__(self, store: Store | None, *, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock
        self._local: dict[tuple[str, float, float], RateLimiter] = {}
        self._pruned = 0.0
        self._batcher: Batcher[limits.Take, float] | None = (
            Batcher(self._take_many, name="limits", max_batch=256) if store is not None else None
        )

    async def take(self, bucket: str, client: str, *, rate_per_minute: float, burst: int) -> float:
        """0.0 when `client` may go on (a token is spent), else seconds until it may. Raises
        StoreUnavailable when the shared bucket cannot be read."""
        key = (bucket, float(rate_per_minute), float(burst))
        local = self._local.get(key)
        if local is None:
            local = self._local[key] = RateLimiter(rate_per_minute=rate_per_minute, burst=burst)
        wait = local.take(client)
        if wait > 0 or self._batcher is None:
            return wait
        try:
            wait = await self._batcher.submit(
                limits.Take(bucket, client, rate=rate_per_minute / 60.0, burst=burst)
            )
        except BaseException:
            local.refund(client)
            raise
        if wait > 0:  # the token this process spent was not spent after all
            local.refund(client)
        return wait

    def _take_many(self, takes: list[limits.Take]) -> list[float]:
        assert self.store is not None
        now = self.clock()
        with self.store.session() as session:
            waits = [limits.take(session, t, now=now) for t in takes]
            if now - self._pruned > PRUNE_EVERY_S:
                self._pruned = now
                limits.prune(session, now=now)
        return waits

    def close(self) -> None:
        if self._batcher is not None:
            self._batcher.close()
