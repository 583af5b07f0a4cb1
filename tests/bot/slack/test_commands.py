"""`/lead` and `/leads` through the signed endpoint: private answers inside Slack's 3 seconds."""

from __future__ import annotations

import json
import time
from typing import Any

from starlette.testclient import TestClient

from bot.runtime import Runtime
from storage import lifecycle
from tests.bot.fake_slack import block_kit_problem
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


def ephemeral(http: TestClient, command: str, text: str, user: str = "U1") -> dict[str, Any]:
    resp = post_command(http, command, text, user=user)
    assert resp.status_code == 200
    body: dict[str, Any] = resp.json()
    assert body["response_type"] == "ephemeral"
    assert block_kit_problem(body.get("blocks") or [], limit=50) is None
    return body


def test_command_text_as_slack_sends_it(http: TestClient, slack_runtime: Runtime) -> None:
    store = slack_runtime.store
    make_lead(store, "jane@acme.com", name="Jane Doe", company="Acme")
    make_lead(store, "jose@nunez.example", name="José Núñez", company="Núñez y Cía")
    make_lead(store, "juergen@mueller.example", name="Jürgen Müller", company="Müller AG")
    for text in (
        "   <mailto:jane@acme.com|jane@acme.com>   ",  # Slack wraps typed addresses like this
        "<https://acme.com|acme.com>",  # and typed domains like this
        "<http://www.acme.com>",
        "  Jane    Doe  ",
    ):
        found = json.dumps(ephemeral(http, "/lead", text)["blocks"])
        assert "Jane Doe" in found, text
    assert "José Núñez" in json.dumps(
        ephemeral(http, "/lead", "José")["blocks"], ensure_ascii=False
    )
    assert "Müller" in json.dumps(ephemeral(http, "/lead", "Müller")["blocks"], ensure_ascii=False)
    for text in (
        "<@U123|jane>",
        "<#C123|sales>",
        "<!channel>",
        ":fire: 🔥 王伟",
        "x" * 4000,
        "&lt;",
    ):
        body = ephemeral(http, "/lead", text)
        assert len(json.dumps(body)) < 40000


def test_leads_subcommands_and_usage(http: TestClient, slack_runtime: Runtime) -> None:
    make_lead(slack_runtime.store, "a@a.example", name="Ann Hot")
    assert "Ann Hot" in json.dumps(ephemeral(http, "/leads", "")["blocks"])  # no text: hot
    assert "Ann Hot" in json.dumps(ephemeral(http, "/leads", "  UNCLAIMED  ")["blocks"])
    usage = ephemeral(http, "/leads", "<!here> bogus")["text"]
    assert "/leads hot" in usage and "/leads stats" in usage and "<!here>" not in usage
    assert "&lt;email" in ephemeral(http, "/lead", "   ")["text"]  # `<x|y>` would be a link
    other = ephemeral(http, "/hello-world", "Hi")  # a command of another app routed here
    assert "/lead" in other["text"]
