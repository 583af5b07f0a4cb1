"""Events API: the App Home tab is (re)published when someone opens it."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App

from bot.slack.context import SlackContext
from storage import slack as slack_store
from storage.errors import LeadBotError

log = logging.getLogger("leadbot.slack.events")


def register(app: App, ctx: SlackContext) -> None:
    @app.event("app_home_opened")
    def on_home_opened(event: dict[str, Any]) -> None:
        if event.get("tab", "home") != "home" or not event.get("user"):
            return
        home_opened(ctx, str(event["user"]))


def home_opened(ctx: SlackContext, user: str) -> None:
    """Remember the viewer (their tab is refreshed on every change) and publish it now."""
    now = ctx.clock()
    try:
        with ctx.store.session() as session:
            slack_store.touch_home_user(session, user, now=now)
            slack_store.enqueue_refresh(
                session, kind="home", key=user, lead_id=None, payload={"user": user}, now=now
            )
    except LeadBotError as e:
        log.warning("App Home for %s not refreshed: %s", user, e)
