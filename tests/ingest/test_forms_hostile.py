"""Hostile input at the forms edge: every answer a JSON 4xx or a success, never a 500 or a leak."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from sqlmodel import select
from starlette.testclient import TestClient

from bot.runtime import Runtime, build_runtime
from bot.web import create_app
from storage.db import Store
from storage.models import Lead, RawInput
from tests.conftest import make_settings

XSS = '"><script>alert(1)</script><img src=x onerror=alert(2)>'
FORMS_TOML = f"""
[defaults]
burst = 500
rate_per_minute = 600
[forms.site]
title = {json.dumps(XSS)}
allowed_origins = ["https://www.example.com"]
honeypot = {json.dumps('x" onfocus="alert(3)')}
fields = ["name", "email", "company", "message"]
[forms.hooked]
provider = "typeform"
secret = "tf-secret"
[forms.signed]
secret = "s3cret"
[forms.big]
max_body_bytes = 30000000
"""
JSON = {"accept": "application/json"}


@pytest.fixture
def rt(store: Store, tmp_path: Path) -> Runtime:
    (tmp_path / "forms.toml").write_text(FORMS_TOML)
    settings = make_settings(store.url, LEADBOT_FORMS=str(tmp_path / "forms.toml"))
    return build_runtime(settings, store=store)


@pytest.fixture
def client(rt: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(rt), raise_server_exceptions=False) as c:
        yield c


def leads(store: Store) -> list[Lead]:
    with store.session() as s:
        return list(s.exec(select(Lead)).all())


class Tags(HTMLParser):
    """Every start tag and attribute a browser would build from the page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def test_embed_and_thanks_escape_configured_text(client: TestClient) -> None:
    for path in ("/forms/site/embed", "/forms/site/thanks"):
        page = client.get(path)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        parser = Tags()
        parser.feed(page.text)
        names = [t for t, _ in parser.tags]
        assert "img" not in names and names.count("script") <= 1  # only our own UTM script
        assert not [a for _, attrs in parser.tags for a, _ in attrs if a.startswith("on")]
    for key in ("<script>", "a%22onmouseover%3D1", "..%2F..%2Fetc", "x" * 300, "%00"):
        resp = client.get(f"/forms/{key}/embed")
        assert resp.status_code in (404, 405), key
        assert resp.headers["content-type"].startswith("application/json")
        assert "<script>" not in resp.text


def test_hostile_field_values_are_stored_as_text(client: TestClient, store: Store) -> None:
    resp = client.post(
        "/forms/site",
        data={"email": "jane@acme.example", "name": XSS, "company": "<b>Acme</b>",
              "message": XSS * 3},
        headers=JSON,
    )  # fmt: skip
    assert resp.status_code == 201, resp.text
    [lead] = leads(store)
    assert lead.name == XSS and lead.company == "<b>Acme</b>"


@pytest.mark.parametrize(
    "email",
    [
        "jane@x.com\nBcc: y@evil.example",
        "jane@x.com\r\nBcc: y@evil.example",
        "jane@x.com%0ABcc:y@evil.example",
        "jane@x.com, y@evil.example",
        "j\u0430ne@acme.example",  # a Cyrillic a: looks exactly like jane@acme.example
        "jane\uff20acme.example",  # fullwidth commercial at
        "jane@acme.example\u202e",
        "jane@\u0430cme.com\u200b",  # Cyrillic a plus a zero-width space
        "x" * 400 + "@acme.example",
    ],
)
def test_hostile_emails_are_422(email: str, client: TestClient, store: Store) -> None:
    resp = client.post("/forms/site", data={"email": email, "name": "Jane"}, headers=JSON)
    assert resp.status_code == 422, (email, resp.text)
    assert resp.json()["field"] == "email"
    assert leads(store) == []


def test_newlines_in_names_never_reach_one_line_fields(client: TestClient, store: Store) -> None:
    resp = client.post(
        "/forms/site",
        data={"email": "jane@acme.example", "name": "Jane\r\nBcc: y@evil.example",
              "company": "Acme\nX-Header: 1"},
        headers=JSON,
    )  # fmt: skip
    assert resp.status_code == 201
    [lead] = leads(store)
    assert "\n" not in (lead.name or "") and "\r" not in (lead.name or "")
    assert "\n" not in (lead.company or "")


@pytest.mark.parametrize(
    "body",
    [
        b"[1, 2, 3]",
        b'"just a string"',
        b"null",
        b"12345",
        b'{"email": {"nested": {"deeper": "jane@acme.example"}}}',
        b'{"email": ["a@acme.example", "b@acme.example"]}',
        b'{"email": "jane@acme.example", "n": ' + b"9" * 5000 + b"}",
        b'{"email": "jane@acme.example", "n": 1e999}',
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
        b'{"email": "jane@acme.example", "name": "\xff\xfe"}',
        b'{"email": "jane@acme.example", "email": "evil@evil.example"}',
    ],
)
def test_odd_json_bodies_get_a_json_answer(body: bytes, client: TestClient) -> None:
    resp = client.post(
        "/forms/big", content=body, headers={**JSON, "content-type": "application/json"}
    )
    assert resp.status_code in (201, 400, 422), (body[:60], resp.status_code, resp.text[:200])
    assert "error" in resp.json() or resp.json()["status"] == "accepted"


def test_duplicate_fields_and_odd_encodings(client: TestClient, store: Store) -> None:
    dup = client.post(
        "/forms/site",
        content=b"email=jane%40acme.example&email=evil%40evil.example&name=A&name=B",
        headers={**JSON, "content-type": "application/x-www-form-urlencoded"},
    )
    assert dup.status_code in (201, 422), dup.text
    bad_utf8 = client.post(
        "/forms/site",
        content=b"email=jo%40acme.example&name=Jos%E9%FF",
        headers={**JSON, "content-type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    assert bad_utf8.status_code == 201, bad_utf8.text
    boundary = "XyZ"
    part = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="email"\r\n'
        "Content-Type: text/plain; charset=no-such-charset\r\n\r\nmu@acme.example\r\n"
        f"--{boundary}--\r\n"
    ).encode()
    multipart = client.post(
        "/forms/site",
        content=part,
        headers={**JSON, "content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert multipart.status_code == 201, multipart.text
    for ctype in ("text/plain", "application/xml", "multipart/form-data", ""):
        resp = client.post("/forms/site", content=b"email=a@b.example", headers={
            **JSON, "content-type": ctype})  # fmt: skip
        assert resp.status_code in (400, 415, 422), (ctype, resp.status_code)
        assert resp.json()["error"]


def test_multipart_floods_are_refused(client: TestClient, store: Store) -> None:
    boundary = "B0undary"
    fields = "".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="f{i}"\r\n\r\nv\r\n'
        for i in range(1001)
    )
    body = (fields + f"--{boundary}--\r\n").encode()
    headers = {**JSON, "content-type": f"multipart/form-data; boundary={boundary}"}
    many = client.post("/forms/big", content=body, headers=headers)
    assert many.status_code == 422 and "too many" in many.json()["error"]
    twenty_mb = client.post(
        "/forms/site",
        files={"cv": ("cv.pdf", b"%PDF" + b"0" * 20_000_000, "application/pdf")},
        data={"email": "jane@acme.example"},
        headers=JSON,
    )
    assert twenty_mb.status_code == 413 and twenty_mb.json()["error"]
    with store.session() as s:
        assert all(len(r.content) < 300_000 for r in s.exec(select(RawInput)).all())


def test_cors_preflight_and_signatures(client: TestClient, store: Store) -> None:
    evil = {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    pre = client.options("/forms/site", headers=evil)
    assert pre.status_code == 403 and "access-control-allow-origin" not in pre.headers
    ok = client.options("/forms/site", headers={**evil, "Origin": "https://www.example.com"})
    assert ok.status_code == 204
    assert ok.headers["access-control-allow-origin"] == "https://www.example.com"
    body = json.dumps({"email": "jane@acme.example"}).encode()
    digest = hmac.new(b"s3cret", body, hashlib.sha256)
    ctype = {**JSON, "content-type": "application/json"}
    header: str | bytes
    for header in (
        "sha256=" + base64.b64encode(digest.digest()).decode(),  # base64 where hex is expected
        "sha256=" + digest.hexdigest().upper() + "00",
        "sha1=" + digest.hexdigest(),
        "sha256=\u00e9\u00e9".encode("latin-1"),
        digest.hexdigest(),
    ):
        resp = client.post("/forms/signed", content=body, headers={**ctype,
                           "X-LeadBot-Signature": header})  # fmt: skip
        assert resp.status_code == 401, header
    good = client.post("/forms/signed", content=body, headers={
        **ctype, "X-LeadBot-Signature": "sha256=" + digest.hexdigest()})  # fmt: skip
    assert good.status_code == 201
    hex_not_b64 = client.post("/webhooks/typeform/hooked", content=body, headers={
        **ctype, "Typeform-Signature": "sha256=" + hmac.new(b"tf-secret", body,
        hashlib.sha256).hexdigest()})  # fmt: skip
    assert hex_not_b64.status_code == 401


def test_x_forwarded_for_is_not_trusted_by_default(store: Store, tmp_path: Path) -> None:
    (tmp_path / "forms.toml").write_text("[defaults]\nburst = 2\nrate_per_minute = 1\n")
    rt = build_runtime(
        make_settings(store.url, LEADBOT_FORMS=str(tmp_path / "forms.toml")), store=store
    )
    with TestClient(create_app(rt), raise_server_exceptions=False) as c:
        codes = [
            c.post("/forms/f", data={"email": f"u{i}@acme.example"},
                   headers={**JSON, "X-Forwarded-For": f"10.0.0.{i}"}).status_code
            for i in range(4)
        ]  # fmt: skip
    assert codes == [201, 201, 429, 429]  # a spoofed header does not buy a fresh bucket


@pytest.mark.parametrize("provider", ["typeform", "webflow", "netlify", "hubspot", "tally"])
def test_provider_payloads_of_the_wrong_shape_are_read_not_crashed_on(
    provider: str, client: TestClient
) -> None:
    for shape in ({"form_response": "x"}, {"form_response": {"answers": "x", "definition": 5}},
                  {"payload": {"data": "x"}}, {"data": {"fields": "x"}}, {"fields": "x"},
                  {"data": "x"}, {"context": "x", "fields": [{"name": "email", "value": "x"}]},
                  {"data": {"fields": [{"label": "a", "value": {"k": 1}, "options": [{"id": "o"}]},
                                       {"label": "b", "value": "o", "options": "y"}]}}):  # fmt: skip
        resp = client.post(f"/webhooks/{provider}/any-key", json=shape, headers=JSON)
        assert resp.status_code == 422, (provider, shape, resp.text)
        assert "internal error" not in resp.json()["error"], (provider, shape)
