"""The App Home tab: published when opened, republished for everyone who opened it when a lead
changes; the events LeadBot does not act on are acked and publish nothing."""

from __future__ import annotations

import json
import logging
from typing import Any

from sqlmodel import select
from starlette.testclient import TestClient

from bot.runtime import Runtime
from storage.models import OutboxMessage
from tests.bot.conftest import dispatcher
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
)


def test_app_home_is_refreshed_for_everyone_who_opened_it_when_a_lead_changes(
    http: TestClient, slack_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    lead_id = make_lead(slack_runtime.store)
    dispatcher(slack_runtime).run_once()  # the announcement
    for n, user in enumerate(("U1", "U2")):
        event = {"type": "app_home_opened", "user": user, "channel": "D1", "tab": "home"}
        assert post_event(http, event, event_id=f"EvHome{n}").status_code == 200
    wait_until(
        lambda: (
            dispatcher(slack_runtime).run_once() >= 0
            and {c.args["user_id"] for c in fake_slack.to("views.publish")} == {"U1", "U2"}
        )
    )
    opened = len(fake_slack.to("views.publish"))

    def home_text(user: str) -> str:
        [*_, last] = [c for c in fake_slack.to("views.publish") if c.args["user_id"] == user]
        return json.dumps(last.args["view"])

    assert "Jane Doe" in home_text("U1") and "You have no claimed leads." in home_text("U2")
    # U2 claims: both Homes are published again, without either of them opening it.
    assert post_interaction(http, click("lead_claim", lead_id, user="U2")).status_code == 200
    wait_until(lambda: get(slack_runtime.store, lead_id).status == "claimed")
    wait_until(
        lambda: (
            dispatcher(slack_runtime).run_once() >= 0
            and len(fake_slack.to("views.publish")) >= opened + 2
        )
    )
    mine, theirs = home_text("U2"), home_text("U1")
    assert "You have no claimed leads." not in mine and "Jane Doe" in mine
    assert "Nothing is waiting for a rep." in theirs and "Jane Doe" not in theirs


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
