"""Signed Slack payloads of shapes Slack never sends, into the real `POST /slack/events`:
a 200 or a 400, never a 500 and never an exception through the adapter (issue 11)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest
from starlette.testclient import TestClient

from bot.slack import shape
from tests.bot.slack_helpers import drain_listeners, post_signed, sample

FORM = "application/x-www-form-urlencoded"
USER = {"id": "U1", "team_id": "T1"}
INTERACTIVE: list[dict[str, Any]] = [
    {"type": "block_actions", "actions": None, "user": USER},
    {"type": "block_actions", "actions": [], "user": USER},
    {"type": "block_actions", "actions": [None], "user": USER},
    {"type": "block_actions", "actions": [{"value": "1"}], "user": USER},
    {"type": "block_actions", "actions": [{"action_id": 5}], "user": USER},
    {"type": "block_actions", "actions": [{"action_id": "lead_claim", "value": 7}], "user": "U1"},
    {"type": "block_actions", "actions": "lead_claim", "user": USER},
    {"type": "view_submission", "view": 5, "user": USER},
    {"type": "view_submission", "view": {"callback_id": "lead_note"}, "user": USER},
    {"type": "view_submission", "view": {"type": "modal", "callback_id": 3}, "user": USER},
    {"type": "view_submission", "view": {"type": "modal", "callback_id": "lead_note",
                                         "private_metadata": 5, "state": 3}, "user": USER},
    {"type": "view_closed", "view": "x", "user": USER},
    {"type": "shortcut", "callback_id": 5, "user": None},
    {"type": "shortcut", "user": USER},
    {"type": "message_action", "callback_id": None},
    {"type": "block_suggestion", "value": None, "action_id": 5},
    {"type": "block_suggestion", "value": "x"},
    {"type": 5},
    {"type": None, "team": "x"},
    {"user": [1], "channel": "C1", "container": []},
    # Found by bench/fuzz.py: Bolt indexes response_urls[0] while building its context.
    {"type": "view_submission", "user": USER, "response_urls": {"a": 1},
     "view": {"type": "modal", "callback_id": "x"}},
]  # fmt: skip
EVENTS: list[dict[str, Any]] = [
    {"type": "event_callback", "event": 5},
    {"type": "event_callback", "event": "app_home_opened"},
    {"type": "event_callback", "event": [1]},
    {"type": "event_callback", "event": None},
    {"type": "event_callback"},
    {"type": "event_callback", "event": {"user": "U1"}},
    {"type": "event_callback", "event": {"type": 5}},
    {"type": "event_callback", "event": {"type": "app_home_opened", "user": 5, "tab": None}},
    {"type": "event_callback", "event": {"type": "message", "text": 5, "channel": "C1"}},
    {"type": "event_callback", "event": {"type": "app_home_opened", "user": "U1"}, "event_id": 7},
    {"type": "url_verification", "challenge": None},
]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("payload", INTERACTIVE, ids=range(len(INTERACTIVE)))
def test_interactive_payloads_of_the_wrong_shape(payload: dict[str, Any], http: TestClient) -> None:
    r = post_signed(http, urlencode({"payload": json.dumps(payload)}).encode(), FORM)
    assert r.status_code in (200, 400), (payload, r.status_code, r.text)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("payload", EVENTS, ids=range(len(EVENTS)))
def test_events_of_the_wrong_shape(
    payload: dict[str, Any], http: TestClient, slack_runtime: Any
) -> None:
    body = {"token": "t", "team_id": "T1", "api_app_id": "A1", "event_id": "Ev9", **payload}
    r = post_signed(http, json.dumps(body).encode(), "application/json")
    assert r.status_code in (200, 400), (payload, r.status_code, r.text)
    drain_listeners(slack_runtime)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_deep_and_odd_bodies(http: TestClient) -> None:
    for body, ctype in (
        (b"[" * 100_000 + b"]" * 100_000, "application/json"),
        (b'{"a":' * 50_000 + b"1" + b"}" * 50_000, "application/json"),
        (urlencode({"payload": "[" * 100_000}).encode(), FORM),
        (b"command=%2Flead&text=%00%1b&user_id=U1&team_id=T1", FORM),
        (b"command=&text=", FORM),
        (b"command=%2Fleads&user_id=U1&text=" + b"x" * 5000, FORM),
        (b"command=%2Flead&user_id=&text=a%ffb", FORM),
        (b"payload=%7B%22type%22%3A%22block_actions%22%7D&payload=2", FORM),
    ):
        r = post_signed(http, body, ctype)
        assert r.status_code in (200, 400), (body[:60], r.status_code, r.text)


def test_documented_samples_have_the_shape() -> None:
    for name in ("block_actions__body.json", "view_submission__body.json",
                 "view_closed__body.json", "shortcut__global_shortcut_body.json",
                 "block_suggestion__body.json", "events__valid_event_body.json",
                 "events__valid_reaction_added_body.json", "message__message_body.json"):  # fmt: skip
        assert shape.problem(sample(name)) is None, name
    assert shape.problem({"type": "block_actions", "actions": None}) is not None
    assert shape.problem({"type": "view_submission", "view": 5}) is not None
    assert shape.problem({"type": "event_callback", "event": "x"}) is not None
    assert shape.problem([1]) == "payload is not a JSON object"
