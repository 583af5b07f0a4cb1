"""The signed edge of `POST /slack/events` in the real ASGI app, Slack faked on a local port:
forged, stale, malformed, oversize and replayed requests, url_verification, no signing secret,
and Slack's event retries."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from urllib.parse import urlencode

from starlette.testclient import TestClient

from bot.runtime import Runtime, build_runtime
from bot.slack.http import MAX_BODY_BYTES
from bot.web import create_app
from storage.leads import activities_of, notes_of
from tests.bot.conftest import dispatcher, slack_settings
from tests.bot.fake_slack import FakeSlack, wait_until
from tests.bot.slack_helpers import (
    click,
    drain_listeners,
    get,
    make_lead,
    post_event,
    post_interaction,
    post_signed,
    sample,
    signed_headers,
    submit,
)

FORM = "application/x-www-form-urlencoded"


def test_forged_and_stale_signatures_are_refused(http: TestClient, slack_runtime: Runtime) -> None:
    lead_id = make_lead(slack_runtime.store)
    body = urlencode({"payload": json.dumps(click("lead_claim", lead_id, user="U1"))}).encode()
    form = "application/x-www-form-urlencoded"
    forged = post_signed(http, body, form, secret="not-the-secret")
    stale = post_signed(http, body, form, timestamp=int(time.time()) - 301)
    unsigned = http.post("/slack/events", content=body, headers={"Content-Type": form})
    assert [forged.status_code, stale.status_code, unsigned.status_code] == [401, 401, 401]
    # A signed body that was altered after signing is refused too.
    headers = signed_headers(body, form)
    tampered = http.post("/slack/events", content=body.replace(b"U1", b"U2"), headers=headers)
    assert tampered.status_code == 401
    drain_listeners(slack_runtime)
    assert get(slack_runtime.store, lead_id).status == "announced"


def test_bad_signatures_and_timestamps_get_401_never_500(
    http: TestClient, slack_runtime: Runtime
) -> None:
    lead_id = make_lead(slack_runtime.store)
    payload = click("lead_claim", lead_id, user="U1")
    body = urlencode({"payload": json.dumps(payload)}).encode()
    now = int(time.time())
    good = signed_headers(body, FORM)

    def status(headers: dict[str, str], content: bytes = body) -> int:
        return int(http.post("/slack/events", content=content, headers=headers).status_code)

    assert (
        status(signed_headers(body, FORM, timestamp=now + 360)) == 401
    )  # future (the window is ±300 s; time moves on during the test)
    assert status(signed_headers(body, FORM, timestamp=now - 301)) == 401  # stale
    assert (
        status({**good, "X-Slack-Signature": good["X-Slack-Signature"].replace("v0=", "v1=")})
        == 401
    )
    assert status({"Content-Type": FORM, "X-Slack-Signature": good["X-Slack-Signature"]}) == 401
    assert status({"Content-Type": FORM, "X-Slack-Request-Timestamp": str(now)}) == 401
    for ts in ("abc", "", "1e9", " 17", "-5", "9" * 40):  # Bolt int()s it: once a 500
        assert status({**good, "X-Slack-Request-Timestamp": ts}) == 401, ts
    # Signed over a re-serialised body (what a naive proxy or client does): refused.
    pretty = urlencode({"payload": json.dumps(payload, indent=2)}).encode()
    assert status(signed_headers(pretty, FORM)) == 401
    # Unsigned garbage is refused before anything parses it (Bolt parses first: once a 500).
    assert status({"Content-Type": "application/json"}, b"{not json") == 401
    assert status({"Content-Type": FORM}, b"payload=%7Bnot") == 401
    drain_listeners(slack_runtime)
    assert get(slack_runtime.store, lead_id).status == "announced"


def test_url_verification_only_when_signed(http: TestClient) -> None:
    body = json.dumps(sample("events_url_verification__event_body.json")).encode()
    assert post_signed(http, body, "application/json").json()["challenge"]
    unsigned = http.post(
        "/slack/events", content=body, headers={"Content-Type": "application/json"}
    )
    assert unsigned.status_code == 401 and "challenge" not in unsigned.text


def test_url_verification_echoes_the_challenge(http: TestClient) -> None:
    body = json.dumps(sample("events_url_verification__event_body.json")).encode()
    resp = post_signed(http, body, "application/json")
    assert resp.status_code == 200
    assert (
        resp.json()["challenge"] == sample("events_url_verification__event_body.json")["challenge"]
    )


def test_without_signing_secret_the_endpoint_is_closed(store, fake_slack: FakeSlack) -> None:  # type: ignore[no-untyped-def]
    settings = slack_settings(store.url, fake_slack, SLACK_SIGNING_SECRET=None)
    with TestClient(create_app(build_runtime(settings, store=store))) as client:
        resp = post_signed(client, b"{}", "application/json")
    assert resp.status_code == 503 and "SLACK_SIGNING_SECRET" in resp.json()["error"]


def test_signed_but_malformed_bodies_get_400(http: TestClient) -> None:
    for body, ctype in (
        (b"{not json", "application/json"),
        (b"[1, 2]", "application/json"),
        (b'"a string"', "application/json"),
        (b"\xff\xfe\x00payload", FORM),
        (b"payload=%7Bnot", FORM),
        (b"payload=%5B1%5D", FORM),
    ):
        resp = post_signed(http, body, ctype)
        assert resp.status_code == 400, body
        assert "error" in resp.json()


def test_bodies_over_1_mb_get_413_without_being_read_whole(http: TestClient) -> None:
    big = b"payload=" + b"x" * MAX_BODY_BYTES
    declared = post_signed(http, big, FORM)
    assert declared.status_code == 413 and declared.json()["error"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: the cap must hold on the stream
        for _ in range(64):
            yield b"x" * 65536

    headers = signed_headers(b"", FORM)
    streamed = http.post("/slack/events", content=chunks(), headers=headers)
    assert streamed.status_code == 413
    small = post_signed(http, b"payload=" + b"x" * 1000, FORM)
    assert small.status_code != 413


def test_replayed_requests_change_nothing_twice(
    http: TestClient, slack_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    store = slack_runtime.store
    lead_id = make_lead(store)
    dispatcher(slack_runtime).run_once()
    claim = urlencode({"payload": json.dumps(click("lead_claim", lead_id, user="U1"))}).encode()
    headers = signed_headers(claim, FORM)
    for _ in range(2):  # the same signed bytes twice, within Bolt's five minutes
        assert http.post("/slack/events", content=claim, headers=headers).status_code == 200
    wait_until(lambda: get(store, lead_id).owner == "U1")
    [told] = fake_slack.wait_for("chat.postEphemeral")
    assert told.args["user"] == "U1" and told.args["text"] == "You have already claimed this lead."
    post_interaction(http, click("lead_note", lead_id, user="U1"))
    [opened] = fake_slack.wait_for("views.open")
    note = urlencode({"payload": json.dumps(submit(opened.args["view"], "Call Fri", user="U1"))})
    headers = signed_headers(note.encode(), FORM)
    for _ in range(3):
        assert http.post("/slack/events", content=note, headers=headers).status_code == 200
    drain_listeners(slack_runtime)  # a replay handled would have saved its note by now
    for _ in range(3):
        dispatcher(slack_runtime).run_once()
    assert _notes(slack_runtime, lead_id) == ["Call Fri"]
    with store.session() as s:
        assert [a.actor for a in activities_of(s, lead_id) if a.kind == "claimed"] == ["U1"]
    public = [c for c in fake_slack.to("chat.postMessage") if c.args.get("thread_ts")]
    assert len(public) == 1 and "Call Fri" in public[0].args["text"]
    # A second, different note (a new submission) is of course saved.
    post_interaction(http, submit(opened.args["view"], "And again", user="U1"))
    wait_until(lambda: len(_notes(slack_runtime, lead_id)) == 2)


def _notes(runtime: Runtime, lead_id: int) -> list[str]:
    with runtime.store.session() as s:
        return [n.text for n in notes_of(s, lead_id)]


def test_event_retries_are_handled_once(
    http: TestClient, slack_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    event = {
        "type": "app_home_opened",
        "user": "U1",
        "channel": "D1",
        "tab": "home",
        "event_ts": "1.1",
    }
    assert post_event_ok(http, event, None)
    drain_listeners(slack_runtime)
    dispatcher(slack_runtime).run_once()
    [published] = fake_slack.to("views.publish")
    assert published.args["user_id"] == "U1" and published.args["view"]["type"] == "home"
    # Slack's retries arrive after the first delivery was handled and its refresh sent: a retry
    # handled again would queue a second refresh (a pending one would have absorbed it).
    for retry in (1, 2):
        assert post_event_ok(http, event, retry)
    drain_listeners(slack_runtime)
    dispatcher(slack_runtime).run_once()
    assert fake_slack.to("views.publish") == [published]


def post_event_ok(http: TestClient, event: dict[str, object], retry: int | None) -> bool:
    return bool(post_event(http, event, event_id="Ev0001", retry=retry).status_code == 200)
