"""GET /forms/{key}/embed: the HTML itself, then a real headless Chromium filling it in.

The browser is driven over the DevTools protocol with `websockets` (already a dev dependency),
against the app served by a real uvicorn on a free port.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlmodel import select
from starlette.testclient import TestClient

from bot.runtime import Runtime, build_runtime
from bot.web import create_app
from storage.db import Store
from storage.models import Lead, RawInput
from tests.conftest import make_settings

FORMS_TOML = """
[forms.demo]
title = "Book a <demo>"
fields = ["name", "email", "company", "phone", "message"]
required = ["email", "company"]
honeypot = "fax_number"
"""
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def rt(store: Store, tmp_path: Path) -> Runtime:
    forms = tmp_path / "forms.toml"
    forms.write_text(FORMS_TOML)
    return build_runtime(make_settings(store.url, LEADBOT_FORMS=str(forms)), store=store)


class _Form(HTMLParser):
    """Collects the inputs of the form and which label points at which id."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: dict[str, dict[str, str | None]] = {}
        self.labels: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "label" and a.get("for"):
            self.labels.add(str(a["for"]))
        if tag in ("input", "textarea") and a.get("name"):
            self.controls[str(a["name"])] = a


def test_embed_html_is_accessible_and_escaped(rt: Runtime) -> None:
    with TestClient(create_app(rt)) as c:
        r = c.get("/forms/demo/embed")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert c.get("/forms/bad..key/embed").status_code == 404
    html = r.text
    assert "Book a &lt;demo&gt;" in html and "<demo>" not in html
    assert 'action="http://testserver/forms/demo"' in html and 'lang="en"' in html
    form = _Form()
    form.feed(html.split("<h2>")[0])  # the live form, not the copy in the textarea
    for name, autocomplete in [
        ("email", "email"),
        ("name", "name"),
        ("company", "organization"),
        ("phone", "tel"),
    ]:
        control = form.controls[name]
        assert control["autocomplete"] == autocomplete
        assert control["id"] in form.labels  # every visible field has a <label for=…>
    assert form.controls["email"]["type"] == "email"
    assert "required" in form.controls["email"] and "required" in form.controls["company"]
    assert form.controls["email"]["aria-required"] == "true"
    assert "required" not in form.controls["name"]
    assert form.controls["fax_number"]["tabindex"] == "-1"  # the honeypot is out of tab order
    assert {"page_url", "utm_campaign"} <= set(form.controls)


# --- a real browser -----------------------------------------------------------------------


@pytest.fixture
def server(rt: Runtime) -> Iterator[str]:
    config = uvicorn.Config(create_app(rt), host="127.0.0.1", port=0, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not (srv.started and srv.servers) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert srv.started, "uvicorn did not start"
    port = srv.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


class Browser:
    """Just enough of the DevTools protocol: navigate, evaluate, type, click."""

    def __init__(self, ws_url: str) -> None:
        from websockets.sync.client import connect

        self.ws = connect(ws_url, max_size=2**24, open_timeout=10)
        self.ids = itertools.count(1)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        msg_id = next(self.ids)
        self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:
            reply = json.loads(self.ws.recv(timeout=20))
            if reply.get("id") == msg_id:
                assert "error" not in reply, reply
                return dict(reply.get("result") or {})

    def js(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 15) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                value = self.js(expression)
            except AssertionError:  # the page is navigating: its context is gone for a moment
                value = None
            if value:
                return value
            time.sleep(0.05)
        where = self.js("location.href + ' ' + document.body.innerText.slice(0, 300)")
        raise AssertionError(f"timed out waiting for {expression}; page: {where}")

    def type_into(self, selector: str, text: str) -> None:
        self.js(f"document.querySelector({json.dumps(selector)}).focus()")
        self.call("Input.insertText", text=text)

    def click(self, selector: str) -> None:
        box = self.js(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            " e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();"
            " return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        )
        for kind in ("mousePressed", "mouseReleased"):
            self.call(
                "Input.dispatchMouseEvent",
                type=kind,
                x=box[0],
                y=box[1],
                button="left",
                clickCount=1,
            )

    def close(self) -> None:
        self.ws.close()


@pytest.fixture
def chromium() -> Iterator[Browser]:
    if CHROMIUM is None:
        if os.environ.get("LEADBOT_TEST_REQUIRE_POSTGRES"):
            pytest.fail("chromium must be installed in CI (.ci/setup-extras installs it)")
        pytest.skip("needs Debian's chromium package (apt-get install chromium chromium-driver)")
    profile = tempfile.mkdtemp(prefix="leadbot-chromium-")
    proc = subprocess.Popen(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--remote-debugging-port=0",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port_file = Path(profile) / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not port_file.exists() or not port_file.read_text().strip():
            assert proc.poll() is None and time.monotonic() < deadline, "chromium did not start"
            time.sleep(0.05)
        port = port_file.read_text().split()[0]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as resp:
            pages = [t for t in json.load(resp) if t["type"] == "page"]
        browser = Browser(pages[0]["webSocketDebuggerUrl"])
        yield browser
        browser.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(profile, ignore_errors=True)


def test_a_real_browser_fills_in_the_embedded_form(
    server: str, chromium: Browser, store: Store
) -> None:
    chromium.call("Page.enable")
    chromium.call("Page.navigate", url=f"{server}/forms/demo/embed?utm_campaign=e2e-test")
    chromium.wait_for(
        "document.readyState === 'complete' && !!document.querySelector('#leadbot-demo')"
    )
    # the browser's own validation stops an empty submit: nothing reaches the server
    chromium.click("#leadbot-demo button[type=submit]")
    assert chromium.js("document.querySelector('#leadbot-demo-email').matches(':invalid')")
    chromium.type_into("#leadbot-demo-name", "Bea Browser")
    chromium.type_into("#leadbot-demo-email", "bea@browser-co.example")
    chromium.type_into("#leadbot-demo-company", "Browser Co")
    chromium.type_into("#leadbot-demo-phone", "+44 20 7946 0958")
    chromium.type_into("#leadbot-demo-message", "Can we book a demo next week?")
    chromium.click("#leadbot-demo button[type=submit]")
    chromium.wait_for("location.pathname === '/forms/demo/thanks'")
    assert "Thank you" in chromium.wait_for(
        "document.querySelector('h1') && document.body.innerText"
    )
    with store.session() as s:
        lead = s.exec(select(Lead).where(Lead.email == "bea@browser-co.example")).one()
        [raw] = s.exec(select(RawInput)).all()
    assert (lead.name, lead.company, lead.phone) == ("Bea Browser", "Browser Co", "+442079460958")
    assert lead.first_touch and lead.first_touch["utm_campaign"] == "e2e-test"
    assert lead.first_touch["page"].endswith("/forms/demo/embed?utm_campaign=e2e-test")
    assert raw.status == "processed" and raw.envelope["headers"]["origin"] == server
