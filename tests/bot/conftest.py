"""Fixtures for the Slack bot: the fake Web API, a runtime pointed at it, the real ASGI app."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from bot.dispatcher import Dispatcher
from bot.runtime import Runtime, build_runtime
from bot.web import create_app
from storage.db import Store
from tests.bot.fake_slack import FakeSlack
from tests.bot.slack_helpers import SIGNING_SECRET
from tests.conftest import make_settings


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    fake = FakeSlack().start()
    yield fake
    fake.stop()


def slack_settings(db_url: str, fake: FakeSlack, **overrides: Any) -> Any:
    values: dict[str, Any] = {
        "SLACK_BOT_TOKEN": "xoxb-test-token",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "slack_api_url": fake.url,
        "hot_channel": "CHOT",
        "sla_reminder_minutes": 30,
        "sla_escalation_minutes": 60,
        # Single cards however many leads a test makes; tests/bot/slack/test_digest.py sets it.
        "slack_burst": 0,
    }
    values.update(overrides)
    return make_settings(db_url, **values)


@pytest.fixture
def slack_runtime(store: Store, fake_slack: FakeSlack) -> Runtime:
    return build_runtime(slack_settings(store.url, fake_slack), store=store)


@pytest.fixture
def http(slack_runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(slack_runtime)) as client:
        yield client


def dispatcher(runtime: Runtime, worker: str = "test") -> Dispatcher:
    from bot.slack.sender import SlackSender

    return Dispatcher(runtime.store, SlackSender.from_runtime(runtime), worker=worker)
