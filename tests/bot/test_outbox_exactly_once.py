"""Exactly-once Slack posts across crashes: a sender killed inside chat.postMessage (a real
process, SIGKILL, while the Web API stand-in holds the call) is taken over within seconds, and
the post it made is found by its metadata instead of being posted again. On both backends."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from bot.dispatcher import Dispatcher
from bot.runtime import Runtime
from bot.slack.sender import EVENT_TYPE, SlackSender
from storage.models import OutboxMessage
from storage.outbox import lease_due
from tests.bot.fake_slack import FakeSlack, wait_until
from tests.bot.slack_helpers import get, make_lead

ROOT = Path(__file__).resolve().parents[2]
LEASE = timedelta(seconds=1.5)


def rows(runtime: Runtime) -> list[OutboxMessage]:
    with runtime.store.session() as s:
        return list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))  # type: ignore[arg-type]


def announce_rows(runtime: Runtime) -> list[OutboxMessage]:
    return [r for r in rows(runtime) if r.kind == "announce"]


def announce_row(runtime: Runtime) -> OutboxMessage:
    [row] = announce_rows(runtime)
    return row


def dispatcher(runtime: Runtime, worker: str = "survivor") -> Dispatcher:
    return Dispatcher(runtime.store, SlackSender.from_runtime(runtime), worker=worker, lease=LEASE)


@contextmanager
def running(d: Dispatcher, *, interval: float = 0.2) -> Iterator[None]:
    """`Dispatcher.run` on a loop of its own, in a thread, as `serve` runs it."""
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    thread = threading.Thread(
        target=loop.run_until_complete, args=(d.run(stop, interval=interval),), daemon=True
    )
    thread.start()
    try:
        yield
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()


def test_a_sender_killed_inside_the_post_is_taken_over_and_never_posts_twice(
    slack_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    lead_id = make_lead(slack_runtime.store)
    other_id = make_lead(slack_runtime.store, "sam@beta.example")  # leased too, behind it
    hold = fake_slack.holds["chat.postMessage"] = threading.Event()
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.bot.outbox_child",
            slack_runtime.store.url,
            fake_slack.url,
            str(LEASE.total_seconds()),
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        [post] = fake_slack.wait_for("chat.postMessage", timeout=60)
        wait_until(lambda: all(r.locked_by for r in announce_rows(slack_runtime)), timeout=10)
        os.kill(child.pid, signal.SIGKILL)  # inside the call: Slack has the card, nobody knows
        child.wait(10)
        killed = time.monotonic()
    finally:
        if child.poll() is None:
            child.kill()
        hold.set()
        del fake_slack.holds["chat.postMessage"]
    first, second = announce_rows(slack_runtime)
    assert post.args["metadata"]["event_type"] == EVENT_TYPE
    assert post.args["metadata"]["event_payload"]["outbox_id"] == first.id
    posted_ts = fake_slack.history["CHOT"][0]["ts"]

    survivor = dispatcher(slack_runtime)
    with running(survivor):
        wait_until(
            lambda: all(r.status == "sent" for r in announce_rows(slack_runtime)), timeout=10
        )
    taken_over_after = time.monotonic() - killed
    assert taken_over_after < LEASE.total_seconds() + 5  # seconds, not minutes

    posts = fake_slack.to("chat.postMessage")
    assert [p.args["metadata"]["event_payload"]["outbox_id"] for p in posts] == [
        first.id,
        second.id,
    ]  # the killed one's card once; the one it held but never sent, posted by the survivor
    search = fake_slack.to("conversations.history")[0]
    assert search.args["channel"] == "CHOT" and search.args["include_all_metadata"] in ("1", "true")
    first, second = announce_rows(slack_runtime)
    assert first.result["found"] is True and first.result["ts"] == posted_ts
    lead = get(slack_runtime.store, lead_id)
    assert (lead.slack_channel, lead.slack_ts) == ("CHOT", posted_ts)
    assert get(slack_runtime.store, other_id).slack_ts == second.result["ts"] != posted_ts


def test_a_lapsed_lease_whose_post_never_reached_slack_is_posted_once(
    slack_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    make_lead(slack_runtime.store)
    # A dispatcher took it and died before its call left: the lease lapses, nothing was posted.
    assert len(lease_due(slack_runtime.store, worker="dead:1", lease=timedelta(seconds=0.2))) == 1
    time.sleep(0.3)
    assert dispatcher(slack_runtime).run_once() == 1
    assert announce_row(slack_runtime).attempts == 2  # the lapsed lease counted, then the send
    assert len(fake_slack.to("conversations.history")) == 1  # looked first
    [post] = fake_slack.to("chat.postMessage")  # found nothing, so posted: once
    assert post.args["metadata"]["event_payload"]["outbox_id"] == announce_row(slack_runtime).id


def test_a_live_dispatcher_keeps_its_lease_through_a_slow_call(
    slack_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    make_lead(slack_runtime.store)
    hold = fake_slack.holds["chat.postMessage"] = threading.Event()
    first, second = dispatcher(slack_runtime, "first"), dispatcher(slack_runtime, "second")
    with running(first):
        fake_slack.wait_for("chat.postMessage", timeout=10)
        deadline = time.monotonic() + LEASE.total_seconds() * 2  # two leases long
        while time.monotonic() < deadline:
            assert second.run_once() == 0  # the heartbeat renews it: nobody takes it over
            time.sleep(0.1)
        hold.set()
        wait_until(lambda: announce_row(slack_runtime).status == "sent", timeout=10)
    assert len(fake_slack.to("chat.postMessage")) == 1
    assert fake_slack.to("conversations.history") == []  # a first attempt: nothing to look for


def test_a_thread_reply_lost_after_posting_is_found_in_its_thread(
    slack_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    from storage import slack as slack_store

    lead_id = make_lead(slack_runtime.store)
    assert dispatcher(slack_runtime).run_once() == 1
    lead = get(slack_runtime.store, lead_id)
    with slack_runtime.store.session() as s:
        slack_store.enqueue(s, kind="thread", lead_id=lead_id, payload={"text": "note"})
    # The reply reaches Slack and the process dies before recording it.
    thread = next(r for r in rows(slack_runtime) if r.kind == "thread")
    taken = lease_due(slack_runtime.store, worker="dead:2", lease=timedelta(seconds=0.2))
    assert [t.id for t in taken] == [thread.id]
    sender = SlackSender.from_runtime(slack_runtime)
    sender.send(taken[0])  # posted, not recorded
    time.sleep(0.3)
    assert dispatcher(slack_runtime).run_once() == 1
    posts = fake_slack.to("chat.postMessage")
    assert [p.args.get("thread_ts") for p in posts] == [None, lead.slack_ts]  # one reply
    [search] = fake_slack.to("conversations.replies")
    assert search.args["ts"] == lead.slack_ts
