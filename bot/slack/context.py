"""What every Slack listener is given besides the payload: the runtime, the Web API client,
the access rules and the clock."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.runtime import Runtime
from bot.slack.access import Access
from bot.slack.links import Permalinks
from bot.slack.people import People
from storage.models import utcnow

log = logging.getLogger("leadbot.slack")


@dataclass
class SlackContext:
    """What listeners need besides the payload: storage, Web API client, access rules, clock."""

    runtime: Runtime
    client: WebClient
    access: Access
    clock: Callable[[], datetime] = utcnow
    _people: People | None = field(default=None, repr=False)
    _permalinks: Permalinks | None = field(default=None, repr=False)

    @property
    def store(self) -> Any:
        return self.runtime.store

    @property
    def people(self) -> People:
        """Reps found by email (users.lookupByEmail), remembered across requests."""
        if self._people is None:
            self._people = People(self.client)
        return self._people

    @property
    def permalinks(self) -> Permalinks:
        """Links to cards (chat.getPermalink), remembered across requests."""
        if self._permalinks is None:
            self._permalinks = Permalinks(self.client)
        return self._permalinks

    def tell(self, user: str, channel: str | None, text: str) -> None:
        """A private answer: ephemeral in the channel, or a DM from the app when there is none."""
        try:
            if channel:
                self.client.chat_postEphemeral(channel=channel, user=user, text=text)
            else:
                self.client.chat_postMessage(channel=user, text=text)
        except (SlackApiError, SlackClientError, OSError) as e:
            log.warning("could not answer %s privately: %s", user, e)
