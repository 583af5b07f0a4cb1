"""The HTTP listener as the internet meets it: deadlines and caps uvicorn and h11 do not have.

h11 has no header timeout, and uvicorn's keep-alive timer is cancelled by any byte received, so a
client that sends a partial request line, or one byte every few seconds, holds its connection
(and a file descriptor) forever; ~1,000 of them stopped both listeners. Here:

- `guarded_protocol`: uvicorn's h11 protocol with a deadline for each request head, a deadline
  for the rest of a body nobody reads any more, a cap on connections in all and per client
  address (trusted proxies excepted), refusals answered `503` and counted, not logged one by one;
- `BodyDeadline`: ASGI middleware that answers `408` when a request body (a chunked one that
  never ends, say) is not complete within its deadline;
- `quiet_exhaustion`: an event-loop exception handler that turns asyncio's traceback per failed
  accept (`EMFILE`, "Too many open files") into one log line a minute.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import h11
import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from bot.config import Settings
from storage.errors import Refused

log = logging.getLogger("leadbot.http")

MAX_HEAD_BYTES = 16 * 1024  # request line and headers (h11's own default, made explicit)
QUIET_S = 60.0  # at most one log line a minute for each kind of refusal
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 27\r\n"
    b"Retry-After: 5\r\nConnection: close\r\n\r\ntoo many connections, retry"
)
_OUT_OF = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)


@dataclass(frozen=True)
class Limits:
    """The protocol's deadlines (seconds) and connection caps (0 per IP: no cap). The body's
    deadline is the app's (BodyDeadline): only it knows when a body is being waited for."""

    header_timeout_s: float = 10.0
    idle_timeout_s: int = 5
    max_connections: int = 500
    max_per_ip: int = 32
    trusted: str = "127.0.0.1,::1"  # uvicorn's FORWARDED_ALLOW_IPS: proxies share one address

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            header_timeout_s=settings.http_header_timeout_seconds,
            idle_timeout_s=settings.http_idle_timeout_seconds,
            max_connections=settings.http_max_connections,
            max_per_ip=settings.http_max_connections_per_ip,
        )


class Tally:
    """Counts of one kind of event, logged at most once every QUIET_S seconds."""

    def __init__(self, what: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.what = what
        self.clock = clock
        self.count = 0
        self._since = 0  # counted since the last line
        self._logged_at: float | None = None

    def add(self, detail: str = "") -> None:
        self.count += 1
        self._since += 1
        now = self.clock()
        if self._logged_at is None or now - self._logged_at >= QUIET_S:
            log.warning("HTTP: %s (%d in the last minute)%s", self.what, self._since, detail)
            self._logged_at, self._since = now, 0


class Trusted:
    """Addresses and networks written as uvicorn's FORWARDED_ALLOW_IPS is (`*` for all)."""

    def __init__(self, spec: str) -> None:
        parts = [p.strip() for p in spec.split(",") if p.strip()]
        self.everyone = "*" in parts
        self.networks = []
        for part in parts:
            try:
                self.networks.append(ipaddress.ip_network(part, strict=False))
            except ValueError:
                continue  # a unix socket path or a name: never a peer address here

    def __contains__(self, host: str) -> bool:
        if self.everyone:
            return True
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self.networks)


def guarded_protocol(limits: Limits) -> type[H11Protocol]:
    """A protocol class for one server: its counters are shared by that server's connections."""
    per_ip: Counter[str] = Counter()
    trusted = Trusted(limits.trusted)
    busy = Tally("connections refused: over LEADBOT_HTTP_MAX_CONNECTIONS")
    crowded = Tally("connections refused: over LEADBOT_HTTP_MAX_CONNECTIONS_PER_IP")
    slow = Tally("connections closed: request head or body not sent in time")

    class GuardedProtocol(H11Protocol):
        _timer: asyncio.TimerHandle | None = None
        _armed: str | None = None
        _host: str | None = None  # counted against its address's cap
        _refused = False

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            host = self.client[0] if self.client else None
            if len(self.connections) > limits.max_connections:
                self._refuse(busy)
                return
            if host is not None and limits.max_per_ip and host not in trusted:
                if per_ip[host] >= limits.max_per_ip:
                    self._refuse(crowded, f"; last: {host}")
                    return
                per_ip[host] += 1
                self._host = host
            self._watch()

        def _refuse(self, tally: Tally, detail: str = "") -> None:
            self._refused = True
            tally.add(detail)
            self.transport.write(_BUSY)
            self.transport.close()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            if self._host is not None:
                per_ip[self._host] -= 1
                if per_ip[self._host] <= 0:
                    del per_ip[self._host]
                self._host = None
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            if not self._refused:
                super().data_received(data)

        def handle_events(self) -> None:
            super().handle_events()
            self._watch()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._watch()

        def _watch(self) -> None:
            """Arm the deadline the connection's state calls for (or none)."""
            if self.transport is None or self.transport.is_closing():
                self._disarm()
                return
            theirs, ours = self.conn.their_state, self.conn.our_state
            if theirs is h11.IDLE:  # waiting for a request head, however many bytes came
                want, seconds = "head", limits.header_timeout_s
            elif theirs is h11.SEND_BODY and ours in (h11.DONE, h11.MUST_CLOSE):
                # Answered before the body was read (401, 413): the rest may not trickle forever.
                want, seconds = "drain", float(limits.idle_timeout_s)
            else:
                self._disarm()
                return
            if self._armed != want:
                self._disarm()
                self._armed = want
                self._timer = self.loop.call_later(seconds, self._expired)

        def _disarm(self) -> None:
            if self._timer is not None:
                self._timer.cancel()
            self._timer, self._armed = None, None

        def _expired(self) -> None:
            self._timer, self._armed = None, None
            if not self.transport.is_closing():
                slow.add()
                self.transport.close()

    return GuardedProtocol


class BodyTimeout(Refused):
    """The request body did not arrive within its deadline (408, and the connection closes)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(
            408,
            f"request body not received within {seconds:g} s",
            headers={"Connection": "close"},
        )


class BodyDeadline:
    """ASGI middleware: the whole request body must arrive within `timeout_s` of the first read."""

    def __init__(self, app: ASGIApp, *, timeout_s: float) -> None:
        self.app = app
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline: float | None = None
        complete = False

        async def timed() -> Message:
            nonlocal deadline, complete
            if complete:  # after the body: http.disconnect is waited for as long as it takes
                return await receive()
            loop = asyncio.get_running_loop()
            if deadline is None:
                deadline = loop.time() + self.timeout_s
            try:
                async with asyncio.timeout(max(0.0, deadline - loop.time())):
                    message = await receive()
            except TimeoutError:
                raise BodyTimeout(self.timeout_s) from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                complete = True
            return message

        await self.app(scope, timed, send)


def http_config(
    app: ASGIApp, *, host: str, port: int, limits: Limits, forwarded_allow_ips: str | None = None
) -> uvicorn.Config:
    """uvicorn's settings for `leadbot serve`: the guarded protocol and the limits above.

    The proxies exempt from the per-address cap are the ones uvicorn believes `X-Forwarded-For`
    from: `forwarded_allow_ips`, by default uvicorn's FORWARDED_ALLOW_IPS (read by uvicorn).
    """
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="info",
        lifespan="on",
        access_log=False,
        timeout_keep_alive=limits.idle_timeout_s,
        h11_max_incomplete_event_size=MAX_HEAD_BYTES,
        # uvicorn answers 503 to a request when this many connections or requests are open; the
        # protocol above already refuses connections over the cap, so one more than it.
        limit_concurrency=limits.max_connections + 1,
        forwarded_allow_ips=forwarded_allow_ips,
    )
    proxies = config.forwarded_allow_ips
    trusted = proxies if isinstance(proxies, str) else ",".join(proxies)
    config.http = guarded_protocol(replace(limits, trusted=trusted))  # read when serving starts
    return config


def quiet_exhaustion(loop: asyncio.AbstractEventLoop) -> None:
    """Install the loop handler: "out of file descriptors" once a minute, the rest as before.

    asyncio calls the exception handler with a traceback on every failed accept (it retries each
    second per listening socket, and again for each connection it cannot serve); at the
    descriptor limit that was hundreds of megabytes of log a minute.
    """
    tally = Tally("out of file descriptors or buffers; accepting again once some are free")

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        error = context.get("exception")
        if isinstance(error, OSError) and error.errno in _OUT_OF:
            tally.add(f"; {error.strerror}")
            return
        loop.default_exception_handler(context)

    loop.set_exception_handler(handler)
