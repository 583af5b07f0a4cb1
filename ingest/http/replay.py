"""Replay protection for signed webhooks: what was seen within the signature window."""

from __future__ import annotations

import threading

MAILGUN_MAX_AGE_S = 300  # Mailgun signs each POST afresh; an older signature is a replay


class TokenMemory:
    """Mailgun tokens seen within the signature window: the same signed token twice is a replay."""

    def __init__(self, *, ttl_s: float = 2 * MAILGUN_MAX_AGE_S, limit: int = 100_000) -> None:
        self.ttl_s = ttl_s
        self.limit = limit
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def seen(self, token: str, *, now: float) -> bool:
        with self._lock:
            expiry = self._seen.get(token)
            return expiry is not None and expiry > now

    def remember(self, token: str, *, now: float) -> None:
        with self._lock:
            if len(self._seen) >= self.limit:
                self._seen = {t: e for t, e in self._seen.items() if e > now}
            if len(self._seen) < self.limit:
                self._seen[token] = now + self.ttl_s
