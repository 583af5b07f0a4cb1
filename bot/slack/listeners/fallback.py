"""Everything Slack may send that LeadBot does not act on: acknowledged with 200, never a 404.

Bolt answers 404 to a request no listener matches, and Slack treats that as a failure (it
retries events and shows "didn't respond" to the user). These catch-alls are registered last, so
the real listeners match first. Uninstalls and revoked tokens are logged for the admin.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt import Ack, App

from bot.slack.context import SlackContext

log = logging.getLogger("leadbot.slack.fallback")
ANY = re.compile(".*")
# `<` and `>` escaped even in our own text: Slack would read `<email|name>` as a link.
UNKNOWN_COMMAND = (
    "LeadBot knows `/lead &lt;email|name|company|domain&gt;` and `/leads hot|mine|unclaimed|stats`."
)


def register(app: App, ctx: SlackContext) -> None:
    @app.event("app_uninstalled")
    def on_uninstalled(body: dict[str, Any]) -> None:
        log.warning("LeadBot was uninstalled from team %s", str(body.get("team_id"))[:32])

    @app.event("tokens_revoked")
    def on_tokens_revoked(event: dict[str, Any], body: dict[str, Any]) -> None:
        tokens = event.get("tokens") if isinstance(event.get("tokens"), dict) else {}
        log.warning(
            "Slack tokens revoked in team %s (bot users: %s): Slack calls fail until reinstalled",
            str(body.get("team_id"))[:32],
            len((tokens or {}).get("bot") or []),
        )

    @app.event(ANY)
    def on_other_event(event: dict[str, Any]) -> None:
        log.debug("ignored Slack event %s", str(event.get("type"))[:64])

    @app.action(ANY)
    def on_other_action(ack: Ack) -> None:
        ack()

    @app.options(ANY)
    def on_options(ack: Ack) -> None:
        ack(options=[])

    @app.shortcut(ANY)
    def on_shortcut(ack: Ack) -> None:
        ack()

    @app.view(ANY)
    def on_other_view(ack: Ack) -> None:
        ack()

    @app.view_closed(ANY)
    def on_view_closed(ack: Ack) -> None:
        ack()

    @app.command(ANY)
    def on_other_command(ack: Ack) -> None:
        ack(response_type="ephemeral", text=UNKNOWN_COMMAND)
