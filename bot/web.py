"""The one ASGI app: health here; Slack, forms and inbound-email routes registered by their groups."""

from __future__ import annotations

from collections.abc import Callable

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bot.runtime import Runtime
from storage.errors import InputRejected, StoreUnavailable

RouteGroup = Callable[[Runtime], list[BaseRoute]]
ROUTE_GROUPS: list[RouteGroup] = []


def register_routes(group: RouteGroup) -> RouteGroup:
    """Features add their routes here (Slack endpoint, forms, inbound webhooks)."""
    ROUTE_GROUPS.append(group)
    return group


def health_routes(runtime: Runtime) -> list[BaseRoute]:
    async def healthz(request: Request) -> Response:
        import asyncio

        try:
            await asyncio.to_thread(runtime.store.ping)
        except StoreUnavailable as e:
            return JSONResponse({"status": "unavailable", "error": str(e)}, status_code=503)
        return JSONResponse({"status": "ok"})

    return [Route("/healthz", healthz, methods=["GET"])]


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers)


async def _unavailable(request: Request, exc: Exception) -> Response:
    return JSONResponse(
        {"error": "temporarily unavailable, retry later", "detail": str(exc)},
        status_code=503,
        headers={"Retry-After": "30"},
    )


async def _rejected(request: Request, exc: Exception) -> Response:
    return JSONResponse({"error": str(exc)}, status_code=422)


async def _internal(request: Request, exc: Exception) -> Response:
    return JSONResponse({"error": "internal error"}, status_code=500)


def _load_feature_routes() -> None:
    # Imported for their register_routes side effect; absent features simply add nothing.
    import importlib

    for module in ("bot.slack.http", "ingest.http"):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as e:
            if not e.name or not module.startswith(e.name):
                raise


def create_app(runtime: Runtime) -> Starlette:
    _load_feature_routes()
    routes: list[BaseRoute] = list(health_routes(runtime))
    for group in ROUTE_GROUPS:
        routes.extend(group(runtime))
    app = Starlette(
        routes=routes,
        exception_handlers={
            HTTPException: _http_error,
            StoreUnavailable: _unavailable,
            InputRejected: _rejected,
            Exception: _internal,
        },
    )
    app.state.runtime = runtime
    return app
