"""`/lead` and `/leads` through the signed endpoint: private answers inside Slack's 3 seconds."""

from __future__ import annotations

import json
import time

from starlette.testclient import TestClient

from bot.runtime import Runtime
from storage import lifecycle
from tests.bot.slack_helpers import make_lead, post_command


def answer(http: TestClient, command: str, text: str, user: str = "U1") -> dict[str, object]:
    started = time.monotonic()
    resp = post_command(http, command, text, user=user)
    assert resp.status_code == 200 and time.monotonic() - started < 3
    body: dict[str, object] = resp.json()
    assert body["response_type"] == "ephemeral"
    return body


def test_lead_finds_by_typo_and_partial_name(http: TestClient, slack_runtime: Runtime) -> None:
    store = slack_runtime.store
    make_lead(store, "jane@acme.example", name="Jane Doe", company="Acme Robotics")
    make_lead(store, "bob@other.example", name="Bob Stone", company="Other GmbH", announce=False)
    for query in ("jane@acme.example", "Jnae Doe", "acme rob", "acme.example"):
        body = answer(http, "/lead", query)
        first = json.dumps(body["blocks"][1])  # type: ignore[index]
        assert "Jane Doe" in first, query
        assert "announced" in first and "score 87" in first and "last activity" in first
    empty = answer(http, "/lead", "zzzqqq")
    assert "No lead matches." in json.dumps(empty["blocks"])
    assert "Usage" in str(answer(http, "/lead", "  ")["text"])


def test_lead_query_is_escaped_in_the_answer(http: TestClient) -> None:
    body = answer(http, "/lead", "<!channel>")
    assert "<!channel>" not in json.dumps(body["blocks"])


def test_leads_lists_and_stats(http: TestClient, slack_runtime: Runtime) -> None:
    store = slack_runtime.store
    a = make_lead(store, "a@a.example", name="Ann Claimed")
    make_lead(store, "b@b.example", name="Ben Waiting")
    with store.session() as s:
        lifecycle.claim(s, lead_id=a, user="U1")
    mine = json.dumps(answer(http, "/leads", "mine")["blocks"])
    assert "Ann Claimed" in mine and "Ben Waiting" not in mine
    unclaimed = json.dumps(answer(http, "/leads", "unclaimed")["blocks"])
    assert "Ben Waiting" in unclaimed and "Ann Claimed" not in unclaimed
    hot = json.dumps(answer(http, "/leads", "hot")["blocks"])
    assert "Ann Claimed" in hot and "Ben Waiting" in hot
    stats = json.dumps(answer(http, "/leads", "stats")["blocks"])
    assert "claimed: *1*" in stats and "claim rate: *50%*" in stats
    assert "Usage" in str(answer(http, "/leads", "bogus")["text"])
