"""The one ASGI app: health, the Slack endpoint, web forms and inbound-email webhooks.

Each group of routes is a function given what it needs; this is where they are mounted. An error
that no route answered itself becomes its JSON answer through ingest.http.errors, the same mapping
the routes use.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bot.http_edge import BodyDeadline
from bot.metrics import metrics_routes
from bot.pages.routes import page_routes
from bot.runtime import Runtime
from bot.slack.http import slack_routes
from ingest.http.errors import error_response
from ingest.http.forms import forms_routes
from ingest.http.inbound import Enqueue, inbound_routes
from ingest.http.offload import ReadPool
from ingest.http.tracking import tracking_routes
from ingest.worker import BatchQueue
from storage.errors import LeadBotError, StoreUnavailable

log = logging.getLogger("leadbot.web")


def health_routes(runtime: Runtime) -> list[BaseRoute]:
    async def healthz(request: Request) -> Response:
        try:
            await asyncio.to_thread(runtime.store.ping)
        except StoreUnavailable as e:
            return JSONResponse({"status": "unavailable", "error": str(e)}, status_code=503)
        return JSONResponse({"status": "ok"})

    return [Route("/healthz", healthz, methods=["GET"])]


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers)


async def _leadbot_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LeadBotError)
    return error_response(exc)


async def _internal(request: Request, exc: Exception) -> Response:
    log.error("%s %s failed", request.method, request.url.path[:200], exc_info=exc)
    return JSONResponse({"error": "internal error"}, status_code=500)


def create_app(runtime: Runtime, *, queue: BatchQueue | None = None) -> Starlette:
    """The app; `queue` (serve's worker processes) parses inbound mail after the answer.

    Forms and inbound payloads are read on a pool of their own (ingest.http.offload), so the
    shared threads of `/healthz` and the Slack endpoint never wait behind a stranger's input.
    """
    enqueue: Enqueue | None = queue.put if queue is not None else None
    pool = ReadPool()
    routes: list[BaseRoute] = [
        *health_routes(runtime),
        *metrics_routes(runtime.store),
        *slack_routes(runtime),
        *forms_routes(
            runtime.pipeline, runtime.forms, committer=runtime.committer, limits=runtime.limits
        ),
        *inbound_routes(
            runtime.pipeline,
            runtime.settings,
            tokens=runtime.inbound_tokens,
            enqueue=enqueue,
            pool=pool,
        ),
        *tracking_routes(runtime.pipeline, runtime.tracking, runtime.secret, limits=runtime.limits),
        *page_routes(runtime),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        pool.shutdown()

    app = Starlette(
        routes=routes,
        middleware=[Middleware(BodyDeadline, timeout_s=runtime.settings.http_body_timeout_seconds)],
        exception_handlers={
            HTTPException: _http_error,
            LeadBotError: _leadbot_error,
            Exception: _internal,
        },
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    return app
