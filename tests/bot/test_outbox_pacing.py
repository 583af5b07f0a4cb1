"""Speed to lead and Slack's limits: the dispatcher is woken (in the process, and through
PostgreSQL's NOTIFY from another connection), paces each channel, and a 429 pauses only its
channel until Retry-After, with the channel's messages kept in order."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import select

from bot.dispatcher import Dispatcher, Pacer
from bot.runtime import Runtime, build_runtime
from bot.serve import WakingExecutor, workers_ready
from bot.slack.sender import SlackSender
from storage.db import Store
from storage.models import OutboxMessage, utcnow
from tests.bot.conftest import slack_settings
from tests.bot.fake_slack import Failure, FakeSlack, wait_until
from tests.bot.slack_helpers import get, make_lead
from tests.bot.test_outbox_exactly_once import running


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_pacer_allows_a_burst_then_the_rate_and_a_pause_stops_the_channel() -> None:
    clock = Clock()
    pacer = Pacer(rate=1.0, burst=3, clock=clock)
    for _ in range(3):
        assert pacer.wait("C1") == 0
        pacer.take("C1")
    assert pacer.wait("C1") == 1.0  # the burst is spent: one a second
    assert pacer.wait("C2") == 0  # another channel has its own
    clock.now += 1.0
    assert pacer.wait("C1") == 0
    pacer.take("C1")
    pacer.pause("C2", 30)
    assert pacer.wait("C2") == 30
    clock.now += 30
    assert pacer.wait("C2") == 0
    pacer.take("C2")
    assert pacer.wait("C2") == 1.0  # one post when a pause ends, then the rate


def routed(store: Store, fake: FakeSlack) -> Runtime:
    return build_runtime(
        slack_settings(store.url, fake, slack_routes="country:DE=CDE"), store=store
    )


def posts_to(fake: FakeSlack, channel: str) -> list[float]:
    return [c.at for c in fake.to("chat.postMessage") if c.args["channel"] == channel]


def test_channels_are_paced_in_order_and_independently(store: Store, fake_slack: FakeSlack) -> None:
    runtime = routed(store, fake_slack)
    hot = [make_lead(store, f"p{i}@hot.example") for i in range(8)]
    german = make_lead(store, "k@de.example", country="DE")
    d = Dispatcher(store, SlackSender.from_runtime(runtime), pacer=Pacer(rate=8.0, burst=2))
    with running(d):
        wait_until(lambda: all(get(store, i).slack_ts for i in [*hot, german]), timeout=15)
    assert len(fake_slack.to("chat.postMessage")) == 9  # each once
    hot_at, de_at = posts_to(fake_slack, "CHOT"), posts_to(fake_slack, "CDE")
    # Paced after the burst of 2: 6 more at 8 a second (less a margin for a loaded machine).
    assert hot_at[-1] - hot_at[0] >= (8 - 2) / 8.0 - 0.25
    assert de_at[0] < hot_at[-1]  # the other channel does not wait behind the busy one
    stamps = [get(store, lead_id).slack_ts or "" for lead_id in hot]
    assert stamps == sorted(stamps)  # cards in the order of their leads


def test_a_429_pauses_only_its_channel_until_retry_after(
    store: Store, fake_slack: FakeSlack
) -> None:
    runtime = routed(store, fake_slack)
    fake_slack.fail("chat.postMessage", Failure(429, "ratelimited", retry_after=2))
    for i in range(3):
        make_lead(store, f"h{i}@hot.example")
    d = Dispatcher(store, SlackSender.from_runtime(runtime), pacer=Pacer(rate=50.0, burst=5))
    with running(d, interval=30):
        [limited] = fake_slack.wait_for("chat.postMessage", 1, timeout=10)
        for i in range(2):
            make_lead(store, f"d{i}@de.example", country="DE")
        d.wake()
        fake_slack.wait_for("chat.postMessage", 6, timeout=10)
    hot = [c for c in fake_slack.to("chat.postMessage") if c.args["channel"] == "CHOT"]
    de = posts_to(fake_slack, "CDE")
    assert len(hot) == 4  # the limited one, once more, then the two others: nothing else tried
    assert hot[1].at - limited.at >= 1.95  # paused for Retry-After
    assert all(t < limited.at + 1.95 for t in de)  # the other channel went on meanwhile
    assert hot[0].args["metadata"] == hot[1].args["metadata"]  # the limited card goes first
    ids = [c.args["metadata"]["event_payload"]["outbox_id"] for c in hot[1:]]
    assert ids == sorted(ids)


def test_an_announcement_is_pushed_not_polled(store: Store, fake_slack: FakeSlack) -> None:
    runtime = build_runtime(slack_settings(store.url, fake_slack), store=store)
    d = Dispatcher(store, SlackSender.from_runtime(runtime))
    with running(d, interval=30):  # the fallback poll is far away
        time.sleep(0.5)  # idle: its first look found nothing
        started = time.perf_counter()
        make_lead(store)  # committed by another connection (on PostgreSQL: NOTIFY)
        if store.dialect != "postgresql":
            d.wake()  # in the process: what the ingest queue calls after each batch
        [post] = fake_slack.wait_for("chat.postMessage", 1, timeout=5)
    assert post.at - started < 2.0  # woken: the fallback poll is 30 s away


def test_one_round_skips_a_limited_channel_and_goes_on_with_the_others(
    store: Store, fake_slack: FakeSlack
) -> None:
    runtime = routed(store, fake_slack)
    fake_slack.fail("chat.postMessage", Failure(429, "ratelimited", retry_after=30))
    for i in range(3):
        make_lead(store, f"h{i}@hot.example")
    make_lead(store, "d@de.example", country="DE")
    d = Dispatcher(store, SlackSender.from_runtime(runtime))
    assert d.run_once() == 1  # the German card; the hot channel waits
    assert [c.args["channel"] for c in fake_slack.to("chat.postMessage")] == ["CHOT", "CDE"]
    with store.session() as s:
        waiting = list(s.scalars(select(OutboxMessage).where(OutboxMessage.status == "pending")))  # type: ignore[arg-type]
    assert len(waiting) == 3
    first = min(w.next_attempt_at for w in waiting)
    assert all(w.next_attempt_at - first < timedelta(seconds=1) for w in waiting)  # all at its end
    assert first > utcnow() + timedelta(seconds=25)
    assert d.run_once() == 0  # nothing of that channel is tried before Retry-After


def test_serve_wakes_the_dispatcher_when_an_ingest_batch_is_recorded() -> None:
    woken = threading.Event()
    pool = WakingExecutor(ThreadPoolExecutor(1), woken.set)
    assert pool.submit(lambda: 42).result(5) == 42
    assert woken.wait(5)
    pool.shutdown()


def test_serve_waits_for_its_ingest_workers_before_answering() -> None:
    pool = ThreadPoolExecutor(2, initializer=time.sleep, initargs=(0.4,))
    started = time.monotonic()
    asyncio.run(workers_ready(pool, 2))
    assert time.monotonic() - started >= 0.4  # not before a worker has started
    pool.shutdown()
