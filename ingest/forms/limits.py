"""Per-client rate limiting: an in-memory token bucket per IP address.

The limit of one process; ingest.http.limits puts the shared one (in the database) behind it,
so that several `serve` processes hold one limit between them (docs/forms.md).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable


class RateLimiter:
    """`burst` posts at once, refilled at `rate_per_minute`; `take` says how long to wait."""

    def __init__(
        self,
        *,
        rate_per_minute: float,
        burst: int,
        max_clients: int = 50_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate_per_minute / 60.0
        self.burst = float(burst)
        self.max_clients = max_clients
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, client: str) -> float:
        """0.0 when `client` may post now (a token is spent), else seconds until it may."""
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.pop(client, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[client] = (tokens - 1.0, now)
                wait = 0.0
            else:
                self._buckets[client] = (tokens, now)
                wait = (1.0 - tokens) / self.rate
            # A flood of distinct addresses must not grow memory without bound: the least
            # recently seen clients are forgotten (they start again with a full bucket).
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
        return wait

    def refund(self, client: str) -> None:
        """Give back the token `take` spent (the shared limit said no after all)."""
        with self._lock:
            found = self._buckets.get(client)
            if found is not None:
                self._buckets[client] = (min(self.burst, found[0] + 1.0), found[1])


def retry_after(wait: float) -> str:
    return str(max(1, math.ceil(wait)))
