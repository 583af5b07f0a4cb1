"""Socket Mode: the same Bolt app, events over a WebSocket instead of `POST /slack/events`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk import WebClient

from bot.runtime import Runtime
from bot.slack.app import get_app

log = logging.getLogger("leadbot.slack.socket_mode")
Starter = Callable[[asyncio.Event], Awaitable[None]]


def socket_mode_starter(runtime: Runtime) -> Starter:
    """`serve`'s task when SLACK_APP_TOKEN is set: connected until `stop` is set."""
    s = runtime.settings
    assert s.slack_app_token is not None
    app_token = s.slack_app_token.get_secret_value()

    async def run(stop: asyncio.Event) -> None:
        # apps.connections.open takes the app-level token; its URL honours LEADBOT_SLACK_API_URL.
        web = WebClient(base_url=s.slack_api_url)
        app = await asyncio.to_thread(get_app, runtime)
        handler = SocketModeHandler(app, app_token=app_token, web_client=web)
        await asyncio.to_thread(handler.connect)
        log.info("Slack Socket Mode connected")
        try:
            await stop.wait()
        finally:
            await asyncio.to_thread(handler.close)

    return run
