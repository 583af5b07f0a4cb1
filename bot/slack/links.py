"""Links to posted messages (chat.getPermalink), asked for together and remembered.

`/lead` answers inside Slack's 3-second acknowledgement, so the links of its results are asked
for in parallel within a budget; a result whose link comes too late is shown without one. A
message's permalink never changes, so an answer is kept (a miss is not).
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor, wait

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

log = logging.getLogger("leadbot.slack.links")
BUDGET_SECONDS = 1.0
WORKERS = 4
MAX_ENTRIES = 10_000

Message = tuple[str, str]  # (channel, ts)


class Permalinks:
    def __init__(self, client: WebClient, *, workers: int = WORKERS) -> None:
        self.client = client
        self._cache: dict[Message, str] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="permalink")

    def many(
        self, messages: list[Message], *, budget: float = BUDGET_SECONDS
    ) -> dict[Message, str]:
        """The permalinks of `messages` that Slack gave within `budget` seconds."""
        with self._lock:
            found = {m: self._cache[m] for m in messages if m in self._cache}
        missing = list(dict.fromkeys(m for m in messages if m not in found))
        futures = {self._pool.submit(self._fetch, m): m for m in missing}
        done, _ = wait(futures, timeout=budget)
        for future in done:
            link = future.result()
            if link:
                found[futures[future]] = link
        return found

    def _fetch(self, message: Message) -> str | None:
        channel, ts = message
        try:
            resp = self.client.chat_getPermalink(channel=channel, message_ts=ts)
        except (SlackApiError, SlackClientError, OSError) as e:
            log.warning("chat.getPermalink failed for %s/%s: %s", channel, ts, e)
            return None
        link = str(resp.get("permalink") or "") or None
        if link:
            with self._lock:
                if len(self._cache) >= MAX_ENTRIES:
                    self._cache.clear()
                self._cache[message] = link
        return link
