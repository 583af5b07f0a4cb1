"""A `serve`-like dispatcher in a process of its own, for tests that kill it (SIGKILL).

python -m tests.bot.outbox_child DATABASE_URL SLACK_API_URL LEASE_SECONDS
"""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta

from bot.dispatcher import Dispatcher
from bot.runtime import build_runtime
from bot.slack.sender import SlackSender
from tests.bot.slack_helpers import SIGNING_SECRET
from tests.conftest import make_settings


def main(db_url: str, api_url: str, lease_s: str) -> None:
    settings = make_settings(
        db_url,
        SLACK_BOT_TOKEN="xoxb-test-token",
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        slack_api_url=api_url,
        hot_channel="CHOT",
        slack_burst=0,
    )
    runtime = build_runtime(settings)
    dispatcher = Dispatcher(
        runtime.store,
        SlackSender.from_runtime(runtime),
        worker="child",
        lease=timedelta(seconds=float(lease_s)),
    )
    print("ready", flush=True)
    asyncio.run(dispatcher.run(asyncio.Event()))


if __name__ == "__main__":
    main(*sys.argv[1:4])
