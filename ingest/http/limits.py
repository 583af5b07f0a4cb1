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


class SharedTake:
    """A take still to be made on the database, with this process's bucket that allowed it."""

    __slots__ = ("local", "take")

    def __init__(self, take: limits.Take, local: RateLimiter) -> None:
        self.take, self.local = take, local

    def refund(self) -> None:
        """Give back the token this process's bucket spent (the shared one said no)."""
        self.local.refund(self.take.client)


class Limits:
    """Token buckets by name (`form:<key>`, `events:<site>`, `clicks`) and client."""

    def __init__(self, store: Store | None, *, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock
        self._local: dict[tuple[str, float, float], RateLimiter] = {}
        self._pruned = 0.0
        self._batcher: Batcher[SharedTake, float] | None = (
            Batcher(self._take_many, name="limits", max_batch=256) if store is not None else None
        )

    async def take(self, bucket: str, client: str, *, rate_per_minute: float, burst: int) -> float:
        """0.0 when `client` may go on (a token is spent), else seconds until it may. Raises
        StoreUnavailable when the shared bucket cannot be read."""
        wait, shared = self.take_here(bucket, client, rate_per_minute=rate_per_minute, burst=burst)
        if wait > 0 or shared is None:
            return wait
        return await self.take_shared(shared)

    async def take_shared(self, shared: SharedTake) -> float:
        """The database's part of `take`, in a transaction of its own (with the other takes
        of the moment)."""
        assert self._batcher is not None
        try:
            return await self._batcher.submit(shared)
        except BaseException:
            shared.refund()
            raise

    def take_here(
        self, bucket: str, client: str, *, rate_per_minute: float, burst: int
    ) -> tuple[float, SharedTake | None]:
        """The fast path alone: this process's bucket (its wait), and the take still to be made
        on the database (None: refused here already, or no shared limits). The caller makes it
        with `take_in`, in a transaction of its own work."""
        key = (bucket, float(rate_per_minute), float(burst))
        local = self._local.get(key)
        if local is None:
            local = self._local[key] = RateLimiter(rate_per_minute=rate_per_minute, burst=burst)
        wait = local.take(client)
        if wait > 0 or self.store is None:
            return wait, None
        take = limits.Take(bucket, client, rate=rate_per_minute / 60.0, burst=burst)
        return 0.0, SharedTake(take, local)

    def take_in(self, session: limits.Connectable, takes: list[SharedTake]) -> list[float]:
        """The shared takes of `take_here`, in the caller's transaction: the wait of each."""
        now = self.clock()
        waits = limits.take_many(session, [t.take for t in takes], now=now)
        for t, wait in zip(takes, waits, strict=True):
            if wait > 0:  # the token this process spent was not spent after all
                t.refund()
        if now - self._pruned > PRUNE_EVERY_S:
            self._pruned = now
            limits.prune(session, now=now)
        return waits

    def _take_many(self, takes: list[SharedTake]) -> list[float]:
        assert self.store is not None
        with self.store.session() as session:
            return self.take_in(session, takes)

    def close(self) -> None:
        if self._batcher is not None:
            self._batcher.close()
