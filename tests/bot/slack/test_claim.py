"""Payload shapes Slack really sends, signed into the real endpoint: commands, clicks, views, events."""

from __future__ import annotations

import copy
import json
import logging
from typing import Any

import pytest
from sqlmodel import select
from starlette.testclient import TestClient

from bot.runtime import Runtime, build_runtime
from bot.web import create_app
from storage import lifecycle
from storage.models import OutboxMessage
from tests.bot.conftest import dispatcher, slack_settings
from tests.bot.fake_slack import FakeSlack, block_kit_problem, wait_until
from tests.bot.slack_helpers import (
    click,
    drain_listeners,
    get,
    make_lead,
    post_command,
    post_event,
    post_interaction,
    post_signed,
    sample,
    submit,
)


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


def _variants(lead_id: int, user: str) -> dict[str, dict[str, Any]]:
    base = click("lead_claim", lead_id, user=user)
    thread = copy.deepcopy(base)
    thread["container"]["thread_ts"] = "1700000000.000001"
    thread["message"] = {"ts": "1700000000.000002", "thread_ts": "1700000000.000001"}
    eph = copy.deepcopy(base)
    eph["container"] = {
        "type": "message", "message_ts": "1700000009.1", "channel_id": "CHOT", "is_ephemeral": True
    }  # fmt: skip
    del eph["response_url"]
    home = copy.deepcopy(base)
    del home["channel"], home["response_url"]
    home["container"] = {"type": "view", "view_id": "V0HOME"}
    home["view"] = {"id": "V0HOME", "type": "home", "blocks": [], "hash": "1.a"}
    grid = copy.deepcopy(base)
    grid.update(enterprise={"id": "E111", "name": "Org"}, is_enterprise_install=True)
    return {"thread": thread, "ephemeral": eph, "home": home, "grid": grid}


@pytest.mark.parametrize("where", ["thread", "ephemeral", "home", "grid"])
def test_claim_from_every_container(
    where: str, http: TestClient, slack_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    store = slack_runtime.store
    lead_id = make_lead(store)
    dispatcher(slack_runtime).run_once()
    assert post_interaction(http, _variants(lead_id, "U1")[where]).status_code == 200
    wait_until(lambda: get(store, lead_id).owner == "U1")
    dispatcher(slack_runtime).run_once()
    [update] = fake_slack.to("chat.update")
    assert (update.args["channel"], update.args["ts"]) == ("CHOT", "1700000000.000001")
    # Too late from the same place: told privately, in the channel or (App Home) by DM.
    assert post_interaction(http, _variants(lead_id, "U2")[where]).status_code == 200
    if where == "home":
        [dm] = fake_slack.wait_for("chat.postMessage", count=2)[1:]
        assert dm.args["channel"] == "U2" and "<@U1> has already claimed" in dm.args["text"]
    else:
        [told] = fake_slack.wait_for("chat.postEphemeral")
        assert told.args["user"] == "U2" and told.args["channel"] == "CHOT"


def test_views_closed_null_values_and_forged_metadata(
    http: TestClient, slack_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    store = slack_runtime.store
    lead_id = make_lead(store)
    post_interaction(http, click("lead_note", lead_id, user="U1"))
    [opened] = fake_slack.wait_for("views.open")
    view = opened.args["view"]
    for value in (None, "", "   \n "):  # Slack sends null for an empty plain_text_input
        resp = post_interaction(http, submit(view, value, user="U1"))
        assert resp.json()["response_action"] == "errors"
    closed = sample("view_closed__body.json")
    closed["view"] = {**closed["view"], "callback_id": view["callback_id"]}
    assert post_interaction(http, closed).status_code == 200
    for meta in ("not json", '{"lead_id": "99999999999999999999999"}', '{"lead_id": [1]}', "[]"):
        forged = submit({**view, "private_metadata": meta}, "note", user="U1")
        assert post_interaction(http, forged).status_code == 200
    bad = click("lead_claim", lead_id, user="U1")
    for value in ("abc", "-1", "1e3", "9" * 30, "\uff11\uff12"):
        bad["actions"][0]["value"] = value
        assert post_interaction(http, bad).status_code == 200
    drain_listeners(slack_runtime)
    assert get(store, lead_id).status == "announced"


def test_events_we_ignore_are_acked(
    http: TestClient, slack_runtime: Runtime, fake_slack: FakeSlack, caplog: Any
) -> None:
    caplog.set_level(logging.WARNING, logger="leadbot.slack.fallback")
    messages = {"type": "app_home_opened", "user": "U1", "channel": "D1", "tab": "messages"}
    assert post_event(http, messages, event_id="Ev1").status_code == 200
    for name in ("events__app_uninstalled_body.json", "events__tokens_revoked_body.json",
                 "events_shared_channels__valid_event_body.json"):  # fmt: skip
        event = sample(name)
        event["event_id"] = f"Ev-{name}"  # the samples share one id: distinct in real traffic
        body = json.dumps(event).encode()
        headers = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
        resp = post_signed(http, body, "application/json", headers=headers)
        assert resp.status_code == 200, name
    drain_listeners(slack_runtime)
    assert "uninstalled" in caplog.text and "revoked" in caplog.text
    with slack_runtime.store.session() as s:
        assert s.exec(select(OutboxMessage).where(OutboxMessage.kind == "home")).all() == []
    dispatcher(slack_runtime).run_once()
    assert fake_slack.to("views.publish") == []


def test_people_not_allowed_change_nothing(store, fake_slack: FakeSlack) -> None:  # type: ignore[no-untyped-def]
    settings = slack_settings(store.url, fake_slack, slack_allowed_users="UREP,UREP2",
                              slack_managers="UBOSS")  # fmt: skip
    runtime = build_runtime(settings, store=store)
    lead_id = make_lead(store)
    with TestClient(create_app(runtime)) as client:
        dispatcher(runtime).run_once()
        for action in ("lead_claim", "lead_won", "lead_lost", "lead_nurture", "lead_note"):
            post_interaction(client, click(action, lead_id, user="USTRANGER"))
        told = fake_slack.wait_for("chat.postEphemeral", count=5)
        assert {c.args["user"] for c in told} == {"USTRANGER"}
        assert all("not allowed" in c.args["text"] for c in told)
        denied = post_command(client, "/lead", "jane", user="USTRANGER").json()
        assert "not allowed" in denied["text"] and "blocks" not in denied
        # The owner nurtures with an empty reason: the modal says so.
        post_interaction(client, click("lead_claim", lead_id, user="UREP"))
        wait_until(lambda: get(store, lead_id).owner == "UREP")
        post_interaction(client, click("lead_nurture", lead_id, user="UREP"))
        [opened] = fake_slack.wait_for("views.open")
        errors = post_interaction(client, submit(opened.args["view"], " ", user="UREP")).json()
        assert errors["response_action"] == "errors"
        # A forged submission of that modal by a stranger changes nothing.
        post_interaction(client, submit(opened.args["view"], "forged", user="USTRANGER"))
        fake_slack.wait_for("chat.postEphemeral", count=6)
        assert get(store, lead_id).status == "claimed"
        # Another rep may not close it; a manager may.
        post_interaction(client, click("lead_won", lead_id, user="UREP2"))
        fake_slack.wait_for("chat.postEphemeral", count=7)
        assert get(store, lead_id).status == "claimed"
        post_interaction(client, click("lead_won", lead_id, user="UBOSS"))
        wait_until(lambda: get(store, lead_id).status == "won")
        dispatcher(runtime).run_once()
    cards = [c for c in fake_slack.to("chat.postMessage") if not c.args.get("thread_ts")]
    threads = [c.args["text"] for c in fake_slack.to("chat.postMessage") if c.args.get("thread_ts")]
    assert len(cards) == 1 and threads == [":trophy: Won by <@UBOSS>"]


@pytest.mark.parametrize("change", ["nurture", "disqualify"])
def test_claim_after_the_lead_moved_on_refreshes_the_card(
    change: str, http: TestClient, slack_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    store = slack_runtime.store
    lead_id = make_lead(store)
    dispatcher(slack_runtime).run_once()
    with store.session() as s:
        fn = lifecycle.nurture if change == "nurture" else lifecycle.disqualify
        fn(s, lead_id=lead_id, actor="cli", reason="not now")
    post_interaction(http, click("lead_claim", lead_id, user="U1"))
    [told] = fake_slack.wait_for("chat.postEphemeral")
    assert told.args["user"] == "U1" and "cannot be claimed" in told.args["text"]
    wait_until(lambda: dispatcher(slack_runtime).run_once() or fake_slack.to("chat.update"))
    [update] = fake_slack.to("chat.update")
    buttons = [e["action_id"] for b in update.args["blocks"] if b["type"] == "actions"
               for e in b["elements"]]  # fmt: skip
    assert "lead_claim" not in buttons
    assert get(store, lead_id).owner is None
