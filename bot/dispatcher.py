"""The outbox dispatcher: leases due messages, hands each to a sender, records the outcome.

Senders raise RetryLater (Slack down, 429 with Retry-After) or GiveUp (a permanent error); the
dispatcher turns those into backoff (capped at 15 minutes, for as long as Slack is down) or a dead
letter. Any other exception is a bug in a sender: retried MAX_ATTEMPTS times, then a dead letter.
Without Slack tokens, LogSender writes announcements to the log, so the embedded default is a
working demo.

Speed and Slack's limits (`run`): the dispatcher sleeps until it is woken — by the process that
wrote to the outbox (`wake`, passed to whatever writes), or on PostgreSQL by `NOTIFY` from any
process — with a fallback poll for retries and leases of dead processes. Each channel is a lane:
about one post a second sustained after a small burst (Slack's limit), its messages in the order
their inquiries were accepted, one at a time; a 429 or a Slack failure pauses only that lane until
Retry-After (its other messages wait, other channels go on). Leases are short and renewed by a
heartbeat, so a killed process's messages are taken over within seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from storage.db import Store
from storage.errors import GiveUp, RetryLater, StoreUnavailable
from storage.leads import get_lead
from storage.models import Lead, OutboxMessage, utcnow
from storage.outbox import (
    LEASE,
    MAX_ATTEMPTS,
    keep_for_retry,
    lease_due,
    listen,
    mark_sent,
    postpone,
    renew,
    reschedule,
)

log = logging.getLogger("leadbot.dispatcher")


class Sender(Protocol):
    def send(self, message: OutboxMessage) -> dict[str, Any]: ...


FALLBACK_S = 1.0  # a look at the outbox without a wake-up: retries, dead processes' leases
MAX_HELD = 1000  # leased messages waiting in lanes at most (a burst into a paced channel)
SEND_THREADS = 4  # Web API calls at once, each into another channel
RATE_PER_S = 1.0  # posts per channel per second, sustained (Slack: about one)
BURST = 3  # posts a channel may take at once after a quiet while


class Pacer:
    """Per-channel token buckets, and pauses (Retry-After) that stop a channel entirely."""

    def __init__(
        self, rate: float = RATE_PER_S, burst: int = BURST, *, clock: Any = time.monotonic
    ) -> None:
        self.rate, self.burst, self.clock = rate, float(burst), clock
        self._tokens: dict[str, tuple[float, float]] = {}
        self._paused: dict[str, float] = {}

    def wait(self, lane: str) -> float:
        """Seconds until `lane` may post; 0 for now."""
        now = self.clock()
        until = self._paused.get(lane, 0.0)
        if until > now:
            return until - now
        tokens = self._level(lane, now)
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate

    def take(self, lane: str) -> None:
        now = self.clock()
        self._tokens[lane] = (self._level(lane, now) - 1.0, now)

    def refund(self, lane: str) -> None:
        """A message that posted nothing after all (already posted, skipped, in a digest)."""
        tokens, at = self._tokens.get(lane, (self.burst, self.clock()))
        self._tokens[lane] = (min(self.burst, tokens + 1.0), at)

    def pause(self, lane: str, seconds: float) -> None:
        until = self.clock() + seconds
        self._paused[lane] = until
        self._tokens[lane] = (1.0, until)  # one post when the pause ends, then the rate

    def _level(self, lane: str, now: float) -> float:
        tokens, at = self._tokens.get(lane, (self.burst, now))
        return min(self.burst, tokens + max(0.0, now - at) * self.rate)


@dataclass
class Held:
    """A leased message waiting in its lane."""

    message: OutboxMessage
    lane: str | None
    order: tuple[int, int]


SENT, QUIET, FAILED = "sent", "quiet", "failed"  # QUIET: sent, and nothing new was posted


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
        self,
        store: Store,
        sender: Sender,
        *,
        worker: str | None = None,
        batch: int = 20,
        lease: timedelta = LEASE,
        pacer: Pacer | None = None,
    ) -> None:
        self.store = store
        self.sender = sender
        # One holder name per dispatcher: its heartbeat renews exactly its own leases.
        self.worker = f"{worker or f'{socket.gethostname()}:{os.getpid()}'}:{uuid.uuid4().hex[:6]}"
        self.batch = batch
        self.lease = lease
        self.pacer = pacer or Pacer()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._woken: asyncio.Event | None = None

    def wake(self) -> None:
        """Something was written to the outbox: look now. Safe from any thread, and a no-op
        until `run` started (it looks at the outbox first thing)."""
        loop, woken = self._loop, self._woken
        if loop is not None and woken is not None and not loop.is_closed():
            loop.call_soon_threadsafe(woken.set)

    def _lane(self, message: OutboxMessage) -> tuple[str | None, tuple[int, int]]:
        assert message.id is not None
        lane_of = getattr(self.sender, "lane", None)
        place = None
        if lane_of is not None:
            try:
                place = lane_of(message)
            except StoreUnavailable:
                raise
            except Exception:  # the send will say what is wrong; unpaced meanwhile
                log.debug("outbox %s: no lane", message.id, exc_info=True)
        if place is None:
            return None, (0, message.id)
        return place[0], (place[1], message.id)

    def _attempt(
        self, message: OutboxMessage, *, keep: bool = False, now: datetime | None = None
    ) -> str | float:
        """Send one leased message and record the outcome: SENT, FAILED (rescheduled or a dead
        letter), or the seconds its channel must pause (Slack busy or down). With `keep` such a
        message stays leased (the caller tries it again first); without, it is rescheduled."""
        try:
            result = self.sender.send(message)
        except RetryLater as e:
            log.warning("outbox %s (%s): retry later: %s", message.id, message.kind, e)
            if not e.count_attempt:  # waiting for something else (its card): not the channel
                reschedule(
                    self.store,
                    message,
                    error=str(e),
                    delay=e.delay,
                    count_attempt=False,
                    give_up_after=None,
                    now=now,
                )
                return FAILED
            attempts = message.attempts + 1
            delay = e.delay if e.delay is not None else min(2.0**attempts, 900.0)
            if keep:
                at = (now or utcnow()) + timedelta(seconds=delay)
                keep_for_retry(self.store, message, error=str(e), attempts=attempts, retry_at=at)
                message.attempts = attempts  # the retry looks for this attempt's post first
            else:
                reschedule(
                    self.store,
                    message,
                    error=str(e),
                    delay=delay,
                    give_up_after=None,  # Slack down or busy: kept until it answers
                    now=now,
                )
            return delay
        except GiveUp as e:
            log.error("outbox %s (%s): giving up: %s", message.id, message.kind, e)
            message.attempts = MAX_ATTEMPTS
            reschedule(self.store, message, error=str(e), now=now)
            return FAILED
        except StoreUnavailable:
            raise
        except Exception as e:
            log.exception("outbox %s (%s) failed", message.id, message.kind)
            reschedule(self.store, message, error=f"{type(e).__name__}: {e}", now=now)
            return FAILED
        mark_sent(self.store, message, result=result, now=now)
        posted = "ts" in result and not result.get("already") and not result.get("found")
        return SENT if posted else QUIET

    def run_once(self, *, now: datetime | None = None) -> int:
        """Send every due message once, in lease order; returns how many were sent. A channel
        that fails (429, Slack down) is not tried again in this round: its other messages are
        given back until then. No pacing: `run` paces."""
        sent = 0
        paused: dict[str, datetime] = {}
        for message in lease_due(self.store, worker=self.worker, limit=self.batch, now=now):
            lane, _ = self._lane(message)
            if lane is not None and lane in paused:
                postpone(self.store, [message], until=paused[lane])
                continue
            outcome = self._attempt(message, now=now)
            if outcome in (SENT, QUIET):
                sent += 1
            elif isinstance(outcome, float) and lane is not None:
                paused[lane] = (now or utcnow()) + timedelta(seconds=outcome)
        return sent

    def _lease(self, limit: int) -> list[Held]:
        messages = lease_due(self.store, worker=self.worker, limit=limit, lease=self.lease)
        return [Held(m, *self._lane(m)) for m in messages]

    def _heartbeat(self, stop: threading.Event) -> None:
        """Renew this dispatcher's leases a few times per lease while it lives."""
        every = max(self.lease.total_seconds() / 3, 0.05)
        while not stop.wait(every):
            try:
                renew(self.store, worker=self.worker, lease=self.lease)
            except Exception as e:  # the database is away: the leases may lapse, harmlessly
                log.warning("outbox leases not renewed: %s", e)

    async def run(self, stop: asyncio.Event, *, interval: float = FALLBACK_S) -> None:
        """Send until `stop` is set: woken by `wake` or NOTIFY, paced per channel."""
        loop = asyncio.get_running_loop()
        self._loop, self._woken = loop, asyncio.Event()
        threads_stop = threading.Event()
        threads = [threading.Thread(target=self._heartbeat, args=(threads_stop,), daemon=True)]
        if self.store.dialect == "postgresql":
            threads.append(
                threading.Thread(
                    target=listen, args=(self.store, self.wake, threads_stop), daemon=True
                )
            )
        for t in threads:
            t.start()
        pool = ThreadPoolExecutor(SEND_THREADS, thread_name_prefix="outbox")
        lanes: dict[str | None, list[Held]] = {}
        busy: dict[asyncio.Future[str | float], Held] = {}
        look, next_look = True, 0.0
        try:
            while not stop.is_set():
                held = sum(len(q) for q in lanes.values()) + len(busy)
                if (look or loop.time() >= next_look) and held < MAX_HELD:
                    look, next_look = False, loop.time() + interval
                    fresh = await self._lease_safely(min(self.batch * 5, MAX_HELD - held))
                    for h in fresh:
                        lanes.setdefault(h.lane, []).append(h)
                    for q in lanes.values():
                        q.sort(key=lambda h: h.order)
                    look = len(fresh) >= min(self.batch * 5, MAX_HELD - held)  # more waiting
                timeout = max(next_look - loop.time(), 0.0)
                sending = {h.lane for h in busy.values()}
                for lane, queue in list(lanes.items()):
                    while queue and (lane is None or lane not in sending):
                        if lane is not None:
                            wait = self.pacer.wait(lane)
                            if wait > 0:
                                timeout = min(timeout, wait)
                                break
                            self.pacer.take(lane)
                            sending.add(lane)
                        h = queue.pop(0)
                        future = loop.run_in_executor(pool, self._attempt_kept, h)
                        busy[future] = h
                    if not queue:
                        del lanes[lane]
                if self._woken.is_set():  # woken while sending: look again before sleeping
                    look = True
                    self._woken.clear()
                woken = asyncio.ensure_future(self._woken.wait())
                stopping = asyncio.ensure_future(stop.wait())
                waiting: set[asyncio.Future[Any]] = {woken, stopping, *busy}
                done, _ = await asyncio.wait(
                    waiting,
                    timeout=0 if look and held < MAX_HELD else timeout,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                woken.cancel()
                stopping.cancel()
                if woken in done:
                    look = True
                    self._woken.clear()
                for future in [f for f in done if f in busy]:
                    h = busy.pop(future)
                    self._settle(future, h, lanes)
        finally:
            threads_stop.set()
            for future in busy:
                future.cancel()
            pool.shutdown(wait=False, cancel_futures=True)
            self._loop = self._woken = None
            unsent = [h.message for q in lanes.values() for h in q]
            if unsent:  # given back for the next process: not a lapsed lease (no attempt)
                with contextlib.suppress(Exception):
                    postpone(self.store, unsent, until=utcnow())

    def _attempt_kept(self, h: Held) -> str | float:
        """In a paced lane a failed message stays leased and goes first when the lane resumes."""
        return self._attempt(h.message, keep=h.lane is not None)

    async def _lease_safely(self, limit: int) -> list[Held]:
        try:
            return await asyncio.to_thread(self._lease, limit)
        except StoreUnavailable as e:
            log.warning("outbox paused: %s", e)
        except Exception:
            log.exception("outbox dispatcher error")
        return []

    def _settle(
        self, future: asyncio.Future[str | float], h: Held, lanes: dict[str | None, list[Held]]
    ) -> None:
        try:
            outcome = future.result()
        except StoreUnavailable as e:  # the outcome is not recorded: the lease lapses, retried
            log.warning("outbox paused: %s", e)
            if h.lane is not None:
                self.pacer.pause(h.lane, 2.0)
            return
        except Exception:
            log.exception("outbox dispatcher error")
            return
        if outcome == QUIET and h.lane is not None:
            self.pacer.refund(h.lane)
        if isinstance(outcome, float) and h.lane is not None:
            # 429 or Slack down: this channel waits, this message first when it goes on.
            self.pacer.pause(h.lane, outcome)
            lanes.setdefault(h.lane, []).insert(0, h)
