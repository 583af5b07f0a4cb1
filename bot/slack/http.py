"""`POST /slack/events`: Bolt's Starlette adapter, with the sync App run off the event loop.

`slack_bolt.adapter.starlette.SlackRequestHandler.handle` calls the sync `App.dispatch` directly
inside its `async def`, which would block uvicorn's loop (SMTP, forms, health) while a listener
acks. We reuse the adapter's request/response converters and dispatch in a worker thread instead.
"""

from __future__ import annotations

import asyncio

from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bot.runtime import Runtime
from bot.web import register_routes

# Slack's payloads are small (a few KB; a view submission with big inputs stays under 100 KB).
MAX_BODY_BYTES = 1024 * 1024


@register_routes
def slack_routes(runtime: Runtime) -> list[BaseRoute]:
    settings = runtime.settings

    async def events(request: Request) -> Response:
        if not settings.slack_enabled or not settings.slack_signing_secret:
            return JSONResponse(
                {"error": "Slack is not configured: set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET"},
                status_code=503,
            )
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > MAX_BODY_BYTES:
            return JSONResponse({"error": "request body too large"}, status_code=413)
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return JSONResponse({"error": "request body too large"}, status_code=413)
        from bot.slack.app import get_app

        app = await asyncio.to_thread(get_app, runtime)
        bolt_response = await asyncio.to_thread(app.dispatch, to_bolt_request(request, body))
        return to_starlette_response(bolt_response)

    return [Route("/slack/events", events, methods=["POST"])]
