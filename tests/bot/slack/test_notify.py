"""People are told (issue 12): the SLA reminder pings who may claim or is broadcast, the owner
gets a DM when their lead writes, and App Homes follow new announcements; through the real
endpoint and the Web API stand-in."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from bot.jobs.sla import slack_tick
from bot.runtime import Runtime, build_runtime
from storage import lifecycle
from storage import slack as slack_store
from storage.db import Store
from storage.models import Activity
from tests.bot.conftest import dispatcher, slack_settings
from tests.bot.fake_slack import FakeSlack, wait_until
from tests.bot.slack_helpers import T0, click, get, make_lead, post_event, post_interaction
from tests.reference import record_inquiry


def replies(fake: FakeSlack) -> list[dict[str, Any]]:
    return [c.args for c in fake.to("chat.postMessage") if c.args.get("thread_ts")]


@pytest.mark.parametrize(
    ("settings", "mention", "broadcast"),
    [
        ({"slack_allowed_usergroup": "SREPS"}, "<!subteam^SREPS> ", False),
        ({"slack_allowed_users": "U2,U1"}, "<@U1> <@U2> ", False),
        ({"slack_allow_channel_members": True}, "<!here> ", True),
        ({}, "", True),  # everyone may act: nobody in particular, so the channel sees it
    ],
)
def test_sla_reminder_tells_the_people_who_may_claim(
    store: Store, fake_slack: FakeSlack, settings: dict[str, Any], mention: str, broadcast: bool
) -> None:
    runtime = build_runtime(slack_settings(store.url, fake_slack, **settings), store=store)
    make_lead(store, now=T0)
    dispatcher(runtime).run_once(now=T0)
    assert slack_tick(runtime, now=T0 + timedelta(minutes=30)).reminders == 1
    dispatcher(runtime).run_once(now=T0 + timedelta(minutes=31))
    [reminder] = replies(fake_slack)
    assert reminder["text"] == f":alarm_clock: {mention}Still unclaimed after 30 min. Who takes it?"
    assert bool(reminder.get("reply_broadcast")) is broadcast


def test_the_owner_gets_a_dm_when_their_claimed_lead_writes(
    http: TestClient, slack_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    store = slack_runtime.store
    slack_tick(slack_runtime, now=T0)  # the activity job reads from here on
    lead_id = make_lead(store, now=T0)
    dispatcher(slack_runtime).run_once(now=T0)
    assert post_interaction(http, click("lead_claim", lead_id, user="U1")).status_code == 200
    wait_until(lambda: get(store, lead_id).owner == "U1")
    later = T0 + timedelta(minutes=10)
    with store.session() as s:
        record_inquiry(
            s, email="jane@acme.example", kind="email_reply", source="email", occurred_at=later,
            dedup_key="msgid:<reply-2>", profile={}, detail="Re: Pricing",
            data={"subject": "Re: Pricing", "text": "Can we start on Monday? <!channel>"}, now=later,
        )  # fmt: skip
        record_inquiry(  # a call the owner logged themselves: no DM to them about it
            s, email="jane@acme.example", kind="call", source="slack", occurred_at=later,
            dedup_key="call:1", profile={}, detail="Spoke to Jane", now=later,
        )  # fmt: skip
        s.execute(sa.update(Activity).where(Activity.dedup_key == "call:1").values(actor="U1"))  # type: ignore[arg-type]
    assert slack_tick(slack_runtime, now=later).activities == 1  # the logged call has its own reply
    dispatcher(slack_runtime).run_once(now=later)
    dms = [c.args for c in fake_slack.to("chat.postMessage") if c.args["channel"] == "U1"]
    [dm] = dms
    assert dm["text"].startswith(
        ":incoming_envelope: *Jane Doe* (Acme), your claimed lead, sent a new email reply:"
    )
    assert "&lt;!channel&gt;" in dm["text"] and "<!channel>" not in dm["text"]
    assert (
        "<https://leadbot-test.slack.com/archives/CHOT/p1700000000000001|Open the card>"
        in (dm["text"])
    )
    assert len(replies(fake_slack)) >= 1  # the reply is in the thread; the logged call has its own


def test_app_home_follows_new_announcements(
    http: TestClient, slack_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    event = {"type": "app_home_opened", "user": "U7", "channel": "D7", "tab": "home"}
    assert post_event(http, event, event_id="EvHomeU7").status_code == 200
    wait_until(lambda: dispatcher(slack_runtime).run_once() >= 0 and fake_slack.to("views.publish"))
    assert "Nothing is waiting for a rep." in json.dumps(fake_slack.to("views.publish")[0].args)
    make_lead(slack_runtime.store, "new@lead.example", name="Nina New", now=T0)
    dispatcher(slack_runtime).run_once()  # the card, and the App Home of U7 queued
    dispatcher(slack_runtime).run_once()
    [*_, last] = fake_slack.to("views.publish")
    home = json.dumps(last.args["view"])
    assert last.args["user_id"] == "U7" and "Nina New" in home
    assert (
        "last activity <!date^" in home
        and "{date_short_pretty} {time}|2026-11-02 09:00 UTC>" in home
    )


def test_a_burst_of_announcements_refreshes_each_app_home_once_at_a_time(
    slack_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    """Debounced: a refresh already waiting renders the newest state, so no second is queued."""
    store = slack_runtime.store
    with store.session() as s:
        slack_store.touch_home_user(s, "U8")
        slack_store.touch_home_user(s, "U9")
    ids = [make_lead(store, f"lead{n}@burst.example", name=f"Burst {n}", now=T0) for n in range(4)]
    with store.session() as s:
        lifecycle.claim(s, lead_id=ids[0], user="U8", now=T0)
    dispatcher(slack_runtime).run_once()  # four cards, each queueing App Home refreshes
    dispatcher(slack_runtime).run_once()
    published = [c.args["user_id"] for c in fake_slack.to("views.publish")]
    assert sorted(published) == ["U8", "U9"]
