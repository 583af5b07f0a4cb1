"""Guards of a listening socket: who may connect, how many at once, and quiet refusals.

`ClientGate` counts open sessions per client and in all and knows the networks allowed in;
`AcceptGuard` turns asyncio's traceback per failed `accept()` (descriptors or memory run out)
into one warning a minute. Neither knows a protocol: the SMTP and LMTP listeners share them.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

log = logging.getLogger("leadbot.listen")

# asyncio stops accepting for a second and retries on these (selector_events._accept_connection).
RESOURCE_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
IPV6_CLIENT_PREFIX = 64  # one IPv6 client usually holds a whole /64: count it as one


def parse_networks(items: Iterable[str]) -> tuple[Network, ...]:
    """`10.0.0.0/8`, `192.0.2.7`, `2001:db8::/32`: host bits are dropped (`192.0.2.7/24` is the /24)."""
    return tuple(ipaddress.ip_network(item.strip(), strict=False) for item in items if item.strip())


class Refusal(Enum):
    """Why a connection was turned away at connect."""

    NOT_ALLOWED = "not allowed"  # outside LEADBOT_SMTP_ALLOWED_CLIENTS: permanent
    PER_CLIENT = "too many connections from this client"  # temporary: try later
    BUSY = "too many sessions"  # temporary: try later


@dataclass
class ClientGate:
    """Admits a connection, or says why not; `release` when it closes. One per process."""

    allowed: tuple[Network, ...] = ()  # empty: every address
    max_per_client: int = 20
    max_sessions: int = 200
    _open: Counter[str] = field(default_factory=Counter, init=False, repr=False)
    total: int = field(default=0, init=False)

    def admit(self, host: str) -> tuple[str, Refusal | None]:
        """The client's key (for `release`) and a refusal, or None when it was counted in."""
        ip = client_address(host)
        if ip is None:
            key = host  # not an IP address: a Unix socket or a test transport
            allowed = not self.allowed
        else:
            key = client_key(ip)
            allowed = not self.allowed or any(ip in net for net in self.allowed)
        if not allowed:
            return key, Refusal.NOT_ALLOWED
        if self.total >= self.max_sessions:
            return key, Refusal.BUSY
        if self._open[key] >= self.max_per_client:
            return key, Refusal.PER_CLIENT
        self._open[key] += 1
        self.total += 1
        return key, None

    def release(self, key: str) -> None:
        if self._open[key] <= 1:
            del self._open[key]
        else:
            self._open[key] -= 1
        self.total -= 1

    def open_from(self, host: str) -> int:
        ip = client_address(host)
        return self._open[client_key(ip) if ip is not None else host]


def client_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped  # a dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d
    return ip


def client_key(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    if isinstance(ip, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((ip, IPV6_CLIENT_PREFIX), strict=False))
    return str(ip)


class Throttle:
    """At most one log line per interval for a condition that recurs, with how often it did."""

    def __init__(
        self,
        logger: logging.Logger,
        *,
        interval_s: float = 60.0,
        level: int = logging.WARNING,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger, self.interval_s, self.level, self.clock = logger, interval_s, level, clock
        self._last: float | None = None
        self._since = 0

    def hit(self, message: str, *args: object) -> None:
        self._since += 1
        now = self.clock()
        if self._last is not None and now - self._last < self.interval_s:
            return
        times = "" if self._last is None else f" ({self._since} time(s) since the last report)"
        self.logger.log(self.level, message + times, *args)
        self._last, self._since = now, 0


ExceptionHandler = Callable[[asyncio.AbstractEventLoop, dict[str, Any]], object]


class AcceptGuard:
    """The event loop's exception handler while a listener runs: an `accept()` that fails for want
    of descriptors or memory is one warning a minute instead of a traceback a second per listener;
    everything else goes to the handler that was there before (or asyncio's default)."""

    def __init__(self, previous: ExceptionHandler | None, *, throttle: Throttle | None = None):
        self.previous = previous
        self.throttle = throttle or Throttle(log)

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        accepting = "accept" in str(context.get("message", ""))
        if accepting and isinstance(exc, OSError) and exc.errno in RESOURCE_ERRNOS:
            self.throttle.hit(
                "cannot accept connections: %s; clients wait in the backlog and are taken again "
                "when descriptors are free (raise `ulimit -n` or lower the session caps)",
                exc.strerror or exc,
            )
            return
        if self.previous is not None:
            self.previous(loop, context)
        else:
            loop.default_exception_handler(context)


def install_accept_guard(loop: asyncio.AbstractEventLoop) -> AcceptGuard:
    """Put an AcceptGuard on the loop once (a second listener finds it there)."""
    current = loop.get_exception_handler()
    if isinstance(current, AcceptGuard):
        return current
    guard = AcceptGuard(current)
    loop.set_exception_handler(guard)
    return guard
