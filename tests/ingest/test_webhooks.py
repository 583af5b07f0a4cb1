"""POST /webhooks/{provider}/{key}: real provider payloads, real signatures, both backends."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select
from starlette.testclient import TestClient

from bot.runtime import Runtime, build_runtime
from bot.web import create_app
from ingest.forms.providers import hubspot, jotform, netlify, tally, typeform, webflow
from ingest.forms.signatures import verify_netlify, verify_webflow
from storage.db import Store
from storage.models import Activity, Lead, RawInput
from tests.conftest import DATA, make_settings

WEBFORMS = DATA / "webforms"
SECRET = "whsec-test-0123456789"
FORMS_TOML = f"""
[forms.tf]
provider = "typeform"
secret = "{SECRET}"
[forms.wf]
provider = "webflow"
secret = "{SECRET}"
[forms.nl]
provider = "netlify"
secret = "{SECRET}"
[forms.tally]
provider = "tally"
secret = "{SECRET}"
[forms.hs]
provider = "hubspot"
secret = "{SECRET}"
[forms.jf]
provider = "jotform"
"""


def sample(name: str) -> bytes:
    return (WEBFORMS / name).read_bytes()


@pytest.fixture
def rt(store: Store, tmp_path: Path) -> Runtime:
    forms = tmp_path / "forms.toml"
    forms.write_text(FORMS_TOML)
    return build_runtime(make_settings(store.url, LEADBOT_FORMS=str(forms)), store=store)


@pytest.fixture
def client(rt: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(rt), raise_server_exceptions=False) as c:
        yield c


def lead(store: Store, email: str) -> Lead | None:
    with store.session() as s:
        return s.exec(select(Lead).where(Lead.email == email)).first()


def b64hmac(message: bytes) -> str:
    return base64.b64encode(hmac.new(SECRET.encode(), message, hashlib.sha256).digest()).decode()


def jws(claims: dict[str, Any], secret: str = SECRET, alg: str = "HS256") -> str:
    def enc(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    head = enc(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    body = enc(json.dumps(claims).encode())
    sig = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{enc(sig)}"


JSON = {"content-type": "application/json"}


def test_typeform_signed_payload_makes_a_lead(client: TestClient, store: Store) -> None:
    body = sample("typeform_docs_example_payload.json")
    bad = client.post(
        "/webhooks/typeform/tf", content=body, headers={**JSON, "typeform-signature": "sha256=AAAA"}
    )
    assert bad.status_code == 401
    headers = {**JSON, "typeform-signature": "sha256=" + b64hmac(body)}
    r = client.post("/webhooks/typeform/tf", content=body, headers=headers)
    assert r.status_code == 201, r.text
    found = lead(store, "laura@example.com")
    assert found is not None and found.name == "Laura" and found.source == "webhook:typeform"
    assert found.fields["user_id"] == "abc123456"  # hidden fields are kept
    assert found.first_touch and found.first_touch["provider"] == "typeform"
    assert found.first_touch["form"] == "tf"
    with store.session() as s:
        activity = s.exec(select(Activity).where(Activity.kind == "form_submission")).one()
    assert activity.dedup_key == "typeform:LtWXD3crgy"
    assert activity.occurred_at.isoformat().startswith("2018-01-18T18:17:02")
    # Typeform retries with the same event: one activity, same answer
    again = client.post("/webhooks/typeform/tf", content=body, headers=headers)
    assert again.status_code == 201 and again.json()["lead_id"] == r.json()["lead_id"]


def test_webflow_v2_signature_over_timestamp_and_body(client: TestClient, store: Store) -> None:
    body = sample("webflow_v2_form_submission_docs_example.json")
    ts = str(int(time.time() * 1000))
    sig = hmac.new(SECRET.encode(), ts.encode() + b":" + body, hashlib.sha256).hexdigest()
    headers = {**JSON, "x-webflow-timestamp": ts, "x-webflow-signature": sig}
    stale = str(int(time.time() * 1000) - 3_600_000)
    stale_sig = hmac.new(SECRET.encode(), stale.encode() + b":" + body, hashlib.sha256).hexdigest()
    r = client.post(
        "/webhooks/webflow/wf",
        content=body,
        headers={**JSON, "x-webflow-timestamp": stale, "x-webflow-signature": stale_sig},
    )
    assert r.status_code == 401  # a replay an hour later
    r = client.post("/webhooks/webflow/wf", content=body, headers=headers)
    assert r.status_code == 201, r.text
    found = lead(store, "zaphod@heartofgold.ai")
    assert found is not None and found.name == "Zaphod Beeblebrox"
    assert found.phone == "+15550000000" or found.fields.get("phone_as_typed") == "15550000000"


def test_webflow_published_capture_fails_with_any_other_secret() -> None:
    lines = sample("webflow_v2_form_submission_docs_captured_request.http").decode().split("\n")
    ts = lines[1].split(": ")[1].strip()
    sig = lines[2].split(": ")[1].strip()
    body = "\n".join(lines[3:]).encode()
    assert not verify_webflow(body, ts, sig, SECRET, now=int(ts) / 1000)
    assert webflow(json.loads(body)).fields == {"Email 2": "hello@gmail.com"}


def test_webflow_v1_shape() -> None:
    got = webflow(json.loads(sample("webflow_v1_form_submission_docs_example.json")))
    assert got.fields == {"name": "Some One", "email": "some.one@home.com"}
    assert got.event_id == "6321ca84df3949bfc6752327" and got.form_name == "Sample Form"


def test_netlify_jws_signature(client: TestClient, store: Store) -> None:
    body = sample("netlify_submission_created_payload_raymondcamden_blog.json")
    token = jws({"iss": "netlify", "sha256": hashlib.sha256(body).hexdigest()})
    assert verify_netlify(body, token, SECRET)
    assert not verify_netlify(body + b" ", token, SECRET)  # body swapped under a valid token
    assert not verify_netlify(body, jws({"iss": "netlify", "sha256": "x"}), SECRET)
    assert not verify_netlify(
        body,
        jws({"iss": "netlify", "sha256": hashlib.sha256(body).hexdigest()}, secret="other"),
        SECRET,
    )
    none_head = base64.urlsafe_b64encode(b'{"alg":"none"}').rstrip(b"=").decode()
    assert not verify_netlify(body, f"{none_head}.{token.split('.')[1]}.", SECRET)
    r = client.post(
        "/webhooks/netlify/nl", content=body, headers={**JSON, "x-webhook-signature": "x.y.z"}
    )
    assert r.status_code == 401
    r = client.post(
        "/webhooks/netlify/nl", content=body, headers={**JSON, "x-webhook-signature": token}
    )
    assert r.status_code == 201, r.text
    found = lead(store, "raymondcamden@gmail.com")
    assert found is not None and found.name == "Raymond Testing"
    with store.session() as s:
        activity = s.exec(select(Activity).where(Activity.kind == "form_submission")).one()
    assert activity.data["text"] == "Default value"
    assert activity.dedup_key == "netlify:5c3e5813f203baba9782ba13"


TALLY = {
    "eventId": "a4cb511e-d513-4fa5-baee-b815d718dfd1",
    "eventType": "FORM_RESPONSE",
    "createdAt": "2023-06-28T15:00:21.889Z",
    "data": {
        "responseId": "2wgx4n",
        "submissionId": "2wgx4n",
        "formId": "VwbNEw",
        "formName": "Contact sales",
        "createdAt": "2023-06-28T15:00:21.000Z",
        "fields": [
            {
                "key": "question_3EKz4n",
                "label": "What is your full name?",
                "type": "INPUT_TEXT",
                "value": "Tom Tally",
            },
            {
                "key": "question_w4Q4Xn",
                "label": "Work email",
                "type": "INPUT_EMAIL",
                "value": "tom@tally-co.example",
            },
            {
                "key": "question_3jQxNm",
                "label": "Team size",
                "type": "MULTIPLE_CHOICE",
                "value": ["opt-2"],
                "options": [{"id": "opt-1", "text": "1-10"}, {"id": "opt-2", "text": "11-50"}],
            },
            {
                "key": "question_utm",
                "label": "utm_campaign",
                "type": "HIDDEN_FIELDS",
                "value": "launch",
            },
        ],
    },
}


def test_tally_signature_and_choices(client: TestClient, store: Store) -> None:
    body = json.dumps(TALLY).encode()
    r = client.post(
        "/webhooks/tally/tally", content=body, headers={**JSON, "tally-signature": b64hmac(b"x")}
    )
    assert r.status_code == 401
    r = client.post(
        "/webhooks/tally/tally", content=body, headers={**JSON, "tally-signature": b64hmac(body)}
    )
    assert r.status_code == 201, r.text
    found = lead(store, "tom@tally-co.example")
    assert found is not None and found.name == "Tom Tally"
    assert found.fields["team_size"] == "11-50" and found.fields["utm_campaign"] == "launch"
    assert tally(TALLY).event_id == TALLY["eventId"]


HUBSPOT = {
    "fields": [
        {"objectTypeId": "0-1", "name": "email", "value": "hank@hub.example"},
        {"objectTypeId": "0-1", "name": "firstname", "value": "Hank"},
        {"objectTypeId": "0-1", "name": "lastname", "value": "Spot"},
        {"objectTypeId": "0-1", "name": "company", "value": "Hub Co"},
    ],
    "submittedAt": "1717000000000",
    "context": {"pageUri": "https://www.example.com/demo", "pageName": "Book a demo"},
}


def test_hubspot_v3_signature(client: TestClient, store: Store) -> None:
    body = json.dumps(HUBSPOT).encode()
    ts = str(int(time.time() * 1000))
    url = "http://testserver/webhooks/hubspot/hs"
    sig = b64hmac(b"POST" + url.encode() + body + ts.encode())
    headers = {**JSON, "x-hubspot-request-timestamp": ts, "x-hubspot-signature-v3": sig}
    assert (
        client.post(
            "/webhooks/hubspot/hs", content=body, headers={**headers, "x-hubspot-signature-v3": "x"}
        ).status_code
        == 401
    )
    r = client.post("/webhooks/hubspot/hs", content=body, headers=headers)
    assert r.status_code == 201, r.text
    found = lead(store, "hank@hub.example")
    assert found is not None and found.name == "Hank Spot" and found.company == "Hub Co"
    assert found.first_touch and found.first_touch["page"] == "https://www.example.com/demo"
    legacy = hubspot(
        {
            "values": [{"name": "email", "value": "x@y.example"}],
            "conversionId": "c-1",
            "pageUrl": "https://p.example",
            "submittedAt": 1717000000000,
        }
    )
    assert legacy.event_id == "c-1" and legacy.fields["page_url"] == "https://p.example"
    workflow = hubspot({"objectId": 51, "properties": {"email": {"value": "w@y.example"}}})
    assert workflow.fields == {"email": "w@y.example"}


def test_jotform_multipart_raw_request(client: TestClient, store: Store) -> None:
    raw_request = {
        "slug": "submit/2309/",
        "q3_fullName": {"first": "Jo", "last": "Form"},
        "q4_email": "jo@jot.example",
        "q5_phoneNumber": {"full": "+49 30 901820"},
        "q6_company": "Jot GmbH",
        "q7_howCan": "Pricing for 20 users",
    }
    files = {
        "formID": (None, "230583697150159"),
        "submissionID": (None, "5308741572752112119"),
        "formTitle": (None, "Contact"),
        "rawRequest": (None, json.dumps(raw_request)),
        "pretty": (None, "Name:Jo Form, E-mail:jo@jot.example"),
    }
    r = client.post("/webhooks/jotform/jf", files=files)
    assert r.status_code == 201, r.text
    found = lead(store, "jo@jot.example")
    assert found is not None and found.name == "Jo Form" and found.phone == "+4930901820"
    assert found.company == "Jot GmbH" and found.country == "DE"
    assert jotform({"submissionID": ["1"], "rawRequest": ["{}"]}).event_id == "1"


def test_provider_route_checks(client: TestClient, store: Store) -> None:
    body = sample("typeform_docs_example_payload.json")
    assert client.post("/webhooks/wufoo/tf", content=body, headers=JSON).status_code == 404
    assert client.post("/webhooks/webflow/tf", content=body, headers=JSON).status_code == 404
    # an unconfigured key takes any provider; without a secret nothing is checked
    r = client.post("/webhooks/typeform/other", content=body, headers=JSON)
    assert r.status_code == 201
    with store.session() as s:
        raw = s.exec(select(RawInput)).one()
    assert raw.channel == "webhook:typeform" and raw.envelope["provider"] == "typeform"


def test_extractors_on_the_samples() -> None:
    tf = typeform(json.loads(sample("typeform_docs_example_payload.json")))
    assert tf.fields["email"] == "laura@example.com" and tf.fields["first_name"] == "Laura"
    assert tf.fields["Which pictures do you like? You can choose as many as you like."] == [
        "London",
        "Sydney",
    ]
    nl = netlify(json.loads(sample("netlify_submission_created_payload_raymondcamden_blog.json")))
    assert nl.fields["comments"] == "Default value" and "ip" not in nl.fields
    wrapped = netlify(
        {
            "payload": json.loads(
                sample("netlify_submission_created_payload_raymondcamden_blog.json")
            )
        }
    )
    assert wrapped.event_id == nl.event_id == "5c3e5813f203baba9782ba13"
