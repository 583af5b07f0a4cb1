"""Who may act on leads in Slack: configured users, a user group or channel members, and managers.

Group and channel memberships come from the Web API and are cached briefly, so a burst of clicks
costs one call, and someone removed from the group loses access within a minute.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.config import Settings

log = logging.getLogger("leadbot.slack.access")
CACHE_SECONDS = 60.0


class Access:
    def __init__(
        self,
        settings: Settings,
        client: WebClient,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.client = client
        self.clock = clock
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}
        self._lock = threading.Lock()

    @property
    def restricted(self) -> bool:
        s = self.settings
        return bool(
            s.slack_allowed_users or s.slack_allowed_usergroup or s.slack_allow_channel_members
        )

    def may_act(self, user: str, *, channel: str | None = None) -> bool:
        """Nothing configured means the whole workspace may act (docs/slack.md says so)."""
        s = self.settings
        if not self.restricted or user in s.slack_allowed_users or self.is_manager(user):
            return True
        if s.slack_allowed_usergroup and user in self._group(s.slack_allowed_usergroup):
            return True
        if s.slack_allow_channel_members:
            for ch in {c for c in (channel, s.hot_channel) if c}:
                if user in self._channel(ch):
                    return True
        return False

    def is_manager(self, user: str) -> bool:
        s = self.settings
        if user in s.slack_managers:
            return True
        return bool(s.slack_manager_group) and user in self._group(s.slack_manager_group or "")

    def managers(self, *, limit: int = 20) -> list[str]:
        """Who is told what no rep can be: the configured managers and the manager group."""
        s = self.settings
        found = set(s.slack_managers)
        if s.slack_manager_group:
            found |= self._group(s.slack_manager_group)
        return sorted(found)[:limit]

    def _group(self, group: str) -> frozenset[str]:
        return self._cached(f"group:{group}", lambda: self._fetch_group(group))

    def _channel(self, channel: str) -> frozenset[str]:
        return self._cached(f"channel:{channel}", lambda: self._fetch_channel(channel))

    def _cached(self, key: str, fetch: Callable[[], frozenset[str]]) -> frozenset[str]:
        now = self.clock()
        with self._lock:
            hit = self._cache.get(key)
            if hit and now - hit[0] < CACHE_SECONDS:
                return hit[1]
        try:
            members = fetch()
        except (SlackApiError, SlackClientError, OSError) as e:
            # Fail closed, but keep a recent answer rather than lock everyone out on a hiccup.
            log.warning("could not read %s: %s", key, e)
            return hit[1] if hit else frozenset()
        with self._lock:
            self._cache[key] = (now, members)
        return members

    def _fetch_group(self, group: str) -> frozenset[str]:
        resp = self.client.usergroups_users_list(usergroup=group)
        return frozenset(resp.get("users") or [])

    def _fetch_channel(self, channel: str) -> frozenset[str]:
        members: set[str] = set()
        cursor: str | None = None
        for _ in range(50):  # 50 pages of 1000: a generous cap on a runaway cursor
            resp = self.client.conversations_members(channel=channel, limit=1000, cursor=cursor)
            members.update(resp.get("members") or [])
            cursor = (resp.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                break
        return frozenset(members)
