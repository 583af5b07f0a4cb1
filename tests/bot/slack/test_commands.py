"""`/lead` and `/leads` through the signed endpoint: private answers inside Slack's 3 seconds."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

from starlette.testclient import TestClient

from bot.runtime import Runtime
from storage import lifecycle
from storage.leads import add_note
from storage.models import utcnow
from tests.bot.conftest import dispatcher
from tests.bot.fake_slack import FakeSlack, block_kit_problem
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
    assert "claimed *1*" in stats and "claim rate *50%*" in stats
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


def test_lead_answer_links_to_the_card_and_shows_owner_why_and_the_last_note(
    http: TestClient, slack_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    store = slack_runtime.store
    lead_id = make_lead(store, "jane@acme.example", name="Jane Doe", company="Acme")
    dispatcher(slack_runtime).run_once()  # the card: ts 1700000000.000001 in CHOT
    with store.session() as s:
        lifecycle.claim(s, lead_id=lead_id, user="U1")
        add_note(s, lead_id=lead_id, author="U2", text="Old note")
        add_note(s, lead_id=lead_id, author="U1", text="Called <!channel>, demo on Friday")
    body = answer(http, "/lead", "Jane Doe")
    first = body["blocks"][1]["text"]["text"]  # type: ignore[index]
    assert "*Jane Doe*" in first and "claimed · owner <@U1>" in first
    # The card's reasons and points (scaled to the score, as on the card), without the evidence.
    assert "Why: *+37* Budget mentioned · *+31* Seat count · *+24* Decision maker" in first
    assert "“Called &lt;!channel&gt;, demo on Friday”" in first and "Old note" not in first
    assert ":memo: <@U1>, <!date^" in first and "{date_short_pretty} {time}|" in first
    card = "https://leadbot-test.slack.com/archives/CHOT/p1700000000000001"
    assert f"<{card}|Open the card>" in first
    [asked] = fake_slack.to("chat.getPermalink")
    assert asked.args == {"channel": "CHOT", "message_ts": "1700000000.000001"}
    answer(http, "/lead", "Jane Doe")  # a permalink never changes: asked for once
    assert len(fake_slack.to("chat.getPermalink")) == 1


def test_lead_finds_what_people_type_through_the_endpoint(
    http: TestClient, slack_runtime: Runtime
) -> None:
    store = slack_runtime.store
    make_lead(store, "press@hp.example", name="Pat Hill", company="HP")
    make_lead(store, "cfo@bank.example", name="Ned Flanders",
              company="Springfield First National Bank and Trust Company")  # fmt: skip
    make_lead(store, "chap@phil.example", name="Philip Chapman", company="Hpx")
    assert "Pat Hill" in json.dumps(answer(http, "/lead", "HP")["blocks"][1])  # type: ignore[index]
    hp = json.dumps(answer(http, "/lead", "HP")["blocks"])
    assert "Chapman" not in hp
    bank = json.dumps(answer(http, "/lead", "Bank")["blocks"][1])  # type: ignore[index]
    assert "Ned Flanders" in bank
    nobody = answer(http, "/lead", "nobody-has-this.example")
    assert "*0 lead(s) for*" in json.dumps(nobody["blocks"]) and "No lead matches." in json.dumps(
        nobody["blocks"]
    )


def test_leads_stats_for_a_period_with_reps_and_sources(
    http: TestClient, slack_runtime: Runtime
) -> None:
    store = slack_runtime.store
    now = utcnow()
    old = make_lead(store, "old@a.example", name="Old One", now=now - timedelta(days=20))
    new = make_lead(store, "new@b.example", name="New One", now=now - timedelta(days=2))
    with store.session() as s:
        lifecycle.claim(s, lead_id=old, user="U1", now=now - timedelta(days=19))
        lifecycle.win(s, lead_id=old, actor="U1", value=12500, now=now - timedelta(days=18))
        lifecycle.claim(s, lead_id=new, user="U2", now=now - timedelta(days=1))
    week = answer(http, "/leads", "stats 7d")
    text = "\n".join(b["text"]["text"] for b in week["blocks"])  # type: ignore[union-attr]
    assert "*Lead funnel, the last 7 days* (since <!date^" in text
    assert "*In the period:* *1* announced · *1* claimed · *0* won · *0* lost" in text
    assert "*By rep*\n• <@U2>: *1* claimed · *0* won · *0* lost" in text and "<@U1>" not in text
    assert "*By source* (where leads first came from)\n• email: *1* announced · *1* claimed" in text
    month = "\n".join(
        b["text"]["text"]
        for b in answer(http, "/leads", "stats 30d")["blocks"]  # type: ignore[union-attr]
    )
    assert (
        "the last 30 days" in month
        and "• <@U1>: *1* claimed · *1* won (12,500) · *0* lost" in month
    )
    for text in ("stats quarter", "stats", "stats month", "STATS  Week"):
        body = answer(http, "/leads", text)
        assert "Lead funnel" in json.dumps(body["blocks"]), text
    assert "this quarter" in json.dumps(answer(http, "/leads", "stats quarter")["blocks"])
    assert "all time" in json.dumps(answer(http, "/leads", "stats")["blocks"])
    bad = answer(http, "/leads", "stats <!here> fortnight")
    assert "Usage" in str(bad["text"]) and "<!here>" not in str(bad["text"])
