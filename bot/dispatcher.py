"""The outbox dispatcher: leases due messages, hands each to a sender, records the outcome.

Senders raise RetryLater (Slack down, 429 with Retry-After) or GiveUp (a permanent error); the
dispatcher turns those into backoff (capped at 15 minutes, for as long as Slack is down) or a dead
letter. Any other exception is a bug in a sender: retried MAX_ATTEMPTS times, then a dead letter.
Without Slack tokens, LogSender writes announcements to the log, so the embedded default is a
working demo.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from datetime import datetime
from typing import Any, Protocol

from storage.db import Store
from storage.errors import GiveUp, RetryLater, StoreUnavailable
from storage.leads import get_lead
from storage.models import Lead, OutboxMessage
from storage.outbox import MAX_ATTEMPTS, lease_due, mark_sent, reschedule

log = logging.getLogger("leadbot.dispatcher")


class Sender(Protocol):
    def send(self, message: OutboxMessage) -> dict[str, Any]: ...


def announcement_line(lead: Lead) -> str:
    who = lead.name or lead.email
    parts = [f"HOT LEAD #{lead.id}: {who} <{lead.email}>"]
    if lead.title or lead.company:
        parts.append(", ".join(filter(None, [lead.title, lead.company])))
    parts.append(f"score {lead.score:g} ({lead.temperature})")
    if lead.forwarded_by:
        parts.append(f"forwarded by {lead.forwarded_by}")
    top = sorted(lead.reasons, key=lambda r: -abs(float(r.get("points", 0))))[:3]
    if top:
        parts.append(
            "why: " + "; ".join(f"{r['points']:+g} {r.get('reason', r.get('rule'))}" for r in top)
        )
    return " — ".join(parts)


class LogSender:
    """Writes each outbox message to the log instead of Slack."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def send(self, message: OutboxMessage) -> dict[str, Any]:
        if message.kind == "review":  # without Slack, the log is where a person is told
            p = message.payload
            log.warning(
                "input #%s needs a person (%s): %s; see `leadbot review show %s`",
                p.get("raw_id"),
                p.get("status"),
                p.get("reason"),
                p.get("raw_id"),
            )
            return {"logged": True}
        if message.lead_id is None:
            log.info("outbox %s: %s %s", message.id, message.kind, message.payload)
            return {"logged": True}
        with self.store.session() as session:
            lead = get_lead(session, lead_id=message.lead_id)
        if message.kind == "announce":
            log.warning("%s", announcement_line(lead))
        else:
            log.info("lead #%s <%s>: %s %s", lead.id, lead.email, message.kind, message.payload)
        return {"logged": True}


class Dispatcher:
    """Sends what the outbox holds, once, in order, with retries."""

    def __init__(
        self, store: Store, sender: Sender, *, worker: str | None = None, batch: int = 20
    ) -> None:
        self.store = store
        self.sender = sender
        self.worker = worker or f"{socket.gethostname()}:{os.getpid()}"
        self.batch = batch

    def run_once(self, *, now: datetime | None = None) -> int:
        """Send every due message once; returns how many were sent."""
        sent = 0
        for message in lease_due(self.store, worker=self.worker, limit=self.batch, now=now):
            try:
                result = self.sender.send(message)
            except RetryLater as e:
                log.warning("outbox %s (%s): retry later: %s", message.id, message.kind, e)
                reschedule(
                    self.store,
                    message,
                    error=str(e),
                    delay=e.delay,
                    count_attempt=e.count_attempt,
                    give_up_after=None,  # Slack down or busy: kept until it answers
                    now=now,
                )
                continue
            except GiveUp as e:
                log.error("outbox %s (%s): giving up: %s", message.id, message.kind, e)
                message.attempts = MAX_ATTEMPTS
                reschedule(self.store, message, error=str(e), now=now)
                continue
            except StoreUnavailable:
                raise
            except Exception as e:
                log.exception("outbox %s (%s) failed", message.id, message.kind)
                reschedule(self.store, message, error=f"{type(e).__name__}: {e}", now=now)
                continue
            mark_sent(self.store, message, result=result, now=now)
            sent += 1
        return sent

    async def run(self, stop: asyncio.Event, *, interval: float = 1.0) -> None:
        """Poll the outbox until `stop` is set; database outages only delay sending."""
        while not stop.is_set():
            try:
                sent = await asyncio.to_thread(self.run_once)
            except StoreUnavailable as e:
                log.warning("outbox paused: %s", e)
                sent = 0
            except Exception:
                log.exception("outbox dispatcher error")
                sent = 0
            if sent < self.batch:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=interval)
