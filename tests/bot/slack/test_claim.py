"""Claim, through every way Slack sends it: signed clicks into the real endpoint from every
container, concurrent clicks, a claim after the lead moved on, and over Socket Mode.

That exactly one claim wins is settled by storage (tests/storage/test_lifecycle.py); who may claim
is in test_access.py, and a replayed claim in test_endpoint.py.
"""

from __future__ import annotations

import asyncio
import copy
import json
import threading
import time
from typing import Any

import pytest
from starlette.testclient import TestClient
from websockets.sync.server import Server, ServerConnection, serve

from bot.runtime import Runtime, build_runtime
from bot.slack.socket_mode import socket_mode_starter
from storage import lifecycle
from storage.leads import activities_of
from tests.bot.conftest import dispatcher, slack_settings
from tests.bot.fake_slack import FakeSlack, wait_until
from tests.bot.slack_helpers import click, get, make_lead, post_interaction


def test_claim_updates_the_card_in_place(
    http: TestClient, slack_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    lead_id = make_lead(slack_runtime.store)
    dispatcher(slack_runtime).run_once()
    started = time.monotonic()
    resp = post_interaction(http, click("lead_claim", lead_id, user="U1"))
    assert resp.status_code == 200 and time.monotonic() - started < 3
    wait_until(lambda: get(slack_runtime.store, lead_id).status == "claimed")
    assert get(slack_runtime.store, lead_id).owner == "U1"
    dispatcher(slack_runtime).run_once()
    [update] = fake_slack.to("chat.update")
    assert (update.args["channel"], update.args["ts"]) == ("CHOT", "1700000000.000001")
    buttons = [
        e["text"]["text"] if e["type"] == "button" else e["type"]
        for b in update.args["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
    ]
    assert buttons == ["Won", "Lost", "Add note", "Log activity", "overflow"]
    assert "*Claimed by <@U1>*" in json.dumps(update.args["blocks"])


def test_concurrent_claims_have_exactly_one_winner(
    http: TestClient, slack_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    lead_id = make_lead(slack_runtime.store)
    dispatcher(slack_runtime).run_once()
    users = [f"U{i}" for i in range(1, 9)]
    barrier = threading.Barrier(len(users))
    codes: list[int] = []

    def claim(user: str) -> None:
        barrier.wait()
        codes.append(post_interaction(http, click("lead_claim", lead_id, user=user)).status_code)

    threads = [threading.Thread(target=claim, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == [200] * len(users)
    losers = fake_slack.wait_for("chat.postEphemeral", count=len(users) - 1)
    winner = get(slack_runtime.store, lead_id).owner
    assert winner in users
    assert sorted(c.args["user"] for c in losers) == sorted(u for u in users if u != winner)
    assert all(c.args["text"] == f"<@{winner}> has already claimed this lead." for c in losers)
    with slack_runtime.store.session() as s:
        assert [a.actor for a in activities_of(s, lead_id) if a.kind == "claimed"] == [winner]


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


class SocketSlack:
    """Hands each connecting client one envelope and records the acks it sends back."""

    def __init__(self, envelope: dict[str, Any]) -> None:
        self.envelope = envelope
        self.acks: list[dict[str, Any]] = []
        self.server: Server = serve(self._session, "127.0.0.1", 0)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.server.socket.getsockname()[1]}/link"

    def _session(self, ws: ServerConnection) -> None:
        ws.send(json.dumps({"type": "hello", "num_connections": 1}))
        ws.send(json.dumps(self.envelope))
        for message in ws:
            self.acks.append(json.loads(message))


def test_claim_over_socket_mode(store, fake_slack: FakeSlack) -> None:  # type: ignore[no-untyped-def]
    lead_id = make_lead(store)
    envelope = {
        "envelope_id": "env-1",
        "type": "interactive",
        "accepts_response_payload": False,
        "payload": click("lead_claim", lead_id, user="USOCKET"),
    }
    server = SocketSlack(envelope)
    fake_slack.socket_url = server.url
    # No signing secret at all: Socket Mode needs only the app-level token.
    settings = slack_settings(
        store.url, fake_slack, SLACK_SIGNING_SECRET=None, SLACK_APP_TOKEN="xapp-1-test"
    )
    runtime = build_runtime(settings, store=store)
    starter = socket_mode_starter(runtime)

    async def main() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(starter(stop))
        await asyncio.to_thread(
            wait_until, lambda: get(store, lead_id).owner == "USOCKET", timeout=10
        )
        await asyncio.to_thread(wait_until, lambda: server.acks, timeout=5)
        stop.set()
        await asyncio.wait_for(task, timeout=10)

    try:
        asyncio.run(main())
    finally:
        server.server.shutdown()
    assert server.acks[0]["envelope_id"] == "env-1"
    [opened] = fake_slack.to("apps.connections.open")
    assert opened.headers["authorization"] == "Bearer xapp-1-test"
