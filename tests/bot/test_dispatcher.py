"""The outbox dispatcher: log delivery without Slack, retries with backoff, Retry-After, dead letters."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.dispatcher import Dispatcher, LogSender
from storage import lifecycle
from storage.db import Store
from storage.errors import GiveUp, RetryLater
from storage.models import OutboxMessage
from tests.reference import record_inquiry

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def announced(store: Store) -> int:
    with store.session() as s:
        rec = record_inquiry(
            s,
            email="dana@northwind.example",
            kind="email_inquiry",
            source="email",
            occurred_at=T0,
            dedup_key="msgid:<d1>",
            profile={"name": "Dana <!channel> Whitfield", "company": "Northwind"},
            now=T0,
        )
        assert rec.lead.id is not None
        lifecycle.announce(s, lead_id=rec.lead.id, now=T0)
        return rec.lead.id


class Flaky:
    """A sender that fails as told, then succeeds; records what it was asked to send."""

    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.sent: list[int] = []

    def send(self, message: OutboxMessage) -> dict[str, Any]:
        if self.failures:
            raise self.failures.pop(0)
        assert message.id is not None
        self.sent.append(message.id)
        return {"ok": True}


def outbox(store: Store) -> list[OutboxMessage]:
    with store.session() as s:
        return list(s.scalars(select(OutboxMessage)))


def test_without_slack_announcements_go_to_the_log(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    lead_id = announced(store)
    with caplog.at_level(logging.INFO, logger="leadbot.dispatcher"):
        assert Dispatcher(store, LogSender(store)).run_once() == 1
    assert f"HOT LEAD #{lead_id}: Dana <!channel> Whitfield <dana@northwind.example>" in caplog.text
    [row] = outbox(store)
    assert row.status == "sent" and row.sent_at is not None
    assert Dispatcher(store, LogSender(store)).run_once() == 0  # never twice


def test_retry_after_is_honoured_then_sent(store: Store) -> None:
    announced(store)
    sender = Flaky(RetryLater("429 ratelimited", delay=30))
    dispatcher = Dispatcher(store, sender)
    assert dispatcher.run_once(now=T0) == 0
    [row] = outbox(store)
    assert row.status == "pending" and row.attempts == 1
    assert row.next_attempt_at == T0 + timedelta(seconds=30)
    assert dispatcher.run_once(now=T0 + timedelta(seconds=29)) == 0  # not due yet
    assert dispatcher.run_once(now=T0 + timedelta(seconds=31)) == 1
    assert sender.sent == [row.id]


def test_backoff_grows_and_a_permanent_error_is_a_dead_letter(store: Store) -> None:
    announced(store)
    dispatcher = Dispatcher(store, Flaky(ConnectionError("down"), ConnectionError("down")))
    dispatcher.run_once(now=T0)
    first = outbox(store)[0].next_attempt_at
    dispatcher.run_once(now=first)
    second = outbox(store)[0].next_attempt_at
    assert (second - first) > (first - T0)
    dead = Dispatcher(store, Flaky(GiveUp("channel_not_found")))
    dead.run_once(now=second)
    [row] = outbox(store)
    assert row.status == "dead" and "channel_not_found" in (row.last_error or "")


def test_a_day_of_slack_outage_keeps_the_message_and_sends_it_when_slack_is_back(
    store: Store,
) -> None:
    announced(store)
    down = [RetryLater("Slack unreachable: ConnectionRefusedError") for _ in range(40)]
    sender = Flaky(*down)
    dispatcher = Dispatcher(store, sender)
    now = T0
    for _ in range(40):  # 40 attempts, far past MAX_ATTEMPTS: about 7.5 hours of outage
        assert dispatcher.run_once(now=now) == 0
        [row] = outbox(store)
        assert row.status == "pending"
        assert row.next_attempt_at - now <= timedelta(minutes=15)  # backoff is capped
        now = row.next_attempt_at
    assert row.attempts == 40 and now - T0 > timedelta(hours=7)
    assert dispatcher.run_once(now=now) == 1  # Slack is back
    assert sender.sent == [row.id] and outbox(store)[0].status == "sent"


def test_a_sender_bug_is_a_dead_letter_after_max_attempts(store: Store) -> None:
    announced(store)
    dispatcher = Dispatcher(store, Flaky(*[TypeError("bad block") for _ in range(12)]))
    now = T0
    for _ in range(12):
        dispatcher.run_once(now=now)
        now = outbox(store)[0].next_attempt_at
    [row] = outbox(store)
    assert row.status == "dead" and "TypeError: bad block" in (row.last_error or "")


def test_two_dispatchers_never_send_the_same_message(store: Store) -> None:
    for i in range(3):
        with store.session() as s:
            rec = record_inquiry(
                s,
                email=f"p{i}@x.example",
                kind="email_inquiry",
                source="email",
                occurred_at=T0,
                dedup_key=f"k{i}",
                profile={},
                now=T0,
            )
            lifecycle.announce(s, lead_id=rec.lead.id or 0, now=T0)
    a, b = Flaky(), Flaky()
    Dispatcher(store, a, worker="a", batch=2).run_once(now=T0)
    Dispatcher(store, b, worker="b", batch=2).run_once(now=T0)
    assert sorted(a.sent + b.sent) == sorted(r.id for r in outbox(store) if r.id is not None)
    assert not set(a.sent) & set(b.sent)
