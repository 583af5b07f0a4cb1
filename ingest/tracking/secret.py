"""The server's signing key: LEADBOT_SECRET_KEY, or one made once and kept in the database."""

from __future__ import annotations

import threading

from storage.db import Store
from storage.tracking import server_secret


class ServerSecret:
    """The HMAC key of tracked links, read once per process (the database's, if none is set)."""

    def __init__(self, store: Store, configured: str | None = None) -> None:
        self.store = store
        self._key = configured.encode() if configured else None
        self._lock = threading.Lock()

    def key(self) -> bytes:
        """Raises StoreUnavailable when it has to be read and the database does not answer."""
        if self._key is None:
            with self._lock:
                if self._key is None:
                    with self.store.session() as session:
                        self._key = server_secret(session)
        return self._key
