"""The pages over HTTP on SQLite and PostgreSQL: who a link lets in, what it shows, the headers,
and `leadbot links admin`."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from markupsafe import escape
from starlette.testclient import TestClient

from bot.cli import main
from bot.pages.access import ALL, BadPageLink, make_token, read_token
from bot.pages.links import page_link
from bot.pages.routes import CSP
from bot.runtime import Runtime, build_runtime
from bot.web import create_app
from ingest.tracking.links import make_link
from storage.db import Store
from storage.models import utcnow
from tests.bot.pages.seed import HOSTILE, Seeded, seed
from tests.conftest import make_settings

BASE = "http://testserver"


@pytest.fixture
def rt(store: Store) -> Runtime:
    return build_runtime(make_settings(store.url, public_url=BASE), store=store)


@pytest.fixture
def seeded(rt: Runtime) -> Seeded:
    return seed(rt)


@pytest.fixture
def client(rt: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(rt)) as c:
        yield c


def get(client: TestClient, url: str) -> object:
    return client.get(url.removeprefix(BASE))


def test_a_lead_link_opens_its_page_with_everything_escaped_and_strict_headers(
    rt: Runtime, seeded: Seeded, client: TestClient
) -> None:
    r = client.get(page_link(rt, person="U0REP", lead_id=seeded.hostile_id).removeprefix(BASE))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert r.headers["content-security-policy"] == CSP
    assert "script-src" not in CSP and "default-src 'none'" in CSP
    assert r.headers["referrer-policy"] == "no-referrer"
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["x-frame-options"] == "DENY"
    html = r.text
    assert "<script" not in html and "<img" not in html
    assert HOSTILE not in html
    assert str(escape(HOSTILE)) in html  # shown, as text
    assert "<img" not in html and 'src="' not in html  # no image, no third-party resource
    assert re.findall(r'(?:href|src)="([^"]+)"', html) == ["/pages/pages.css"]  # no dashboard link
    assert "for U0REP" in html
    assert "× 0.35" in html  # noqa: RUF001 (the page visit's points, faded)


def test_a_dashboard_link_opens_the_dashboard_and_every_lead_page(
    rt: Runtime, seeded: Seeded, client: TestClient
) -> None:
    url = page_link(rt, person="U0MANAGER")
    r = client.get(url.removeprefix(BASE))
    assert r.status_code == 200
    assert str(escape(f"Fwd: {HOSTILE}")) in r.text and HOSTILE not in r.text
    token = url.split("?t=")[1]
    assert f'href="/pages/leads/{seeded.hostile_id}?t={token}"' in r.text
    for lead_id in (seeded.hostile_id, seeded.won_id):
        assert client.get(f"/pages/leads/{lead_id}?t={token}").status_code == 200
    assert client.get(f"/pages/leads/999999?t={token}").status_code == 404
    css = client.get("/pages/pages.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


@pytest.mark.parametrize(
    "mangle",
    [
        "forged",
        "flipped",
        "expired",
        "other lead",
        "lead link on dashboard",
        "tracked link",
        "none",
    ],
)
def test_forged_expired_or_misused_links_are_403(
    rt: Runtime, seeded: Seeded, client: TestClient, mangle: str
) -> None:
    url = page_link(rt, person="U0REP", lead_id=seeded.won_id)
    token = url.split("?t=")[1]
    path = f"/pages/leads/{seeded.won_id}"
    match mangle:
        case "forged":
            token = make_token(
                b"x" * 32, person="U0REP", scope=ALL, expires_at=utcnow() + timedelta(hours=1)
            )
        case "flipped":
            token = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
        case "expired":
            token = page_link(
                rt,
                person="U0REP",
                lead_id=seeded.won_id,
                hours=1,
                now=utcnow() - timedelta(hours=1),
            ).split("?t=")[1]
        case "other lead":
            path = f"/pages/leads/{seeded.hostile_id}"
        case "lead link on dashboard":
            path = "/pages/dashboard"
        case "tracked link":  # signed with the same key, for another purpose
            token = make_link(
                rt.secret.key(),
                lead_id=seeded.won_id,
                url="https://www.example.com/",
                campaign=None,
                expires_at=utcnow() + timedelta(days=1),
            )
        case "none":
            token = ""
    r = client.get(f"{path}?t={token}")
    assert r.status_code == 403
    assert r.headers["content-security-policy"] == CSP
    assert "Jane" not in r.text and "acme" not in r.text


def test_tokens_carry_person_scope_and_expiry_and_refuse_odd_payloads() -> None:
    key, now = b"k" * 32, utcnow()
    token = make_token(key, person="U1", scope=7, expires_at=now + timedelta(minutes=5))
    grant = read_token(key, token, now=now)
    assert grant.person == "U1" and grant.opens_lead(7) and not grant.opens_lead(8)
    assert not grant.opens_dashboard
    with pytest.raises(BadPageLink, match="expired"):
        read_token(key, token, now=now + timedelta(minutes=5))
    for bad in ["", "a.b.c", "x" * 600, "bm90IGpzb24.AAAA", token.replace(".", "")]:
        with pytest.raises(BadPageLink):
            read_token(key, bad, now=now)
    with pytest.raises(ValueError):
        make_token(key, person="<@U1>", scope=ALL, expires_at=now)


@pytest.fixture
def env(store: Store, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LEADBOT_DATABASE_URL", store.url)
    monkeypatch.setenv("LEADBOT_PUBLIC_URL", "https://leads.example.com/")
    return store.url


def test_links_admin_prints_links_that_open_the_dashboard_or_one_lead(
    env: str,
    rt: Runtime,
    seeded: Seeded,
    client: TestClient,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["links", "admin", "--hours", "2"]) == 0
    url = capsys.readouterr().out.strip()
    assert url.startswith("https://leads.example.com/pages/dashboard?t=")
    r = client.get(url.removeprefix("https://leads.example.com"))
    assert r.status_code == 200 and "for cli" in r.text
    assert main(["links", "admin", "--lead", "jane@acme-robotics.example", "--for", "U0ME"]) == 0
    url = capsys.readouterr().out.strip()
    assert f"/pages/leads/{seeded.won_id}?t=" in url
    path = url.removeprefix("https://leads.example.com")
    assert client.get(path).status_code == 200
    assert client.get(path.replace("/leads/", "/dashboard?x=").split("?x=")[0]).status_code == 403
    assert main(["links", "admin", "--hours", "0"]) == 65
    assert main(["links", "admin", "--lead", "999999"]) != 0
    assert main(["links", "admin", "--for", "<!channel>"]) == 65
    assert "--hours" in capsys.readouterr().err
