"""`POST /slack/events`: Bolt's Starlette adapter, with the sync App run off the event loop.

`slack_bolt.adapter.starlette.SlackRequestHandler.handle` calls the sync `App.dispatch` directly
inside its `async def`, which would block uvicorn's loop (SMTP, forms, health) while a listener
acks. We reuse the adapter's request/response converters and dispatch in a worker thread instead.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from typing import Any

from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bot.runtime import Runtime
from bot.slack import shape
from bot.slack.app import get_app

log = logging.getLogger("leadbot.slack.http")

# Slack's payloads are small (a few KB; a view submission with big inputs stays under 100 KB).
MAX_BODY_BYTES = 1024 * 1024
MAX_SKEW_SECONDS = 300  # Slack's documented replay window, the same as Bolt's


def slack_routes(runtime: Runtime) -> list[BaseRoute]:
    settings = runtime.settings

    async def events(request: Request) -> Response:
        if not settings.slack_enabled or not settings.slack_signing_secret:
            return JSONResponse(
                {"error": "Slack is not configured: set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET"},
                status_code=503,
            )
        body = await _read_capped(request)
        if body is None:
            return JSONResponse({"error": "request body too large"}, status_code=413)
        # Verified here, before Bolt sees the body: Bolt parses it while building the request,
        # so unsigned garbage (or a malformed timestamp, which it int()s) would be a 500.
        if not _signed(body, request, secret=settings.slack_signing_secret.get_secret_value()):
            return JSONResponse({"error": "invalid request"}, status_code=401)
        try:
            bolt_request = to_bolt_request(request, body)
        except Exception:  # Bolt parses the body and indexes it as documented: any shape raises
            return JSONResponse({"error": "malformed Slack payload"}, status_code=400)
        wrong = shape.problem(bolt_request.body)
        if wrong is not None:
            log.info("signed Slack payload refused: %s", wrong)
            return JSONResponse({"error": f"malformed Slack payload: {wrong}"}, status_code=400)
        app = await asyncio.to_thread(get_app, runtime)
        try:
            bolt_response = await asyncio.to_thread(app.dispatch, bolt_request)
        except Exception:  # Bolt's own code on a payload of a shape no check above foresaw
            log.exception("Bolt could not dispatch a signed %s payload", _kind(bolt_request.body))
            return JSONResponse({"error": "Slack payload could not be handled"}, status_code=400)
        if bolt_response.status == 500:  # a listener raised before its ack (logged by the app)
            return JSONResponse({"error": "Slack payload could not be handled"}, status_code=400)
        return to_starlette_response(bolt_response)

    return [Route("/slack/events", events, methods=["POST"])]


def _kind(body: Any) -> str:
    kind = body.get("type") if isinstance(body, dict) else None
    return kind[:40] if isinstance(kind, str) else "untyped"


def _signed(body: bytes, request: Request, *, secret: str) -> bool:
    """Slack's v0 HMAC over the raw body, the timestamp within five minutes either way."""
    timestamp = request.headers.get("x-slack-request-timestamp", "")
    signature = request.headers.get("x-slack-signature", "")
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        return False
    if abs(time.time() - int(timestamp)) > MAX_SKEW_SECONDS:
        return False
    # On the bytes: slack_sdk's verifier decodes them first and raises on invalid UTF-8.
    base = b"v0:" + timestamp.encode() + b":" + body
    expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace"))


async def _read_capped(request: Request) -> bytes | None:
    """The body, or None past MAX_BODY_BYTES: checked on the stream, so a lying or absent
    Content-Length never makes us buffer more than the limit."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
