"""A real headless Chromium on a site of its own, under a strict CSP, with LeadBot's /t.js.

The site (http://localhost:<port>) and LeadBot (http://127.0.0.1:<port>) are two origins, as in
production: the script loads from LeadBot, posts events there through CORS, and the contact form
posts there too. A visitor reads three pages, downloads a file, then fills in the form: the lead
has all five activities, scored, and the site's pages never report a CSP violation.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from html import escape
from pathlib import Path

import pytest
import uvicorn
from sqlmodel import func, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from bot.runtime import build_runtime
from bot.web import create_app
from storage.db import Store
from storage.leads import LIFECYCLE_KINDS
from storage.models import Activity, AnonymousEvent, Lead
from tests.conftest import make_settings
from tests.ingest.test_embed import Browser, chromium  # noqa: F401 (the fixture)

KEY = "wk_browser_site_01"
DESKTOP = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)
# Records CSP violations on every page, before the page's own scripts run.
WATCH_CSP = (
    "window.__csp = [];"
    " document.addEventListener('securitypolicyviolation',"
    " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
)


@contextmanager
def serve(app: Starlette) -> Iterator[int]:
    """`app` on a free port of 127.0.0.1 in a thread: its port."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not (srv.started and srv.servers) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert srv.started, "uvicorn did not start"
    try:
        yield srv.servers[0].sockets[0].getsockname()[1]
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


def site_app(leadbot: Callable[[], str]) -> Starlette:
    """Three pages, a whitepaper and a contact page; every page sends a strict CSP."""

    def page(title: str, body: str) -> Response:
        lb = leadbot()
        csp = (
            f"default-src 'none'; script-src {lb}; connect-src {lb}; form-action {lb};"
            " base-uri 'none'; frame-ancestors 'none'"
        )
        html = (
            f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}'
            f'</title><script src="{lb}/t.js" data-key="{KEY}" defer></script></head>'
            f"<body><main><h1>{escape(title)}</h1>{body}</main></body></html>"
        )
        return HTMLResponse(html, headers={"Content-Security-Policy": csp})

    async def home(request: Request) -> Response:
        return page("Acme Analytics", '<p><a id="next" href="/pricing">Pricing</a></p>')

    async def pricing(request: Request) -> Response:
        return page(
            "Pricing and plans",
            '<p><a id="paper" href="/files/roi-whitepaper.pdf">The ROI whitepaper (PDF)</a></p>'
            '<p><a id="next" href="/contact">Talk to sales</a></p>',
        )

    async def contact(request: Request) -> Response:
        lb = leadbot()
        return page(
            "Talk to sales",
            f'<form id="contact" method="post" action="{lb}/forms/demo">'
            '<label for="name">Name</label><input id="name" name="name">'
            '<label for="email">Email</label><input id="email" name="email" type="email" required>'
            '<label for="company">Company</label><input id="company" name="company">'
            '<label for="message">Message</label><textarea id="message" name="message"></textarea>'
            '<button type="submit">Send</button></form>',
        )

    async def whitepaper(request: Request) -> Response:
        headers = {"Content-Disposition": 'attachment; filename="roi-whitepaper.pdf"'}
        return Response(b"%PDF-1.4\n%%EOF\n", media_type="application/pdf", headers=headers)

    return Starlette(
        routes=[
            Route("/", home),
            Route("/pricing", pricing),
            Route("/contact", contact),
            Route("/files/roi-whitepaper.pdf", whitepaper),
        ]
    )


@pytest.fixture
def urls(store: Store, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(site, LeadBot) base addresses, each served by its own uvicorn."""
    leadbot_port: list[int] = []
    with ExitStack() as stack:
        site_port = stack.enter_context(
            serve(site_app(lambda: f"http://127.0.0.1:{leadbot_port[0]}"))
        )
        forms = tmp_path / "forms.toml"
        forms.write_text(
            f'[forms.demo]\n[sites.www]\nkey = "{KEY}"\n'
            f'allowed_origins = ["http://localhost:{site_port}"]\n'
        )
        rt = build_runtime(make_settings(store.url, LEADBOT_FORMS=str(forms)), store=store)
        leadbot_port.append(stack.enter_context(serve(create_app(rt))))
        yield f"http://localhost:{site_port}", f"http://127.0.0.1:{leadbot_port[0]}"


def waiting(store: Store) -> list[tuple[str, str]]:
    with store.session() as s:
        rows = s.exec(select(AnonymousEvent).order_by(AnonymousEvent.occurred_at)).all()  # type: ignore[arg-type]
        return [(r.kind, str((r.data.get("fields") or {}).get("page_url", ""))) for r in rows]


def until(check: Callable[[], bool], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_visitor_reads_three_pages_downloads_a_file_and_fills_the_form(
    urls: tuple[str, str],
    chromium: Browser,  # noqa: F811
    store: Store,
) -> None:
    site, leadbot = urls
    # Headless Chromium says "HeadlessChrome": LeadBot rightly takes it for a robot. A person's
    # browser says this instead.
    chromium.call("Network.enable")
    chromium.call("Network.setUserAgentOverride", userAgent=DESKTOP)
    chromium.call("Page.enable")
    chromium.call("Page.addScriptToEvaluateOnNewDocument", source=WATCH_CSP)
    chromium.call("Browser.setDownloadBehavior", behavior="deny")

    def on_page(path: str) -> None:
        chromium.wait_for(
            f"location.pathname === {path!r} && document.readyState === 'complete'"
            " && !!window.leadbot"
        )

    chromium.call("Page.navigate", url=f"{site}/?utm_source=newsletter&utm_campaign=q3-launch")
    on_page("/")
    until(lambda: len(waiting(store)) == 1, "the first page view")
    assert chromium.js("document.cookie").startswith("_lb_vid=")
    chromium.click("#next")
    on_page("/pricing")
    until(lambda: len(waiting(store)) == 2, "the second page view")
    assert chromium.js("document.querySelector('#paper').dataset.leadbot") == "download"
    chromium.click("#paper")  # a download: the page stays
    until(lambda: len(waiting(store)) == 3, "the download")
    chromium.click("#next")
    on_page("/contact")
    until(lambda: len(waiting(store)) == 4, "the third page view")
    assert [k for k, _ in waiting(store)] == ["page_visit", "page_visit", "download", "page_visit"]
    assert waiting(store)[2][1] == f"{site}/files/roi-whitepaper.pdf"
    with store.session() as s:
        assert s.exec(select(func.count()).select_from(Lead)).one() == 0  # nobody known yet

    vid = chromium.js("document.querySelector('input[name=_lb_vid]').value")
    assert vid and chromium.js("document.cookie") == f"_lb_vid={vid}"  # first party, on the site
    chromium.type_into("#name", "Vera Visitor")
    chromium.type_into("#email", "vera@acme-analytics.example")
    chromium.type_into("#company", "Acme Analytics")
    chromium.type_into("#message", "We would like a demo and pricing for 40 seats.")
    chromium.click("#contact button[type=submit]")
    chromium.wait_for("location.pathname === '/forms/demo/thanks'")
    assert chromium.js("location.origin") == leadbot

    with store.session() as s:
        vera = s.exec(select(Lead).where(Lead.email == "vera@acme-analytics.example")).one()
        acts = s.exec(
            select(Activity)
            .where(Activity.lead_id == vera.id)
            .where(Activity.kind.not_in(LIFECYCLE_KINDS))  # type: ignore[attr-defined]
            .order_by(Activity.occurred_at, Activity.id)  # type: ignore[arg-type]
        ).all()
    assert [a.kind for a in acts] == [
        "page_visit",
        "page_visit",
        "download",
        "page_visit",
        "form_submission",
    ]
    assert [a.detail for a in acts[:4]] == [
        "Acme Analytics",
        "Pricing and plans",
        "The ROI whitepaper (PDF)",
        "Talk to sales",
    ]
    assert waiting(store) == []
    rules = {r["rule"] for r in vera.reasons}
    assert {"page-visits", "pricing-page", "downloads", "form-submission"} <= rules
    assert vera.first_touch is not None
    assert vera.first_touch["utm_campaign"] == "q3-launch" and vera.first_touch["channel"] == "web"
    assert vera.latest_touch is not None and vera.latest_touch["channel"] == "form"
    assert sum(r["points"] for r in vera.reasons) == pytest.approx(vera.score, abs=0.01)
    assert vera.status == "announced"  # visits, a download and a demo request: a hot lead
    # No page of the site reported a CSP violation (the last one checked before it was left).
    chromium.call("Page.navigate", url=f"{site}/pricing")
    on_page("/pricing")
    assert chromium.js("window.__csp") == []
