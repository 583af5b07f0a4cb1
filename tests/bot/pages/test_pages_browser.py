"""The lead page and the dashboard in a real headless Chromium (over the DevTools protocol).

Each page is rendered by the real app on uvicorn; the test records every CSP violation from the
first moment of the page, checks that the hostile name and texts show as text and never as
markup, and takes a screenshot (kept in $LEADBOT_TEST_SCREENSHOTS when set, to be looked at).
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.pages.links import page_link
from bot.runtime import Runtime, build_runtime
from bot.web import create_app
from storage.db import Store
from storage.models import utcnow
from tests.bot.pages.seed import HOSTILE, Seeded, seed
from tests.conftest import make_settings
from tests.ingest.test_embed import Browser, chromium  # noqa: F401 (the fixture)
from tests.ingest.test_tracking_browser import WATCH_CSP, serve


@pytest.fixture
def site(sqlite_url: str) -> Iterator[tuple[Runtime, Seeded, str]]:
    store = Store(sqlite_url)
    rt = build_runtime(make_settings(sqlite_url), store=store)
    seeded = seed(rt)
    with serve(create_app(rt)) as port:
        base = f"http://127.0.0.1:{port}"
        rt.settings.public_url = base
        yield rt, seeded, base
    store.dispose()


def shot(browser: Browser, name: str, tmp_path: Path) -> Path:
    folder = Path(os.environ.get("LEADBOT_TEST_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    data = browser.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
    path = folder / f"{name}.png"
    path.write_bytes(base64.b64decode(data["data"]))
    assert path.stat().st_size > 10_000  # a rendered page, not a blank one
    return path


def open_page(browser: Browser, url: str) -> int:
    """Navigate and wait for the load; the HTTP status of the document."""
    browser.call("Page.navigate", url=url)
    browser.wait_for(f"location.href === {url!r} && document.readyState === 'complete'")
    return int(browser.js("performance.getEntriesByType('navigation')[0].responseStatus"))


def no_markup_from_outside(browser: Browser) -> None:
    assert browser.js("document.scripts.length") == 0
    assert browser.js("document.querySelectorAll('[onload],[onerror],img').length") == 0
    assert browser.js("window.__csp") == []


def test_lead_page_and_dashboard_render_under_the_csp_with_the_hostile_name_as_text(
    site: tuple[Runtime, Seeded, str],
    chromium: Browser,  # noqa: F811
    tmp_path: Path,
) -> None:
    rt, seeded, _ = site
    chromium.call("Page.enable")
    chromium.call("Page.addScriptToEvaluateOnNewDocument", source=WATCH_CSP)
    chromium.call(
        "Emulation.setDeviceMetricsOverride",
        width=1200,
        height=900,
        deviceScaleFactor=1,
        mobile=False,
    )

    dashboard = page_link(rt, person="U0MANAGER")
    assert open_page(chromium, dashboard) == 200
    no_markup_from_outside(chromium)
    # The stylesheet loaded from 'self' and applied (the header's colour).
    assert chromium.js("getComputedStyle(document.querySelector('header')).backgroundColor") == (
        "rgb(63, 14, 64)"
    )
    bars = chromium.js(
        "[...document.querySelectorAll('#funnel-chart rect')].map(r => +r.getAttribute('width'))"
    )
    assert len(bars) == 4 and max(bars) == 400 and all(b > 0 for b in bars)
    review = chromium.js("document.querySelector('#review').innerText")
    assert f"Fwd: {HOSTILE}" in review and "1 kept for review" in review
    speed = chromium.js("document.querySelector('#speed-chart').textContent")
    assert "15-60 min" in speed
    shot(chromium, "dashboard", tmp_path)

    # From the dashboard to the hostile lead's page, with the same link's token.
    href = chromium.js(
        f"[...document.querySelectorAll('#waiting a')].find(a => a.pathname.endsWith('/{seeded.hostile_id}')).href"
    )
    assert open_page(chromium, href) == 200
    no_markup_from_outside(chromium)
    assert chromium.js("document.querySelector('#lead-name').textContent") == HOSTILE
    assert chromium.js("document.title").startswith(HOSTILE)
    timeline = chromium.js("document.querySelector('#timeline').innerText")
    assert f"Called, said {HOSTILE}" in timeline and "page visit" in timeline
    assert "worth 35% now" in timeline  # 45 days old at a half-life of 30: 0.5 ** 1.5
    explain = chromium.js("document.querySelector('#explain').innerText")
    assert "× 0.35" in explain and "Total" in explain  # noqa: RUF001
    shot(chromium, "lead", tmp_path)

    # The watcher itself works: a third-party image is blocked and reported.
    chromium.js(
        "document.body.insertAdjacentHTML('beforeend', '<img src=\"http://127.0.0.1:9/x.png\">')"
    )
    chromium.wait_for("window.__csp.length > 0")
    assert chromium.js("window.__csp[0]").startswith("img-src")


def test_forged_expired_and_other_leads_links_are_403_in_the_browser(
    site: tuple[Runtime, Seeded, str],
    chromium: Browser,  # noqa: F811
    tmp_path: Path,
) -> None:
    rt, seeded, base = site
    chromium.call("Page.enable")
    chromium.call("Page.addScriptToEvaluateOnNewDocument", source=WATCH_CSP)
    good = page_link(rt, person="U0REP", lead_id=seeded.won_id)
    assert open_page(chromium, good) == 200
    payload, signature = good.split("?t=")[1].split(".")
    forged = f"{base}/pages/leads/{seeded.hostile_id}?t={payload}.{signature}"
    assert open_page(chromium, forged) == 403  # a lead link opens only its lead
    assert open_page(chromium, f"{base}/pages/dashboard?t={payload}.{signature}") == 403
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    assert open_page(chromium, f"{base}/pages/leads/{seeded.won_id}?t={payload}.{flipped}") == 403
    expired = page_link(rt, person="U0REP", hours=1, now=utcnow() - timedelta(hours=2))
    assert open_page(chromium, expired) == 403
    text = chromium.js("document.body.innerText")
    assert "not valid" in text and "Jane" not in text
    assert chromium.js("window.__csp") == []
    shot(chromium, "denied", tmp_path)
