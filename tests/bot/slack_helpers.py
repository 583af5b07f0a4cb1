"""Signed Slack requests built from Slack's own payload samples, and lead fixtures for bot tests."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import threading
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from starlette.testclient import TestClient

from bot.runtime import Runtime
from bot.slack.app import LISTENER_THREADS, get_app
from storage import lifecycle
from storage.db import Store
from storage.models import Lead
from tests.conftest import DATA
from tests.reference import record_inquiry

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
SAMPLES = DATA / "slack" / "bolt-python"
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def drain_listeners(runtime: Runtime, *, timeout: float = 10.0) -> None:
    """Return once every Bolt listener started so far has finished, so "nothing happened" is a fact.

    Listeners run on in the app's executor after their ack. One task per executor thread, all
    meeting at a barrier, can meet only when no thread is still busy: the queue is FIFO, so all
    earlier work has been taken and has ended. Our listeners start no further executor work.
    """
    executor = get_app(runtime).listener_runner.listener_executor
    barrier = threading.Barrier(LISTENER_THREADS + 1, timeout=timeout)
    meetings = [executor.submit(barrier.wait) for _ in range(LISTENER_THREADS)]
    barrier.wait()
    for meeting in meetings:
        meeting.result(timeout)


def sample(name: str) -> dict[str, Any]:
    return dict(json.loads((SAMPLES / name).read_text()))


def signed_headers(
    body: bytes, content_type: str, *, secret: str = SIGNING_SECRET, timestamp: int | None = None
) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    base = b"v0:" + ts.encode() + b":" + body
    signature = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature,
    }


def post_signed(client: TestClient, body: bytes, content_type: str, **kw: Any) -> Any:
    extra = kw.pop("headers", {})
    headers = {**signed_headers(body, content_type, **kw), **extra}
    return client.post("/slack/events", content=body, headers=headers)


def post_interaction(client: TestClient, payload: dict[str, Any], **kw: Any) -> Any:
    body = urlencode({"payload": json.dumps(payload)}).encode()
    return post_signed(client, body, "application/x-www-form-urlencoded", **kw)


def post_command(
    client: TestClient, command: str, text: str, *, user: str, channel: str = "CHOT"
) -> Any:
    fields = dict(
        token="verification_token", team_id="T111", channel_id=channel, user_id=user, user_name=user,
        command=command, text=text, trigger_id="111.111.xxx",
        response_url="http://127.0.0.1:9/never-used",
    )  # fmt: skip
    return post_signed(client, urlencode(fields).encode(), "application/x-www-form-urlencoded")


def post_event(
    client: TestClient, event: dict[str, Any], *, event_id: str, retry: int | None = None
) -> Any:
    body = sample("events__valid_event_body.json")
    body.update(event=event, event_id=event_id)
    headers = (
        {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"} if retry else {}
    )
    return post_signed(client, json.dumps(body).encode(), "application/json", headers=headers)


def click(
    action_id: str, lead_id: int, *, user: str, channel: str = "CHOT", ts: str = "1700000000.000001"
) -> dict[str, Any]:
    """A block_actions payload: Slack's sample with our button, user and card."""
    body = copy.deepcopy(sample("block_actions__body.json"))
    body["user"] = {"id": user, "username": user, "name": user, "team_id": "T111"}
    body["channel"] = {"id": channel, "name": "hot-leads"}
    body["container"] = {
        "type": "message",
        "message_ts": ts,
        "channel_id": channel,
        "is_ephemeral": False,
    }
    body["trigger_id"] = f"trigger-{user}-{action_id}"
    body["response_url"] = "http://127.0.0.1:9/never-used"
    body["actions"] = [
        {"action_id": action_id, "block_id": f"lead:{lead_id}", "value": str(lead_id), "type": "button",
         "text": {"type": "plain_text", "text": "x"}, "action_ts": "1700000001.000001"}
    ]  # fmt: skip
    return body


def submit(
    view: dict[str, Any],
    value: str | None,
    *,
    user: str,
    state: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A view_submission payload for a modal we opened, with `value` typed in its text input and
    `state` ({block_id: {action_id: element state}}) in its other inputs."""
    body = copy.deepcopy(sample("view_submission__body.json"))
    body["user"] = {"id": user, "username": user, "name": user, "team_id": "T111"}
    submitted = {
        **body["view"],
        **{k: view[k] for k in ("callback_id", "private_metadata", "blocks")},
    }
    values = {"text_block": {"text_input": {"type": "plain_text_input", "value": value}}}
    submitted["state"] = {"values": {**values, **(state or {})}}
    body["view"] = submitted
    return body


def picked(value: str) -> dict[str, dict[str, Any]]:
    """The state of the reason menu of the Lost and Disqualify modals, `value` chosen."""
    option = {"text": {"type": "plain_text", "text": value}, "value": value}
    return {"reason_block": {"reason_select": {"type": "static_select", "selected_option": option}}}


def typed_value(value: str | None) -> dict[str, dict[str, Any]]:
    """The state of the Won modal's deal value (Slack sends a number_input's value as a string)."""
    return {"value_block": {"value_input": {"type": "number_input", "value": value}}}


def chosen_user(user: str | None) -> dict[str, dict[str, Any]]:
    return {"user_block": {"user_select": {"type": "users_select", "selected_user": user}}}


def fields_typed(**fields: str | None) -> dict[str, dict[str, Any]]:
    """The state of the Edit modal: one plain_text_input per field."""
    return {
        f"field_{name}": {"field_input": {"type": "plain_text_input", "value": value}}
        for name, value in fields.items()
    }


def choose(
    what: str, lead_id: int, *, user: str, channel: str = "CHOT", ts: str = "1700000000.000001"
) -> dict[str, Any]:
    """A block_actions payload of the card's "⋯" menu with `what` picked."""
    body = click("lead_more", lead_id, user=user, channel=channel, ts=ts)
    value = f"{what}:{lead_id}"
    body["actions"] = [
        {"action_id": "lead_more", "block_id": f"lead:{lead_id}", "type": "overflow",
         "selected_option": {"text": {"type": "plain_text", "text": what}, "value": value},
         "action_ts": "1700000001.000001"}
    ]  # fmt: skip
    return body


def make_lead(
    store: Store,
    email: str = "jane@acme.example",
    *,
    name: str | None = "Jane Doe",
    company: str | None = "Acme",
    text: str = "We need 40 seats of your analytics product, budget approved.",
    reasons: list[dict[str, Any]] | None = None,
    announce: bool = True,
    product: str | None = None,
    country: str | None = None,
    now: datetime = T0,
) -> int:
    with store.session() as s:
        rec = record_inquiry(
            s, email=email, kind="email_inquiry", source="email", occurred_at=now,
            dedup_key=f"msgid:<{email}>", profile={"name": name, "company": company, "country": country},
            detail=text[:200], data={"subject": "Pricing", "text": text}, now=now,
        )  # fmt: skip
        lead: Lead = rec.lead
        lead.score, lead.temperature, lead.title, lead.product = 87.0, "hot", "CTO", product
        lead.reasons = reasons or [
            {
                "rule": "budget",
                "points": 30,
                "reason": "Budget mentioned",
                "evidence": "budget approved",
            },
            {"rule": "seats", "points": 25, "reason": "Seat count", "evidence": "40 seats"},
            {"rule": "title", "points": 20, "reason": "Decision maker", "evidence": "CTO"},
            {"rule": "free", "points": -5, "reason": "Free mail", "evidence": ""},
        ]
        assert lead.id is not None
        lead_id = lead.id
    if announce:
        with store.session() as s:
            lifecycle.announce(s, lead_id=lead_id, now=now)
    return lead_id


def get(store: Store, lead_id: int) -> Lead:
    with store.session() as s:
        lead = s.get(Lead, lead_id)
        assert lead is not None
        return lead
