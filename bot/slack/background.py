"""What `serve` runs for Slack besides the HTTP route: the SLA/activity job and Socket Mode."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from slack_sdk import WebClient

from bot.runtime import Runtime
from storage.errors import LeadBotError
from storage.models import utcnow
from storage.slack_jobs import SlaReport, enqueue_new_activity, enqueue_sla

log = logging.getLogger("leadbot.slack.background")
Starter = Callable[[asyncio.Event], Awaitable[None]]
JOB_INTERVAL_S = 30.0


def escalation_targets(runtime: Runtime) -> list[str]:
    """Who an escalation mentions: the configured target, else the managers (or their group)."""
    s = runtime.settings
    if s.sla_escalation_target:
        return [s.sla_escalation_target]
    if s.slack_manager_group:
        return [s.slack_manager_group]
    return sorted(s.slack_managers)


def slack_tick(runtime: Runtime, *, now: datetime | None = None) -> SlaReport:
    """One pass: new activity into threads, then SLA reminders and escalations."""
    now = now or utcnow()
    s = runtime.settings
    with runtime.store.session() as session:
        activities = enqueue_new_activity(session, now=now)
    with runtime.store.session() as session:
        report = enqueue_sla(
            session,
            now=now,
            reminder_minutes=s.sla_reminder_minutes,
            escalation_minutes=s.sla_escalation_minutes,
            targets=escalation_targets(runtime),
        )
    report.activities = activities
    return report


def job_starter(runtime: Runtime, *, interval: float = JOB_INTERVAL_S) -> Starter:
    async def run(stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await asyncio.to_thread(slack_tick, runtime)
            except LeadBotError as e:
                log.warning("Slack job paused: %s", e)
            except Exception:
                log.exception("Slack job failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)

    return run


def socket_mode_starter(runtime: Runtime) -> Starter:
    """Socket Mode: the same Bolt app, events over a WebSocket instead of `POST /slack/events`."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    from bot.slack.app import get_app

    s = runtime.settings
    assert s.slack_app_token is not None
    app_token = s.slack_app_token.get_secret_value()

    async def run(stop: asyncio.Event) -> None:
        # apps.connections.open takes the app-level token; its URL honours LEADBOT_SLACK_API_URL.
        web = WebClient(base_url=s.slack_api_url)
        app = await asyncio.to_thread(get_app, runtime)
        handler = SocketModeHandler(app, app_token=app_token, web_client=web)
        runtime.extras["slack_socket_mode"] = handler
        await asyncio.to_thread(handler.connect)
        log.info("Slack Socket Mode connected")
        try:
            await stop.wait()
        finally:
            await asyncio.to_thread(handler.close)

    return run


def install(runtime: Runtime) -> list[Starter]:
    """Add the Slack starters to `runtime.extras["background"]`, which `serve` starts."""
    starters: list[Starter] = [job_starter(runtime)]
    app_token = runtime.settings.slack_app_token
    if app_token is not None and app_token.get_secret_value():
        starters.append(socket_mode_starter(runtime))
    runtime.extras.setdefault("background", []).extend(starters)
    return starters
