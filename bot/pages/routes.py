"""GET /pages/dashboard, GET /pages/leads/{id} and their stylesheet: HTML behind signed links.

Every answer carries a strict Content-Security-Policy (no script at all, styles and images from
this server only, no framing, no form posts), is never cached and sends no Referer, since the
address holds the link's token. Everything shown is escaped by Jinja2's autoescape. A forged,
altered or expired link, or a lead link used for another lead, is a 403 that says nothing more.
"""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from bot.pages import links, views
from bot.pages.access import BadPageLink, Grant, read_token
from bot.runtime import Runtime
from storage.errors import LeadNotFound
from storage.models import utcnow

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none';"
    " form-action 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
MAX_LEAD_ID = 2**63 - 1


def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("bot.pages", "templates"),
        autoescape=select_autoescape(["html"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["duration"] = duration
    return env


def duration(seconds: Any) -> str:
    """`4 min`, `2.5 h`, `3.0 d`; a dash for no value."""
    if seconds is None:
        return "-"
    s = float(seconds)
    if s < 3600:
        return f"{s / 60:.0f} min"
    if s < 86400:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.1f} d"


def page_routes(runtime: Runtime) -> list[BaseRoute]:
    env = environment()
    css = (files("bot.pages") / "static" / "pages.css").read_bytes()

    def render(name: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = env.get_template(name).render(css=links.CSS, **context)
        return HTMLResponse(html, status_code=status, headers=HEADERS)

    def denied(status: int, heading: str, message: str) -> HTMLResponse:
        return render("denied.html", status, heading=heading, message=message, grant=None)

    def grant_of(request: Request) -> Grant | None:
        try:
            return read_token(runtime.secret.key(), request.query_params.get("t", ""), now=utcnow())
        except BadPageLink:
            return None

    def nav(grant: Grant, token: str) -> dict[str, Any]:
        if not grant.opens_dashboard:
            return {"grant": grant, "dashboard_url": None}
        return {"grant": grant, "dashboard_url": links.with_token(links.DASHBOARD, token)}

    def dashboard(request: Request) -> Response:
        grant = grant_of(request)
        if grant is None or not grant.opens_dashboard:
            return denied(403, "This link does not open the dashboard", FORBIDDEN)
        token = request.query_params["t"]
        view = views.dashboard_view(runtime, now=utcnow())
        return render(
            "dashboard.html",
            view=view,
            lead_url=lambda lead_id: links.with_token(links.lead_path(lead_id), token),
            **nav(grant, token),
        )

    def lead(request: Request) -> Response:
        text = str(request.path_params["lead_id"])
        lead_id = int(text) if text.isascii() and text.isdigit() and len(text) < 20 else 0
        grant = grant_of(request)
        if grant is None or not 0 < lead_id <= MAX_LEAD_ID or not grant.opens_lead(lead_id):
            return denied(403, "This link does not open this page", FORBIDDEN)
        try:
            view = views.lead_view(runtime, lead_id, now=utcnow())
        except LeadNotFound:
            return denied(404, "No such lead", "It may have been forgotten on request.")
        return render("lead.html", view=view, **nav(grant, request.query_params["t"]))

    def stylesheet(request: Request) -> Response:
        headers = {**HEADERS, "Cache-Control": "public, max-age=3600"}
        return Response(css, media_type="text/css; charset=utf-8", headers=headers)

    return [
        Route(links.DASHBOARD, dashboard, methods=["GET"]),
        Route(links.LEADS + "{lead_id}", lead, methods=["GET"]),
        Route(links.CSS, stylesheet, methods=["GET"]),
    ]


FORBIDDEN = "The link is not valid: it has expired, was changed, or was issued for another page."
