"""SlackSender through the real dispatcher against the fake Web API, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import select

from bot.runtime import Runtime, build_runtime
from storage import lifecycle
from storage.models import OutboxMessage
from tests.bot.conftest import dispatcher, slack_settings
from tests.bot.fake_slack import Failure, FakeSlack
from tests.bot.slack_helpers import T0, get, make_lead


def outbox(runtime: Runtime) -> list[OutboxMessage]:
    with runtime.store.session() as s:
        return list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))  # type: ignore[arg-type]


def test_announce_posts_the_card_and_remembers_where(
    slack_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    lead_id = make_lead(slack_runtime.store)
    assert dispatcher(slack_runtime).run_once(now=T0) == 1
    [post] = fake_slack.to("chat.postMessage")
    assert post.args["channel"] == "CHOT"
    assert post.headers["authorization"] == "Bearer xoxb-test-token"
    texts = str(post.args["blocks"])
    assert "Jane Doe" in texts and "Budget mentioned" in texts and "budget approved" in texts
    assert "40 seats of your analytics product" in texts  # the inquiry excerpt
    buttons = [
        e["text"]["text"]
        for b in post.args["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
    ]
    assert buttons == ["Claim", "Add note", "Back to nurturing", "Log activity"]
    lead = get(slack_runtime.store, lead_id)
    assert (lead.slack_channel, lead.slack_ts) == ("CHOT", "1700000000.000001")
    # Sent once: the next run finds nothing due.
    assert dispatcher(slack_runtime).run_once(now=T0 + timedelta(minutes=1)) == 0
    assert len(fake_slack.to("chat.postMessage")) == 1


def test_routing_rules_pick_the_channel(store, fake_slack: FakeSlack) -> None:  # type: ignore[no-untyped-def]
    settings = slack_settings(
        store.url,
        fake_slack,
        slack_routes="product:analytics=CANA,country:DE|AT=CDACH,domain:bigco.com=CBIG",
    )
    runtime = build_runtime(settings, store=store)
    make_lead(store, "a@x.example", product="Analytics")
    make_lead(store, "b@y.example", country="AT")
    make_lead(store, "c@eu.bigco.com")
    make_lead(store, "d@z.example")
    dispatcher(runtime).run_once(now=T0)
    assert [c.args["channel"] for c in fake_slack.to("chat.postMessage")] == [
        "CANA",
        "CDACH",
        "CBIG",
        "CHOT",
    ]


def test_429_honours_retry_after_then_sends(slack_runtime: Runtime, fake_slack: FakeSlack) -> None:
    make_lead(slack_runtime.store)
    fake_slack.fail("chat.postMessage", Failure(status=429, error="ratelimited", retry_after=42))
    assert dispatcher(slack_runtime).run_once(now=T0) == 0
    [row] = outbox(slack_runtime)
    assert row.status == "pending" and row.next_attempt_at == T0 + timedelta(seconds=42)
    assert "rate limited" in (row.last_error or "")
    assert dispatcher(slack_runtime).run_once(now=T0 + timedelta(seconds=41)) == 0  # not due yet
    assert dispatcher(slack_runtime).run_once(now=T0 + timedelta(seconds=42)) == 1
    assert len(fake_slack.to("chat.postMessage")) == 2  # the refused one and the real one


def test_slack_down_keeps_everything_and_backs_off(
    slack_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    make_lead(slack_runtime.store)
    fake_slack.fail("chat.postMessage", Failure(status=500, error="internal_error"))
    assert dispatcher(slack_runtime).run_once(now=T0) == 0
    [row] = outbox(slack_runtime)
    assert (row.status, row.attempts) == ("pending", 1) and row.next_attempt_at > T0
    fake_slack.stop()  # now nothing answers at all: connection refused
    later = T0 + timedelta(hours=1)
    assert dispatcher(slack_runtime).run_once(now=later) == 0
    [row] = outbox(slack_runtime)
    assert row.status == "pending" and "unreachable" in (row.last_error or "")


def test_permanent_errors_are_dead_letters(slack_runtime: Runtime, fake_slack: FakeSlack) -> None:
    make_lead(slack_runtime.store)
    fake_slack.fail("chat.postMessage", Failure(status=200, error="channel_not_found"))
    dispatcher(slack_runtime).run_once(now=T0)
    [row] = outbox(slack_runtime)
    assert row.status == "dead" and "channel_not_found" in (row.last_error or "")


def test_thread_waits_for_its_announcement(slack_runtime: Runtime, fake_slack: FakeSlack) -> None:
    from storage.slack import enqueue_lead_changed

    lead_id = make_lead(slack_runtime.store)
    fake_slack.fail("chat.postMessage", Failure(status=503, error="service_unavailable"))
    with slack_runtime.store.session() as s:
        lead = lifecycle.claim(s, lead_id=lead_id, user="U1", now=T0)
        enqueue_lead_changed(s, lead, thread={"event": "note", "actor": "U1", "text": "hi"}, now=T0)
    dispatcher(slack_runtime).run_once(now=T0)  # announce fails; update + thread must wait for it
    rows = {r.kind: r for r in outbox(slack_runtime)}
    assert rows["thread"].attempts == 0 and rows["update_card"].attempts == 0
    assert rows["thread"].status == "pending"
    dispatcher(slack_runtime).run_once(now=T0 + timedelta(minutes=5))
    posts = fake_slack.to("chat.postMessage")
    assert [p.args.get("thread_ts") for p in posts[1:]] == [None, "1700000000.000001"]
    [update] = fake_slack.to("chat.update")
    assert "*Claimed by <@U1>*" in str(update.args["blocks"])


def test_two_dispatchers_never_post_twice(store, fake_slack: FakeSlack) -> None:  # type: ignore[no-untyped-def]
    runtime = build_runtime(slack_settings(store.url, fake_slack), store=store)
    fake_slack.delay_s = 0.01  # widen the window in which both could take the same row
    ids = [make_lead(store, f"lead{i}@x{i}.example", name=f"Lead {i}") for i in range(12)]
    barrier = threading.Barrier(2)

    def run(worker: str) -> None:
        d = dispatcher(runtime, worker=worker)
        d.batch = 3
        barrier.wait()
        while d.run_once(now=T0 + timedelta(seconds=1)):
            pass

    threads = [threading.Thread(target=run, args=(f"w{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    posted = [c.args["text"] for c in fake_slack.to("chat.postMessage")]
    assert len(posted) == len(ids) == len(set(posted))
    assert all(r.status == "sent" for r in outbox(runtime))
