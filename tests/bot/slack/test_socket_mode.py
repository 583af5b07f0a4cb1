"""Socket Mode: the same Bolt app over a real WebSocket served locally, a claim end to end."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

from websockets.sync.server import Server, ServerConnection, serve

from bot.runtime import build_runtime
from bot.slack.socket_mode import socket_mode_starter
from tests.bot.conftest import slack_settings
from tests.bot.fake_slack import FakeSlack, wait_until
from tests.bot.slack_helpers import click, get, make_lead


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
