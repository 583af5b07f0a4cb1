"""POST /forms/{key} through the real ASGI app, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import select
from starlette.testclient import TestClient

from bot.cli import main
from bot.runtime import Runtime, build_runtime
from bot.web import create_app
from ingest.facts import lead_facts
from storage.db import Store
from storage.models import Activity, Lead, RawInput
from tests.conftest import make_settings

FORMS_TOML = """
[defaults]
burst = 50
[forms.pricing]
title = "Talk to sales"
thank_you_url = "https://www.example.com/thanks"
allowed_origins = ["https://www.example.com"]
honeypot = "fax_number"
required = ["email", "company"]
mapping = { q7 = "company" }
[forms.signed]
secret = "s3cret-form-key"
[forms.tiny]
max_body_bytes = 200
rate_per_minute = 60
burst = 2
"""
JSON_ACCEPT = {"accept": "application/json"}


def _runtime(store: Store, tmp_path: Path, **overrides: object) -> Runtime:
    forms = tmp_path / "forms.toml"
    forms.write_text(FORMS_TOML)
    return build_runtime(
        make_settings(store.url, LEADBOT_FORMS=str(forms), **overrides), store=store
    )


@pytest.fixture
def rt(store: Store, tmp_path: Path) -> Runtime:
    return _runtime(store, tmp_path)


@pytest.fixture
def client(rt: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(rt), raise_server_exceptions=False) as c:
        yield c


def raws(store: Store) -> list[RawInput]:
    with store.session() as s:
        return list(s.exec(select(RawInput).order_by(RawInput.id)))  # type: ignore[arg-type]


def get_lead(store: Store, email: str) -> Lead | None:
    with store.session() as s:
        return s.exec(select(Lead).where(Lead.email == email)).first()


def activities(store: Store, lead_id: int) -> list[Activity]:
    with store.session() as s:
        stmt = select(Activity).where(
            Activity.lead_id == lead_id, Activity.kind == "form_submission"
        )
        return list(s.exec(stmt))


FIELDS = {
    "Email Address": "Ann.Lee@Acme-Robotics.example",
    "Full Name": "Ann Lee",
    "q7": "Acme Robotics",
    "tel": "+44 20 7946 0958",
    "your-message": "We need a quote for 50 seats, budget approved.",
    "utm_campaign": "spring-sale",
    "utm_source": "google",
    "page_url": "https://www.example.com/pricing",
    "Team Size": "51-200",
}


def _check_lead(store: Store, lead_id: int) -> None:
    lead = get_lead(store, "ann.lee@acme-robotics.example")
    assert lead is not None and lead.id == lead_id
    assert (lead.name, lead.company, lead.phone, lead.country) == (
        "Ann Lee",
        "Acme Robotics",
        "+442079460958",
        "GB",
    )
    assert lead.source == "form:pricing"
    assert lead.fields["team_size"] == "51-200" and lead.fields["utm_campaign"] == "spring-sale"
    [activity] = activities(store, lead_id)
    assert "50 seats" in activity.data["text"]


def test_urlencoded_post_makes_a_lead_and_answers_201(client: TestClient, store: Store) -> None:
    r = client.post("/forms/pricing", data=FIELDS, headers=JSON_ACCEPT)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "accepted" and body["duplicate"] is False
    _check_lead(store, body["lead_id"])
    [raw] = raws(store)
    assert raw.kind == "form" and raw.channel == "form:pricing" and raw.status == "processed"
    assert raw.envelope["form_key"] == "pricing" and raw.envelope["config"]["mapping"] == {
        "q7": "company"
    }


def test_multipart_post(client: TestClient, store: Store) -> None:
    files = {k: (None, v) for k, v in FIELDS.items()} | {
        "brief": ("brief.pdf", b"%PDF-1.4 x", "application/pdf")
    }
    r = client.post("/forms/pricing", files=files, headers=JSON_ACCEPT)
    assert r.status_code == 201, r.text
    _check_lead(store, r.json()["lead_id"])
    lead = get_lead(store, "ann.lee@acme-robotics.example")
    assert lead is not None and lead.fields["brief"] == "brief.pdf (10 bytes)"


def test_json_post(client: TestClient, store: Store) -> None:
    r = client.post("/forms/pricing", json=FIELDS)
    assert r.status_code == 201, r.text
    _check_lead(store, r.json()["lead_id"])


def test_browser_post_is_redirected_to_the_thank_you_page(client: TestClient, store: Store) -> None:
    r = client.post(
        "/forms/pricing",
        data=FIELDS,
        headers={"accept": "text/html,application/xhtml+xml", "origin": "https://www.example.com"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "https://www.example.com/thanks"
    assert r.headers["access-control-allow-origin"] == "https://www.example.com"
    assert get_lead(store, "ann.lee@acme-robotics.example") is not None
    # an unconfigured form key falls back to LeadBot's own thank-you page
    r = client.post(
        "/forms/newsletter",
        data={"email": "b@b.example"},
        headers={"accept": "text/html"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].endswith("/forms/newsletter/thanks")
    assert "Thank you" in client.get(r.headers["location"]).text


def test_missing_or_invalid_email_is_422_naming_the_field_and_archived(
    client: TestClient, store: Store
) -> None:
    r = client.post("/forms/pricing", data={"name": "Ann", "company": "Acme"})
    assert r.status_code == 422
    assert r.json()["field"] == "email" and r.json()["error"] == "missing email"
    r = client.post("/forms/pricing", json={"email": "ann@", "company": "Acme"})
    assert (
        r.status_code == 422
        and r.json()["field"] == "email"
        and "invalid email" in r.json()["error"]
    )
    r = client.post("/forms/pricing", json={"email": "ann@acme.example"})
    assert r.status_code == 422 and r.json()["field"] == "company"
    kept = raws(store)
    assert [raw.status for raw in kept] == ["failed"] * 3
    assert kept[0].reason == "missing email"
    with store.session() as s:
        assert s.exec(select(Lead)).first() is None


def test_mapping_fixed_later_then_reprocess_reads_the_kept_submission(
    store: Store, tmp_path: Path
) -> None:
    rt = _runtime(store, tmp_path)
    with TestClient(create_app(rt)) as c:
        r = c.post("/forms/survey", json={"contact_addr": "zoe@zeta.example"})
        assert r.status_code == 422 and r.json()["field"] == "email"
    (tmp_path / "fixed").mkdir()
    (tmp_path / "fixed" / "forms.toml").write_text(
        '[forms.survey]\nmapping = { contact_addr = "email" }\n'
    )
    fixed = build_runtime(
        make_settings(store.url, LEADBOT_FORMS=str(tmp_path / "fixed" / "forms.toml")), store=store
    )
    assert fixed.pipeline.reprocess_failed() == 1
    assert get_lead(store, "zoe@zeta.example") is not None


def test_same_submission_twice_is_one_activity(client: TestClient, store: Store) -> None:
    first = client.post("/forms/pricing", json=FIELDS)
    second = client.post("/forms/pricing", json=FIELDS)
    assert first.status_code == second.status_code == 201
    assert second.json()["lead_id"] == first.json()["lead_id"]
    assert len(activities(store, first.json()["lead_id"])) == 1


def test_honeypot_is_archived_as_spam_and_answered_like_success(
    client: TestClient, store: Store
) -> None:
    r = client.post(
        "/forms/pricing",
        data={**FIELDS, "fax_number": "555"},
        headers={"accept": "text/html"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "https://www.example.com/thanks"
    r = client.post("/forms/pricing", json={**FIELDS, "fax_number": "1"})
    assert r.status_code == 201 and r.json()["lead_id"] is None
    assert [(raw.status, raw.reason) for raw in raws(store)] == [
        ("archived", "spam: honeypot field 'fax_number' was filled")
    ] * 2
    assert get_lead(store, "ann.lee@acme-robotics.example") is None


def test_shared_secret_and_hmac(client: TestClient, store: Store) -> None:
    body = json.dumps({"email": "sam@signed.example"}).encode()
    headers = {"content-type": "application/json"}
    r = client.post("/forms/signed", content=body, headers=headers)
    assert r.status_code == 401 and r.json()["error"] == "missing or invalid signature"
    r = client.post("/forms/signed", content=body, headers={**headers, "x-leadbot-secret": "wrong"})
    assert r.status_code == 401
    assert raws(store) == []  # unsigned input is never stored
    r = client.post(
        "/forms/signed", content=body, headers={**headers, "x-leadbot-secret": "s3cret-form-key"}
    )
    assert r.status_code == 201
    body2 = json.dumps({"email": "sue@signed.example"}).encode()
    sig = "sha256=" + hmac.new(b"s3cret-form-key", body2, hashlib.sha256).hexdigest()
    r = client.post("/forms/signed", content=body2, headers={**headers, "x-leadbot-signature": sig})
    assert r.status_code == 201
    r = client.post(
        "/forms/signed", content=body2 + b" ", headers={**headers, "x-leadbot-signature": sig}
    )
    assert r.status_code == 401


def test_body_size_limit_is_413_before_anything_is_stored(client: TestClient, store: Store) -> None:
    r = client.post("/forms/tiny", data={"email": "a@b.example", "message": "x" * 500})
    assert r.status_code == 413 and "larger than 200" in r.json()["error"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: the stream itself is capped
        yield b"email=a%40b.example&message="
        for _ in range(20):
            yield b"y" * 50

    r = client.post(
        "/forms/tiny",
        content=chunks(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 413
    assert raws(store) == []


def test_rate_limit_per_ip_is_429_with_retry_after(client: TestClient, store: Store) -> None:
    for i in range(2):
        assert client.post("/forms/tiny", data={"email": f"r{i}@b.example"}).status_code == 201
    r = client.post("/forms/tiny", data={"email": "r9@b.example"})
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert len(raws(store)) == 2


def test_cors_preflight_and_foreign_origins(client: TestClient) -> None:
    ok = client.options(
        "/forms/pricing",
        headers={"origin": "https://www.example.com", "access-control-request-method": "POST"},
    )
    assert ok.status_code == 204
    assert ok.headers["access-control-allow-origin"] == "https://www.example.com"
    assert "POST" in ok.headers["access-control-allow-methods"]
    bad = client.options("/forms/pricing", headers={"origin": "https://evil.example"})
    assert bad.status_code == 403
    r = client.post("/forms/pricing", json=FIELDS, headers={"origin": "https://evil.example"})
    assert r.status_code == 403 and "origin" in r.json()["error"]
    anywhere = client.post(
        "/forms/open", json={"email": "o@o.example"}, headers={"origin": "https://x.example"}
    )
    assert (
        anywhere.status_code == 201
        and anywhere.headers["access-control-allow-origin"] == "https://x.example"
    )


def test_wrong_content_type_and_empty_body(client: TestClient) -> None:
    r = client.post("/forms/pricing", content=b"email=a", headers={"content-type": "text/plain"})
    assert r.status_code == 415 and "content type" in r.json()["error"]
    r = client.post("/forms/pricing", content=b"", headers={"content-type": "application/json"})
    assert r.status_code == 400


def test_strict_mode_refuses_unknown_form_keys(store: Store, tmp_path: Path) -> None:
    rt = _runtime(store, tmp_path, forms_strict=True)
    with TestClient(create_app(rt)) as c:
        assert c.post("/forms/unknown", json={"email": "a@b.example"}).status_code == 404
        assert c.post("/forms/pricing", json=FIELDS).status_code == 201
        assert c.post("/forms/bad..key", json={"email": "a@b.example"}).status_code == 404


def test_source_tracking_first_and_latest_touch(
    client: TestClient,
    store: Store,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert client.post("/forms/pricing", json=FIELDS).status_code == 201
    later = {"email": FIELDS["Email Address"], "utm_campaign": "webinar", "message": "Demo please"}
    assert client.post("/forms/demo", json=later).status_code == 201
    lead = get_lead(store, "ann.lee@acme-robotics.example")
    assert lead is not None and lead.first_touch and lead.latest_touch
    assert (
        lead.first_touch["form"] == "pricing" and lead.first_touch["utm_campaign"] == "spring-sale"
    )
    assert lead.first_touch["page"] == "https://www.example.com/pricing"
    assert lead.latest_touch["form"] == "demo" and lead.latest_touch["utm_campaign"] == "webinar"
    assert lead.latest_source == "form:demo"
    facts = lead_facts(lead).fields
    assert facts["source_channel"] == "form" and facts["source_form"] == "pricing"
    assert facts["latest_form"] == "demo" and facts["latest_utm_campaign"] == "webinar"
    assert facts["utm_campaign"] == "spring-sale"

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LEADBOT_DATABASE_URL", store.url)
    assert main(["leads", "show", "ann.lee@acme-robotics.example", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["first_touch"]["form"] == "pricing" and shown["latest_touch"]["form"] == "demo"
    assert main(["leads", "show", "ann.lee@acme-robotics.example"]) == 0
    text = capsys.readouterr().out
    assert "first_touch" in text and "utm_campaign=spring-sale" in text and "form=demo" in text


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_store_down_is_503_so_the_sender_retries(tmp_path: Path, backend: str) -> None:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'missing-dir' / 'leadbot.db'}"
    else:
        url = f"postgresql+psycopg://postgres@127.0.0.1:{_free_port()}/leadbot"  # nobody listens
    down = Store(url)
    rt = build_runtime(make_settings(url), store=down)
    with TestClient(create_app(rt)) as c:
        r = c.post("/forms/contact", json={"email": "a@b.example"})
        assert r.status_code == 503 and r.headers["retry-after"] == "30"
        assert "retry" in r.json()["error"]
    down.dispose()


def test_a_hot_form_post_wakes_whoever_sends_the_announcements(
    store: Store, tmp_path: Path
) -> None:
    """`serve` passes the dispatcher's wake: a card for a form post goes out at once (issue 12)."""
    rt = _runtime(store, tmp_path, hot_threshold=1)
    woken: list[str] = []
    rt.pipeline.on_announced(lambda: woken.append("wake"))
    with TestClient(create_app(rt), raise_server_exceptions=False) as c:
        post = {"email": "hot@buyer.example", "company": "Buyer", "message": "pricing for 40 seats"}
        assert c.post("/forms/pricing", data=post, headers=JSON_ACCEPT).status_code == 201
        assert woken == ["wake"]  # before the 201: the announcement was committed and told
        again = {**post, "message": "and a demo?"}  # announced already: nothing new to send
        assert c.post("/forms/pricing", data=again, headers=JSON_ACCEPT).status_code == 201
    assert woken == ["wake"]


def test_a_post_is_committed_claimed_and_read_from_memory(client: TestClient, store: Store) -> None:
    """The process that commits a post reads it next from what it holds: no claim and no read
    of its own (one transaction less a batch), and the pending sweep cannot take it between the
    commit and the reading; the row ends as a swept one does (processed, claim released)."""
    import sqlalchemy as sa

    statements: list[str] = []

    def seen(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        statements.append(" ".join(statement.split()))

    sa.event.listen(store.engine, "before_cursor_execute", seen)
    try:
        r = client.post("/forms/pricing", data=FIELDS, headers=JSON_ACCEPT)
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", seen)
    assert r.status_code == 201, r.text
    assert not [s for s in statements if s.startswith("UPDATE raw_input SET claimed_at")]
    assert not [s for s in statements if s.startswith("SELECT raw_input.id")]
    [raw] = raws(store)
    assert (raw.status, raw.claimed_at, raw.lead_id) == ("processed", None, r.json()["lead_id"])


def test_a_claimed_commit_is_left_to_its_process_until_the_lease_runs_out(store: Store) -> None:
    from storage.models import utcnow
    from storage.raw import RawDraft, claim_raws, claimed_raw, store_raws

    draft = RawDraft(
        b"email=a%40b.example", "form", "form:pricing", received_at=utcnow(), claim=True
    )
    [(raw_id, new)] = store_raws(store, [draft])
    assert new
    assert claim_raws(store, [raw_id]) == []  # the sweep: held by the committing process
    assert claim_raws(store, [raw_id], lease_s=0) == [raw_id]  # its claim ran out: taken
    held = claimed_raw(raw_id, draft)
    [stored] = raws(store)
    for name in ("id", "kind", "channel", "sha256", "content", "content_type", "size", "envelope"):
        assert getattr(held, name) == getattr(stored, name), name
    assert held.received_at == stored.received_at


def test_a_post_committed_but_not_read_here_is_left_to_the_sweep_at_once(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reader refuses (too many waiting): the post is kept, answered 503, and its claim given
    up, so the pending sweep takes it now rather than after the lease."""
    from ingest.http import forms
    from storage.raw import claim_raws

    monkeypatch.setattr(forms, "MAX_WAITING", 0)
    with TestClient(create_app(_runtime(store, tmp_path)), raise_server_exceptions=False) as c:
        r = c.post("/forms/pricing", data=FIELDS, headers=JSON_ACCEPT)
    assert r.status_code == 503, r.text
    [raw] = raws(store)
    assert (raw.status, raw.claimed_at) == ("pending", None)
    assert claim_raws(store, [raw.id or 0]) == [raw.id]
