"""POST /events, GET /t.js and GET /r/{token} through the real ASGI app, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import select
from starlette.testclient import TestClient

from bot.runtime import Runtime, build_runtime
from bot.web import create_app
from ingest.tracking import links
from storage.db import Store
from storage.models import Activity, AnonymousEvent, Lead, TrackingVisitor, utcnow
from storage.privacy import export_person, forget_person
from tests.conftest import make_settings

KEY = "wk_test_www_0123"
ORIGIN = "https://www.example.com"
BROWSER = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)
HEADERS = {"origin": ORIGIN, "user-agent": BROWSER}
FORMS_TOML = f"""
[forms.demo]
required = ["email"]
[sites.www]
allowed_origins = ["{ORIGIN}"]
[sites.open]
key = "wk_open_site_9876"
"""
VISITOR = "v" * 8 + "0123456789abcdef"


def _runtime(store: Store, tmp_path: Path, **overrides: object) -> Runtime:
    forms = tmp_path / "forms.toml"
    forms.write_text(FORMS_TOML)
    values: dict[str, object] = {
        "LEADBOT_FORMS": str(forms),
        "tracking_keys": f"www={KEY}",
        "tracking_burst": 50,
    }
    values.update(overrides)
    return build_runtime(make_settings(store.url, **values), store=store)


@pytest.fixture
def rt(store: Store, tmp_path: Path) -> Runtime:
    return _runtime(store, tmp_path)


@pytest.fixture
def client(rt: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(rt), raise_server_exceptions=False) as c:
        yield c


def post(client: TestClient, body: Any, **headers: str) -> Any:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    merged = {**HEADERS, "content-type": "application/json", **headers}
    return client.post("/events", content=data, headers=merged)


def page(url: str, **extra: Any) -> dict[str, Any]:
    return {"type": "page_view", "url": url, "title": url.rsplit("/", 1)[-1] or "Home", **extra}


def lead(store: Store, email: str) -> Lead:
    with store.session() as s:
        return s.exec(select(Lead).where(Lead.email == email)).one()


def kinds(store: Store, lead_id: int) -> list[str]:
    with store.session() as s:
        rows = s.exec(
            select(Activity)
            .where(
                Activity.lead_id == lead_id,
                Activity.kind.not_in(("score_changed", "field_changed")),  # type: ignore[attr-defined]
            )
            .order_by(Activity.occurred_at, Activity.id)  # type: ignore[arg-type]
        )
        return [a.kind for a in rows]


def anonymous(store: Store) -> list[AnonymousEvent]:
    with store.session() as s:
        return list(s.exec(select(AnonymousEvent)))


# --- events of known people -------------------------------------------------------------------


def test_events_of_an_address_become_scored_activities(client: TestClient, store: Store) -> None:
    r = post(
        client,
        {
            "key": KEY,
            "email": "Jane@Acme-Robotics.example",
            "events": [
                page(f"{ORIGIN}/?utm_campaign=spring&utm_source=newsletter", id="e1"),
                page(f"{ORIGIN}/pricing", id="e2"),
                {
                    "id": "e3",
                    "type": "download",
                    "url": f"{ORIGIN}/files/guide.pdf",
                    "title": "Guide",
                },
                {"id": "e4", "type": "webinar", "title": "Q3 roadmap"},
                {"id": "e5", "type": "video", "title": "Tour", "percent": 50},
                {"id": "e6", "type": "custom", "name": "trial_started"},
            ],
        },
    )
    assert r.status_code == 200, r.text
    assert r.headers["access-control-allow-origin"] == ORIGIN
    assert r.json() == {
        "status": "accepted",
        "recorded": 6,
        "duplicate": 0,
        "anonymous": 0,
        "joined": 0,
        "ignored": 0,
        "dropped": {},
    }
    jane = lead(store, "jane@acme-robotics.example")
    assert jane.id is not None
    assert kinds(store, jane.id) == [
        "page_visit",
        "page_visit",
        "download",
        "webinar",
        "video",
        "event",
    ]
    reasons = {r["rule"] for r in jane.reasons}
    assert {"page-visits", "pricing-page", "downloads", "other-activity"} <= reasons
    assert jane.source == "web:www"
    assert jane.first_touch is not None
    assert jane.first_touch["utm_campaign"] == "spring" and jane.first_touch["channel"] == "web"
    assert jane.fields == {}  # a page view says what they did, not who they are


def test_the_same_event_twice_is_one_activity(client: TestClient, store: Store) -> None:
    body = {"key": KEY, "email": "sam@acme.example", "events": [page(f"{ORIGIN}/a", id="same")]}
    assert post(client, body).json()["recorded"] == 1
    again = post(client, body).json()
    assert (again["recorded"], again["duplicate"]) == (0, 1)
    anon = {"key": KEY, "visitor": VISITOR, "events": [page(f"{ORIGIN}/b", id="anon-1")]}
    assert post(client, anon).json()["anonymous"] == 1
    assert post(client, anon).json() | {"dropped": {}} == {
        "status": "accepted",
        "recorded": 0,
        "duplicate": 1,
        "anonymous": 0,
        "joined": 0,
        "ignored": 0,
        "dropped": {},
    }
    sam = lead(store, "sam@acme.example")
    assert sam.id is not None and kinds(store, sam.id) == ["page_visit"]
    assert len(anonymous(store)) == 1


# --- anonymous visitors -----------------------------------------------------------------------


def test_anonymous_visits_join_the_lead_when_the_form_names_the_visitor(
    client: TestClient, store: Store
) -> None:
    t0 = int((utcnow() - timedelta(minutes=10)).timestamp() * 1000)
    events = [
        page(f"{ORIGIN}/?utm_campaign=launch", id="p1", ts=t0),
        page(f"{ORIGIN}/pricing", id="p2", ts=t0 + 60_000),
        {"id": "d1", "type": "download", "url": f"{ORIGIN}/whitepaper.pdf", "ts": t0 + 90_000},
    ]
    r = post(client, {"key": KEY, "visitor": VISITOR, "events": events})
    assert r.json()["anonymous"] == 3
    assert {a.kind for a in anonymous(store)} == {"page_visit", "download"}
    with store.session() as s:
        assert s.exec(select(Lead)).all() == []
    form = client.post(
        "/forms/demo",
        data={"email": "ann@bigco.example", "name": "Ann", "_lb_vid": VISITOR},
        headers={"accept": "application/json"},
    )
    assert form.status_code == 201, form.text
    ann = lead(store, "ann@bigco.example")
    assert ann.id is not None
    assert kinds(store, ann.id) == ["page_visit", "page_visit", "download", "form_submission"]
    assert anonymous(store) == []
    assert ann.first_touch is not None and ann.first_touch["utm_campaign"] == "launch"
    assert ann.latest_touch is not None and ann.latest_touch["channel"] == "form"
    assert "lb_vid" not in ann.fields and "_lb_vid" not in ann.fields
    assert {"page-visits", "downloads", "pricing-page", "form-submission"} <= {
        r["rule"] for r in ann.reasons
    }
    with store.session() as s:
        visitor = s.get(TrackingVisitor, VISITOR)
        assert visitor is not None and visitor.lead_id == ann.id
    # From now on the visitor's events go to the lead directly.
    later = post(client, {"key": KEY, "visitor": VISITOR, "events": [page(f"{ORIGIN}/docs")]})
    assert (later.json()["recorded"], later.json()["anonymous"]) == (1, 0)
    assert kinds(store, ann.id)[-1] == "page_visit"


def test_an_identify_call_joins_the_visitor_and_creates_no_lead_alone(
    client: TestClient, store: Store
) -> None:
    post(client, {"key": KEY, "visitor": VISITOR, "events": [page(f"{ORIGIN}/x", id="x1")]})
    nobody = post(
        client,
        {
            "key": KEY,
            "visitor": "other-visitor-1",
            "events": [{"type": "identify", "email": "zed@z.example"}],
        },
    )
    assert nobody.json()["recorded"] == 0
    with store.session() as s:
        assert s.exec(select(Lead)).all() == []
    r = post(
        client,
        {
            "key": KEY,
            "visitor": VISITOR,
            "events": [{"type": "identify", "email": "kim@k.example"}],
        },
    )
    assert (r.json()["recorded"], r.json()["joined"]) == (1, 1)
    kim = lead(store, "kim@k.example")
    assert kim.id is not None and kinds(store, kim.id) == ["page_visit"]


def test_a_forgotten_person_is_not_tracked_again(client: TestClient, store: Store) -> None:
    body = {
        "key": KEY,
        "email": "gone@g.example",
        "visitor": VISITOR,
        "events": [page(f"{ORIGIN}/a")],
    }
    post(client, body)
    with store.session() as s:
        assert export_person(s, "gone@g.example")["visitor_ids"] == [VISITOR]
        forget_person(s, "gone@g.example", reason="request", by="test", suppress=True)
    with store.session() as s:
        assert s.get(TrackingVisitor, VISITOR) is None
    r = post(client, {**body, "events": [page(f"{ORIGIN}/b")]})
    assert (r.json()["recorded"], r.json()["ignored"]) == (0, 1)
    with store.session() as s:
        assert len(s.exec(select(Lead)).all()) == 1  # the tombstone only


# --- what the edge refuses or drops -----------------------------------------------------------


def test_robots_are_dropped_and_nothing_is_stored(client: TestClient, store: Store) -> None:
    body = {"key": KEY, "email": "bot@b.example", "events": [page(f"{ORIGIN}/")]}
    for agent in (
        "curl/8.5.0",
        "python-requests/2.32",
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "HeadlessChrome/126.0.0.0 Safari/537.36",
        "",
    ):
        r = post(client, body, **{"user-agent": agent})
        assert r.status_code == 200 and r.json()["dropped"] == {"bot": 1}, agent
    with store.session() as s:
        assert s.exec(select(Lead)).all() == []


def test_consent_required_drops_events_without_it(store: Store, tmp_path: Path) -> None:
    rt = _runtime(store, tmp_path, tracking_consent="required")
    with TestClient(create_app(rt)) as c:
        r = post(c, {"key": KEY, "email": "c@c.example", "events": [page(f"{ORIGIN}/")]})
        assert r.json()["dropped"] == {"consent": 1} and r.json()["recorded"] == 0
        r = post(
            c, {"key": KEY, "email": "c@c.example", "consent": True, "events": [page(f"{ORIGIN}/")]}
        )
        assert r.json()["recorded"] == 1
        assert "CONSENT_REQUIRED = true" in c.get("/t.js").text


def test_invalid_events_are_counted_not_stored(client: TestClient, store: Store) -> None:
    old = int((utcnow() - timedelta(days=30)).timestamp())
    r = post(
        client,
        {
            "key": KEY,
            "events": [
                page(f"{ORIGIN}/", email="not an address"),
                page("javascript:alert(1)", email="a@a.example"),
                {"type": "teleport", "email": "a@a.example"},
                {"type": "custom", "email": "a@a.example", "name": "<script>"},
                page(f"{ORIGIN}/"),  # nobody: no address, no visitor
                page(f"{ORIGIN}/old", email="a@a.example", ts=old),
                "not an object",
            ],
        },
    )
    assert r.status_code == 200
    assert r.json()["dropped"] == {"invalid": 5, "unidentified": 1, "stale": 1}
    with store.session() as s:
        assert s.exec(select(Lead)).all() == []


def test_the_edge_refuses_what_it_must(client: TestClient, rt: Runtime) -> None:
    body = {"key": KEY, "email": "e@e.example", "events": [page(f"{ORIGIN}/")]}
    assert post(client, {**body, "key": "wk_nobody_12345"}).status_code == 401
    assert post(client, {k: v for k, v in body.items() if k != "key"}).status_code == 401
    header_key = post(
        client, {k: v for k, v in body.items() if k != "key"}, **{"x-leadbot-key": KEY}
    )
    assert header_key.status_code == 200
    evil = post(client, body, origin="https://evil.example")
    assert evil.status_code == 403 and "access-control-allow-origin" not in evil.headers
    no_origin = client.post(
        "/events",
        content=json.dumps(body),
        headers={"content-type": "application/json", "user-agent": BROWSER},
    )
    assert no_origin.status_code == 403  # a site that names its origins: only its pages
    assert (
        post(client, {**body, "key": "wk_open_site_9876"}, origin="https://any.example").status_code
        == 200
    )
    assert (
        post(client, json.dumps(body).encode(), **{"content-type": "text/plain"}).status_code == 415
    )
    assert post(client, b"{not json").status_code == 422
    assert post(client, b"[1, 2]").status_code == 422
    assert post(client, b"[" * 100_000 + b"]" * 100_000).status_code == 413
    assert post(client, b"   ").status_code == 400
    huge = {**body, "events": [page(f"{ORIGIN}/{i}") for i in range(101)]}
    r = post(client, huge)
    assert r.status_code == 413 and "101" not in r.text
    assert r.json()["error"] == "more than 100 events in one batch"


def test_a_flood_gets_429(store: Store, tmp_path: Path) -> None:
    rt = _runtime(store, tmp_path, tracking_burst=2, tracking_rate_per_minute=1)
    with TestClient(create_app(rt)) as c:
        body = {"key": KEY, "visitor": VISITOR, "events": [page(f"{ORIGIN}/")]}
        assert [post(c, body).status_code for _ in range(3)] == [200, 200, 429]
        assert int(post(c, body).headers["retry-after"]) >= 1


def test_without_sites_events_are_off(store: Store) -> None:
    rt = build_runtime(make_settings(store.url), store=store)
    with TestClient(create_app(rt)) as c:
        r = post(c, {"key": KEY, "events": []})
        assert r.status_code == 404 and "LEADBOT_TRACKING_KEYS" in r.json()["error"]
        assert c.get("/t.js").status_code == 200


def test_preflight_answers_for_the_sites_origins(client: TestClient) -> None:
    ok = client.options(
        "/events",
        headers={"origin": ORIGIN, "access-control-request-method": "POST"},
    )
    assert ok.status_code == 204
    assert ok.headers["access-control-allow-origin"] == ORIGIN
    assert "Content-Type" in ok.headers["access-control-allow-headers"]
    # The open site allows any origin: a preflight cannot tell which site it is for.
    assert client.options("/events", headers={"origin": "https://x.example"}).status_code == 204
    assert client.options("/events").status_code == 403


def test_store_down_is_503(
    client: TestClient, rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt.store.engine.dispose()
    monkeypatch.setattr(rt.store, "engine", _broken_engine())
    r = post(client, {"key": KEY, "email": "d@d.example", "events": [page(f"{ORIGIN}/")]})
    assert r.status_code == 503 and r.headers["retry-after"]


def _broken_engine() -> Any:
    return sa.create_engine(
        "postgresql+psycopg://nobody@127.0.0.1:1/none", connect_args={"connect_timeout": 1}
    )


# --- the script -------------------------------------------------------------------------------


def test_the_script_is_first_party_and_csp_friendly(client: TestClient) -> None:
    r = client.get("/t.js")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/javascript; charset=utf-8"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["cross-origin-resource-policy"] == "cross-origin"
    text = r.text
    assert "http://" not in text and "https://" not in text  # no other host, ever
    for unsafe in ("eval(", "new Function", "innerHTML", "document.write", 'setAttribute("style"'):
        assert unsafe not in text
    assert "CONSENT_REQUIRED = false" in text and '"_lb_vid"' in text


# --- tracked links ----------------------------------------------------------------------------


def _link(
    rt: Runtime, store: Store, url: str, *, days: float = 30, campaign: str | None = "spring"
) -> str:
    with store.session() as s:
        jane = s.exec(select(Lead).where(Lead.email == "jane@acme.example")).one()
    assert jane.id is not None
    token = links.make_link(
        rt.secret.key(),
        lead_id=jane.id,
        url=url,
        campaign=campaign,
        expires_at=utcnow() + timedelta(days=days),
    )
    return f"/r/{token}"


@pytest.fixture
def jane(client: TestClient, store: Store) -> Lead:
    post(client, {"key": KEY, "email": "jane@acme.example", "events": [page(f"{ORIGIN}/")]})
    return lead(store, "jane@acme.example")


def test_a_tracked_link_records_the_click_and_redirects(
    client: TestClient, rt: Runtime, store: Store, jane: Lead
) -> None:
    path = _link(rt, store, "https://blog.example.org/post?id=7#top")
    r = client.get(path, headers={"user-agent": BROWSER}, follow_redirects=False)
    assert r.status_code == 302
    assert r.headers["location"] == "https://blog.example.org/post?id=7#top"  # not a site page
    assert r.headers["referrer-policy"] == "no-referrer"
    assert jane.id is not None and kinds(store, jane.id) == ["page_visit", "email_click"]
    # A second click at once (a mail scanner, a double click) is the same click.
    client.get(path, headers={"user-agent": BROWSER}, follow_redirects=False)
    assert kinds(store, jane.id).count("email_click") == 1
    again = lead(store, "jane@acme.example")
    assert again.latest_touch is not None and again.latest_touch["utm_campaign"] == "spring"
    assert again.latest_source == "link:spring"
    assert "email-clicks" in {r["rule"] for r in again.reasons}


def test_robots_and_head_requests_are_redirected_without_a_click(
    client: TestClient, rt: Runtime, store: Store, jane: Lead
) -> None:
    path = _link(rt, store, "https://blog.example.org/")
    assert (
        client.head(path, headers={"user-agent": BROWSER}, follow_redirects=False).status_code
        == 302
    )
    bot = client.get(path, headers={"user-agent": "curl/8"}, follow_redirects=False)
    assert bot.status_code == 302
    assert jane.id is not None and "email_click" not in kinds(store, jane.id)


def test_forged_altered_and_expired_links_go_nowhere(
    client: TestClient, rt: Runtime, store: Store, jane: Lead
) -> None:
    good = _link(rt, store, "https://blog.example.org/")
    payload, sig = good.removeprefix("/r/").split(".")
    body = json.loads(links.unb64(payload))
    forged_payload = links.b64(json.dumps({**body, "u": "https://evil.example/"}).encode())
    for path in (
        f"/r/{forged_payload}.{sig}",
        f"/r/{payload}.{'A' * len(sig)}",
        "/r/garbage",
        f"/r/{payload}",
        "/r/%E2%80%AE.%C3%A9",
        _link(rt, store, "https://blog.example.org/", days=-1),
    ):
        r = client.get(
            path, headers={"user-agent": BROWSER, "accept": "text/html"}, follow_redirects=False
        )
        assert r.status_code == 403 and "location" not in r.headers, path
        assert "evil" not in r.text
    assert jane.id is not None and "email_click" not in kinds(store, jane.id)


def test_a_fallback_address_takes_invalid_links(store: Store, tmp_path: Path) -> None:
    rt = _runtime(store, tmp_path, links_fallback_url="https://www.example.com/")
    with TestClient(create_app(rt)) as c:
        r = c.get("/r/forged.token", follow_redirects=False)
        assert r.status_code == 302 and r.headers["location"] == "https://www.example.com"


def test_a_link_to_a_site_page_hands_the_visitor_their_identity(
    client: TestClient, rt: Runtime, store: Store, jane: Lead
) -> None:
    post(client, {"key": KEY, "visitor": VISITOR, "events": [page(f"{ORIGIN}/blog", id="b1")]})
    r = client.get(
        _link(rt, store, f"{ORIGIN}/offer?x=1#form"),
        headers={"user-agent": BROWSER},
        follow_redirects=False,
    )
    location = r.headers["location"]
    assert location.startswith(f"{ORIGIN}/offer?x=1&lb_t=") and location.endswith("#form")
    token = location.split("lb_t=")[1].split("#")[0]
    # The landing page's script sends it with the visitor id: the visitor is Jane.
    ident = post(
        client, {"key": KEY, "visitor": VISITOR, "events": [{"type": "identify", "token": token}]}
    )
    assert ident.json()["joined"] == 1
    assert jane.id is not None
    assert kinds(store, jane.id) == ["page_visit", "page_visit", "email_click"]
    forged = post(
        client,
        {
            "key": KEY,
            "visitor": "another-visitor",
            "events": [{"type": "identify", "token": token + "x"}],
        },
    )
    assert forged.json()["dropped"] == {"invalid": 1}


def test_the_server_secret_is_made_once_and_kept(store: Store, tmp_path: Path) -> None:
    first = _runtime(store, tmp_path).secret.key()
    assert len(first) == 32 and _runtime(store, tmp_path).secret.key() == first
    configured = _runtime(store, tmp_path, secret_key="k" * 40).secret.key()
    assert configured == b"k" * 40
