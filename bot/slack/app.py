"""The Bolt app, built once from Settings + Runtime; listener groups register themselves on it.

Acknowledgement model: `process_before_response=False`. Bolt answers Slack's HTTP request the
moment a listener calls `ack()` and finishes the listener in its executor thread, so every
listener acks first (or acks with an answer it computed in milliseconds, like `/lead` results)
and does its slower work after: lifecycle changes, outbox writes, `views.open`, ephemerals. The
same listeners serve Socket Mode unchanged. `True` is for FaaS, where nothing may run after the
response; here it would put Web API calls inside Slack's 3-second window.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from slack_bolt import App, BoltResponse

from bot.runtime import Runtime
from bot.slack.access import Access
from bot.slack.context import SlackContext
from bot.slack.listeners import (
    actions,
    commands,
    events,
    fallback,
    log_activity,
    manage,
    pages,
    review,
    views,
)
from storage import slack as slack_store
from storage.errors import StoreUnavailable
from storage.models import utcnow

log = logging.getLogger("leadbot.slack")
LISTENER_THREADS = 8


def build_app(runtime: Runtime, *, clock: Callable[[], datetime] = utcnow) -> App:
    """The Bolt App for both transports; its WebClient calls `LEADBOT_SLACK_API_URL`."""
    s = runtime.settings
    client = runtime.slack_client
    secret = s.slack_signing_secret.get_secret_value() if s.slack_signing_secret else ""
    app = App(
        client=client,
        # Never Bolt's os.environ fallback: settings are the one source. An empty secret is only
        # used in Socket Mode; the HTTP route refuses to serve without one (bot/slack/http.py).
        signing_secret=secret,
        process_before_response=False,
        token_verification_enabled=False,  # auth.test lazily on the first request, not at import
        listener_executor=ThreadPoolExecutor(
            max_workers=LISTENER_THREADS, thread_name_prefix="slack"
        ),
    )
    ctx = SlackContext(runtime=runtime, client=client, access=Access(s, client), clock=clock)
    app.middleware(_dedupe_events(ctx))
    actions.register(app, ctx)
    views.register(app, ctx)
    manage.register(app, ctx)
    log_activity.register(app, ctx)
    pages.register(app, ctx)
    review.register(app, ctx)
    commands.register(app, ctx)
    events.register(app, ctx)
    fallback.register(app, ctx)  # last: only what no listener above matched

    @app.error
    def _on_error(error: Exception, body: dict[str, Any]) -> None:
        log.error("Slack listener failed on %s: %s", body.get("type"), error, exc_info=error)

    return app


def get_app(runtime: Runtime) -> App:
    """One App per runtime, shared by the HTTP route and Socket Mode."""
    if runtime.slack_app is None:
        runtime.slack_app = build_app(runtime)
    return runtime.slack_app


def _dedupe_events(ctx: SlackContext) -> Callable[..., BoltResponse | None]:
    """Handle each event_id once (Events API retries), and each modal submission once.

    A signed request replayed within Bolt's five minutes passes the signature check; a replayed
    note would be saved and threaded twice. A real resubmission differs (new trigger_id, new
    values), so the hash of the whole payload tells a replay from a second submission.
    """

    def dedupe(body: dict[str, Any], next: Callable[[], None]) -> BoltResponse | None:
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if body.get("type") == "view_submission":
            digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
            event_id = f"view:{digest[:40]}"
        if event_id:
            try:
                with ctx.store.session() as session:
                    first = slack_store.remember_event(session, str(event_id), now=ctx.clock())
            except StoreUnavailable:
                # Ask Slack to retry later rather than handle an event we cannot record.
                return BoltResponse(status=503, body="")
            if not first:
                return BoltResponse(status=200, body="")
        next()
        return None

    return dedupe
