"""Reps as Slack users: an email address to a user ID (users.lookupByEmail), remembered.

A card names the rep who forwarded the inquiry; the lookup costs a Web API call (Tier 4), so the
answer is kept for an hour and a miss for ten minutes. A lookup that fails (Slack busy or down)
answers None and is not remembered: the card shows the address and is not held back for it.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

log = logging.getLogger("leadbot.slack.people")
FOUND_SECONDS = 3600.0
MISSING_SECONDS = 600.0
MAX_ENTRIES = 10_000
_ADDRESS = re.compile(r"[^@\s<>|]+@[^@\s<>|]+\.[^@\s<>|.]+")  # worth asking Slack about


class People:
    def __init__(self, client: WebClient, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.clock = clock
        self._cache: dict[str, tuple[float, str | None]] = {}
        self._lock = threading.Lock()

    def user_id(self, email: str | None) -> str | None:
        """The Slack user with this address, or None (nobody has it, or Slack did not answer)."""
        key = (email or "").strip().lower()
        if not _ADDRESS.fullmatch(key):
            return None
        now = self.clock()
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and now - hit[0] < (FOUND_SECONDS if hit[1] else MISSING_SECONDS):
            return hit[1]
        try:
            resp = self.client.users_lookupByEmail(email=key)
            user = str((resp.get("user") or {}).get("id") or "") or None
        except SlackApiError as e:
            error = e.response.get("error") if isinstance(e.response.data, dict) else None
            if error != "users_not_found":
                log.warning("users.lookupByEmail failed: %s", error or e)
                return None
            user = None
        except (SlackClientError, OSError) as e:
            log.warning("users.lookupByEmail failed: %s", e)
            return None
        with self._lock:
            if len(self._cache) >= MAX_ENTRIES:
                self._cache.clear()
            self._cache[key] = (now, user)
        return user
