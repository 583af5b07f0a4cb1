"""POST /inbound/{provider} through the real ASGI app, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import email
import hashlib
import hmac
import json
import secrets
import socket
import time
from collections.abc import Iterator
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select
from starlette.testclient import TestClient

from bot.runtime import Runtime, build_runtime
from bot.web import create_app
from storage.db import Store
from storage.models import Lead, RawInput
from tests.conftest import DATA, make_settings

INBOUND = DATA / "inbound"
RAW = (INBOUND / "inquiry-latin1.eml").read_bytes()
MG_KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"
SECRETS = {
    "sendgrid_secret": "sg-shared-secret",
    "postmark_secret": "pm-shared-secret",
    "mailgun_signing_key": MG_KEY,
}


def _runtime(store: Store, **overrides: object) -> Runtime:
    settings = make_settings(store.url, **{**SECRETS, "max_message_bytes": 200_000, **overrides})
    return build_runtime(settings, store=store)


@pytest.fixture
def app_runtime(store: Store) -> Runtime:
    return _runtime(store)


@pytest.fixture
def client(app_runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(app_runtime), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def sqlite_store(sqlite_url: str) -> Iterator[Store]:
    """Refusals never reach the database: one backend is enough for them."""
    s = Store(sqlite_url)
    yield s
    s.dispose()


@pytest.fixture
def light_client(sqlite_store: Store) -> Iterator[TestClient]:
    with TestClient(create_app(_runtime(sqlite_store)), raise_server_exceptions=False) as c:
        yield c


def raws(store: Store) -> list[RawInput]:
    with store.session() as s:
        return list(s.exec(select(RawInput).order_by(RawInput.id)))  # type: ignore[arg-type]


def lead(store: Store, address: str) -> Lead | None:
    with store.session() as s:
        return s.exec(select(Lead).where(Lead.email == address)).first()


def mailgun_signed(key: str = MG_KEY, *, timestamp: int | None = None) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    token = secrets.token_hex(25)
    sig = hmac.new(key.encode(), (ts + token).encode(), hashlib.sha256).hexdigest()
    return {"timestamp": ts, "token": token, "signature": sig}


# --- SendGrid -------------------------------------------------------------------------------


def test_sendgrid_raw_mode_stores_exact_bytes_and_makes_the_lead(
    client: TestClient, store: Store
) -> None:
    envelope = json.dumps({"to": ["leads@leads.example.com"], "from": "dana@acme-robotics.example"})
    r = client.post(
        "/inbound/sendgrid?key=sg-shared-secret",
        files={"email": (None, RAW), "envelope": (None, envelope), "to": (None, "leads@x")},
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "accepted" and r.json()["mode"] == "raw"
    [row] = raws(store)
    assert row.content == RAW  # byte-exact, including the 8-bit 0xFC
    assert row.kind == "email" and row.channel == "inbound:sendgrid"
    assert row.envelope["envelope"]["from"] == "dana@acme-robotics.example"
    assert row.status == "processed", row.reason
    found = lead(store, "dana@acme-robotics.example")
    assert found is not None and found.name == "Dana Whitfield"

    again = client.post("/inbound/sendgrid?key=sg-shared-secret", files={"email": (None, RAW)})
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert len(raws(store)) == 1


@pytest.mark.parametrize(
    ("how", "status"),
    [("none", 401), ("wrong-query", 401), ("header", 200), ("basic", 200), ("basic-wrong", 401)],
)
def test_sendgrid_shared_secret(
    light_client: TestClient, sqlite_store: Store, how: str, status: int
) -> None:
    url, headers = "/inbound/sendgrid", {}
    if how == "wrong-query":
        url += "?key=guess"
    elif how == "header":
        headers["X-LeadBot-Key"] = "sg-shared-secret"
    elif how.startswith("basic"):
        password = "sg-shared-secret" if how == "basic" else "nope"
        headers["Authorization"] = "Basic " + base64.b64encode(f"sg:{password}".encode()).decode()
    r = light_client.post(url, files={"email": (None, RAW)}, headers=headers)
    assert r.status_code == status, r.text
    if status == 401:
        assert "error" in r.json() and r.headers["www-authenticate"].startswith("Basic")
        assert raws(sqlite_store) == []  # checked before storing
    else:
        assert len(raws(sqlite_store)) == 1


def test_sendgrid_parsed_mode_is_rebuilt_and_retries_deduplicate(
    client: TestClient, store: Store
) -> None:
    headers = (
        "Received: by mx0047p1mdw1.sendgrid.net with SMTP id 6WCVv7KAWn\n"
        "From: =?utf-8?q?Ren=C3=A9e_Laurent?= <renee@initech.example>\n"
        "To: leads@leads.example.com\n"
        "Subject: Quote for 25 licences\n"
        "Date: Thu, 6 Mar 2025 14:02:11 +0100\n"
        "Message-ID: <parsed-mode-1@initech.example>\n"
        "Content-Type: multipart/alternative; boundary=xYzZY\n"
        "MIME-Version: 1.0\n"
    )
    fields = {
        "headers": headers,
        "from": "Renée Laurent <renee@initech.example>",
        "to": "leads@leads.example.com",
        "subject": "Quote for 25 licences",
        "text": "Bonjour, we need a quote for 25 licences. Merci, Renée",
        "html": "<p>Bonjour, we need a quote for 25 licences.</p>",
        "charsets": json.dumps({"text": "iso-8859-1", "html": "utf-8", "headers": "utf-8"}),
        "attachments": "1",
        "attachment-info": json.dumps(
            {"attachment1": {"filename": "rfq.txt", "type": "text/plain"}}
        ),
    }
    parts: dict[str, Any] = {k: (None, v.encode("utf-8")) for k, v in fields.items()}
    # the text field is declared ISO-8859-1 in `charsets`: send it that way
    parts["text"] = (None, fields["text"].encode("iso-8859-1"))
    parts["attachment1"] = ("rfq.txt", b"25 seats, annual billing", "text/plain")
    r1 = client.post("/inbound/sendgrid", params={"key": "sg-shared-secret"}, files=parts)
    assert r1.status_code == 200, r1.text
    assert r1.json()["mode"] == "rebuilt"
    r2 = client.post("/inbound/sendgrid", params={"key": "sg-shared-secret"}, files=parts)
    assert r2.json()["status"] == "duplicate"  # rebuilt deterministically: same bytes
    [row] = raws(store)
    msg = email.message_from_bytes(row.content, policy=default_policy)
    assert msg["Message-ID"] == "<parsed-mode-1@initech.example>"
    assert msg.get_content_type() == "multipart/mixed"
    body = msg.get_body(preferencelist=("plain",))
    assert body is not None and "Renée" in body.get_content()
    [attachment] = list(msg.iter_attachments())
    assert attachment.get_filename() == "rfq.txt"
    assert row.status == "processed", row.reason
    found = lead(store, "renee@initech.example")
    assert found is not None and found.name == "Renée Laurent"


def test_sendgrid_malformed_bodies_get_400(light_client: TestClient, sqlite_store: Store) -> None:
    url = "/inbound/sendgrid?key=sg-shared-secret"
    assert (
        light_client.post(
            url, content=b"{}", headers={"content-type": "application/json"}
        ).status_code
        == 400
    )
    r = light_client.post(url, files={"subject": (None, b"no message here")})
    assert r.status_code == 400 and "email" in r.json()["error"]
    r = light_client.post(url, files={"email": (None, b"just some words, no header\r\n")})
    assert r.status_code == 400 and "header" in r.json()["error"]
    r = light_client.post(
        url, content=b"--x\r\nbroken", headers={"content-type": "multipart/form-data"}
    )
    assert r.status_code == 400
    assert raws(sqlite_store) == []


# --- Mailgun --------------------------------------------------------------------------------


def test_mailgun_mime_route_with_valid_signature(client: TestClient, store: Store) -> None:
    form = {
        **mailgun_signed(),
        "recipient": "leads@leads.example.com",
        "sender": "dana@acme-robotics.example",
    }
    files = {k: (None, v) for k, v in form.items()} | {"body-mime": (None, RAW)}
    r = client.post("/inbound/mailgun/mime", files=files)
    assert r.status_code == 200, r.text
    [row] = raws(store)
    assert row.content == RAW and row.channel == "inbound:mailgun"
    assert row.envelope["recipient"] == "leads@leads.example.com"
    assert "signature" not in row.envelope and "token" not in row.envelope
    assert lead(store, "dana@acme-robotics.example") is not None

    replay = client.post("/inbound/mailgun", files=files)  # same token, even with a valid signature
    assert replay.status_code == 403 and "replay" in replay.json()["error"]


@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("bad-signature", 401),
        ("wrong-key", 401),
        ("stale", 403),
        ("future", 403),
        ("unsigned", 401),
    ],
)
def test_mailgun_refuses_bad_signatures_before_storing(
    light_client: TestClient, sqlite_store: Store, case: str, status: int
) -> None:
    now = int(time.time())
    signed = {
        "bad-signature": {**mailgun_signed(), "signature": "0" * 64},
        "wrong-key": mailgun_signed("another-key"),
        "stale": mailgun_signed(timestamp=now - 3600),
        "future": mailgun_signed(timestamp=now + 3600),
        "unsigned": {},
    }[case]
    files = {k: (None, v) for k, v in signed.items()} | {"body-mime": (None, RAW)}
    r = light_client.post("/inbound/mailgun", files=files)
    assert r.status_code == status, r.text
    assert r.json()["error"]
    assert raws(sqlite_store) == []


def test_mailgun_parsed_route_urlencoded(client: TestClient, store: Store) -> None:
    headers = [
        ["From", "Kofi Mensah <kofi@umbrella-health.example>"],
        ["To", "leads@leads.example.com"],
        ["Subject", "Pilot for three clinics"],
        ["Message-Id", "<mg-parsed-7@umbrella-health.example>"],
        ["Content-Type", "text/plain; charset=utf-8"],
    ]
    form = {
        **mailgun_signed(),
        "message-headers": json.dumps(headers),
        "body-plain": "We would like to pilot your product in three clinics.",
        "from": "Kofi Mensah <kofi@umbrella-health.example>",
    }
    r = client.post("/inbound/mailgun", data=form)
    assert r.status_code == 200, r.text
    [row] = raws(store)
    msg = email.message_from_bytes(row.content, policy=default_policy)
    assert msg["Message-Id"] == "<mg-parsed-7@umbrella-health.example>"
    assert lead(store, "kofi@umbrella-health.example") is not None


def test_mailgun_without_signing_key_refuses(sqlite_store: Store) -> None:
    rt = _runtime(sqlite_store, mailgun_signing_key=None)
    with TestClient(create_app(rt)) as c:
        files = {k: (None, v) for k, v in mailgun_signed().items()} | {"body-mime": (None, RAW)}
        r = c.post("/inbound/mailgun", files=files)
    assert r.status_code == 401 and "LEADBOT_MAILGUN_SIGNING_KEY" in r.json()["error"]


# --- Postmark -------------------------------------------------------------------------------


def _postmark_payload() -> dict[str, Any]:
    return json.loads((INBOUND / "postmark-inbound.json").read_text())


def test_postmark_json_with_basic_auth_is_rebuilt(client: TestClient, store: Store) -> None:
    auth = ("postmark", "pm-shared-secret")
    r = client.post("/inbound/postmark", json=_postmark_payload(), auth=auth)
    assert r.status_code == 200, r.text
    [row] = raws(store)
    assert row.channel == "inbound:postmark" and row.envelope["MessageID"].startswith("73e6d360")
    msg = email.message_from_bytes(row.content, policy=default_policy)
    assert msg["Message-ID"] == "<CAKx9Qp2demo@mail.globex-logistics.example>"
    assert msg["X-Spam-Status"] == "No"
    assert [a.get_filename() for a in msg.iter_attachments()] == ["depots.csv"]
    [csv] = list(msg.iter_attachments())
    assert csv.get_content() == "depot,city\n1,Lyon\n2,Genoa\n"
    found = lead(store, "priya@globex-logistics.example")
    assert found is not None and found.name == "Priya Natarajan"
    # Postmark retries the same JSON: the same bytes, one row
    assert client.post("/inbound/postmark", json=_postmark_payload(), auth=auth).json()[
        "status"
    ] == ("duplicate")


def test_postmark_raw_email_field_is_stored_as_is(client: TestClient, store: Store) -> None:
    payload = _postmark_payload() | {"RawEmail": RAW.decode("latin-1").replace("\xfc", "ü")}
    r = client.post("/inbound/postmark?key=pm-shared-secret", json=payload)
    assert r.status_code == 200 and r.json()["mode"] == "raw"
    [row] = raws(store)
    assert row.content.startswith(b"Return-Path: <dana@acme-robotics.example>")
    assert lead(store, "dana@acme-robotics.example") is not None


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 400),
        (b"[1, 2]", 400),
        (json.dumps({"Subject": "no sender"}).encode(), 400),
        (json.dumps({"From": "a@b.example", "Attachments": [{"Content": "%%%"}]}).encode(), 400),
    ],
)
def test_postmark_malformed(
    light_client: TestClient, sqlite_store: Store, body: bytes, status: int
) -> None:
    r = light_client.post(
        "/inbound/postmark",
        content=body,
        headers={"content-type": "application/json", "X-LeadBot-Key": "pm-shared-secret"},
    )
    assert r.status_code == status and r.json()["error"]
    assert raws(sqlite_store) == []


def test_postmark_without_credentials(light_client: TestClient, sqlite_store: Store) -> None:
    assert light_client.post("/inbound/postmark", json=_postmark_payload()).status_code == 401
    # the SendGrid secret is not the Postmark one
    r = light_client.post("/inbound/postmark?key=sg-shared-secret", json=_postmark_payload())
    assert r.status_code == 401
    assert raws(sqlite_store) == []


# --- limits, unknown providers, store outages -----------------------------------------------


def test_over_the_size_limit_is_413(sqlite_store: Store) -> None:
    store = sqlite_store
    rt = _runtime(store, max_message_bytes=2_000)
    big = RAW + b"x" * 3_000 + b"\r\n"
    with TestClient(create_app(rt)) as c:
        r = c.post("/inbound/sendgrid?key=sg-shared-secret", files={"email": (None, big)})
        assert r.status_code == 413 and "limit" in r.json()["error"]
        # a body far over the limit is refused from its Content-Length, before it is read
        r = c.post("/inbound/sendgrid?key=sg-shared-secret", files={"email": (None, big * 400)})
        assert r.status_code == 413
    assert raws(store) == []


def test_unknown_provider_is_404(light_client: TestClient) -> None:
    r = light_client.post("/inbound/sparkpost", content=b"x")
    assert r.status_code == 404 and "sendgrid" in r.json()["error"]
    assert light_client.get("/inbound/sendgrid").status_code == 405


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_store_down_answers_503_so_the_provider_retries(tmp_path: Path, backend: str) -> None:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'missing-dir' / 'leadbot.db'}"
    else:
        url = f"postgresql+psycopg://postgres@127.0.0.1:{_free_port()}/leadbot"  # nobody listens
    down = Store(url)
    rt = build_runtime(make_settings(url, **SECRETS), store=down)
    with TestClient(create_app(rt)) as c:
        r = c.post("/inbound/sendgrid?key=sg-shared-secret", files={"email": (None, RAW)})
        assert r.status_code == 503 and r.headers["retry-after"] == "30"
        assert "retry" in r.json()["error"]
        files = {k: (None, v) for k, v in mailgun_signed().items()} | {"body-mime": (None, RAW)}
        assert c.post("/inbound/mailgun", files=files).status_code == 503
        # the token was not burnt by the failed attempt: the provider's retry is accepted later
        assert not rt.inbound_tokens.seen(files["token"][1], now=time.time())
    down.dispose()
