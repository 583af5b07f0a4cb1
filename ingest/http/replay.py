"""Replay protection for signed webhooks: a one-time token seen within the signature window.

With a store the tokens are rows of the database (storage.limits.claim_once), so a request
replayed to another `serve` process on the same database is refused too; a claim is one atomic
statement, so of two processes given the same token at the same moment exactly one wins. The
tokens this process claimed are also kept in memory, to refuse a replay here without a query.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading

from storage import limits
from storage.db import Store
from storage.errors import LeadBotError

MAILGUN_MAX_AGE_S = 300  # Mailgun signs each POST afresh; an older signature is a replay


class TokenMemory:
    """Tokens seen within the signature window: the same signed token twice is a replay."""

    def __init__(
        self,
        store: Store | None = None,
        *,
        scope: str = "mailgun",
        ttl_s: float = 2 * MAILGUN_MAX_AGE_S,
        limit: int = 100_000,
    ) -> None:
        self.store = store
        self.scope = scope
        self.ttl_s = ttl_s
        self.limit = limit
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    async def claim(self, token: str, *, now: float) -> bool:
        """True (and the token is taken) when it was not seen within the window, by any process
        on the database. Raises StoreUnavailable when the database does not answer."""
        if self.seen(token, now=now):
            return False
        if self.store is not None:
            store = self.store

            def claim() -> bool:
                with store.session() as session:
                    return limits.claim_once(session, self.scope, token, now=now, ttl=self.ttl_s)

            if not await asyncio.to_thread(claim):
                return False
        return self._remember(token, now=now)

    async def release(self, token: str) -> None:
        """Forget a claim: what it guarded was not committed, so the sender may try again."""
        with self._lock:
            self._seen.pop(token, None)
        if self.store is not None:
            store = self.store

            def release() -> None:
                with store.session() as session:
                    limits.release(session, self.scope, token)

            with contextlib.suppress(LeadBotError):  # it then runs out with the window
                await asyncio.to_thread(release)

    def seen(self, token: str, *, now: float) -> bool:
        """Whether this process took `token` within the window (no query)."""
        with self._lock:
            expiry = self._seen.get(token)
            return expiry is not None and expiry > now

    def _remember(self, token: str, *, now: float) -> bool:
        """Keep the token; False when this process took it meanwhile."""
        with self._lock:
            expiry = self._seen.get(token)
            if expiry is not None and expiry > now:
                return False
            if len(self._seen) >= self.limit:
                self._seen = {t: e for t, e in self._seen.items() if e > now}
            if len(self._seen) < self.limit:
                self._seen[token] = now + self.ttl_s
            return True
