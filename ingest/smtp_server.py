"""aiosmtpd's SMTP and LMTP made fit for the internet: a gate at connect, enhanced status codes on
every reply, STARTTLS, a `421` on timeout and a DATA deadline that moves with the data.

The handler (ingest.smtp.InboxHandler) decides what is accepted; this module only speaks the
protocol. Some of it overrides aiosmtpd 1.4 internals (`_timeout_cb`, `_reset_timeout`,
`_call_handler_hook`, `_timeout_duration`): tests/ingest/test_smtp_internet.py and
test_smtp_limits.py catch a release that changes them.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AnyStr

from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, syntax

from ingest.listen import ClientGate, Refusal, Throttle
from storage.errors import ConfigError

log = logging.getLogger("leadbot.smtp")

# Said at connect instead of the 220 greeting, then the connection is closed (RFC 5321 §3.1 allows
# 554 and 421 there; we do not wait for QUIT: a refused client must not hold a descriptor).
REFUSED_AT_CONNECT = {
    Refusal.NOT_ALLOWED: "554 5.7.1 {host} Access denied: your address may not send to LeadBot",
    Refusal.PER_CLIENT: "421 4.7.0 {host} Too many connections from your address, try again later",
    Refusal.BUSY: "421 4.3.2 {host} Too many sessions, try again later",
}
TIMEOUT = "421 4.4.2 {host} Error: timeout exceeded"
STARTTLS_FIRST = "530 5.7.0 Must issue a STARTTLS command first"
TOO_MANY_ERRORS = "421 4.7.0 {host} Error: too many errors"

# RFC 3463 codes for the replies aiosmtpd writes without one. RFC 2034 §3: every 2xx, 4xx and 5xx
# reply carries one, except the greeting and the 250 answers to HELO/EHLO/LHLO.
ENHANCED_BY_CODE = {
    "220": "2.0.0",  # the STARTTLS go-ahead
    "221": "2.0.0",
    "250": "2.0.0",
    "252": "2.0.0",
    "451": "4.3.0",
    "454": "4.7.0",  # TLS not available (RFC 3207 §4)
    "500": "5.5.2",
    "501": "5.5.4",
    "502": "5.5.1",
    "503": "5.5.1",
    "504": "5.5.4",
    "530": "5.7.0",  # STARTTLS first (RFC 3207 §4)
    "552": "5.3.4",  # message too big for the system
    "553": "5.1.3",
    "555": "5.5.4",
}
_HAS_ENHANCED = re.compile(r"[245]\.\d{1,3}\.\d{1,3}(?: |$)")
_CODE = re.compile(r"([245]\d\d)([ -]?)(.*)", re.DOTALL)

# Commands that move no mail: a session may send each this many times (aiosmtpd answers
# `421 4.7.0` and closes past it), so NOOPs every 59 s cannot hold a connection for ever.
CALL_LIMITS = {
    "*": 1_000_000,  # MAIL, RCPT, DATA, RSET: a long stream of messages is fine
    "NOOP": 20,
    "HELP": 10,
    "VRFY": 10,
    "EXPN": 10,
    "HELO": 10,
    "EHLO": 10,
    "LHLO": 10,
    "STARTTLS": 2,
    "AUTH": 3,
}


def with_enhanced_code(reply: str, *, keep_2xx: bool = False) -> str:
    """Each line of `reply` with an RFC 3463 code after its reply code, unless it has one."""
    return "\r\n".join(_line_with_code(line, keep_2xx) for line in reply.split("\r\n"))


def _line_with_code(line: str, keep_2xx: bool) -> str:
    match = _CODE.fullmatch(line)
    if match is None or (keep_2xx and line.startswith("2")):
        return line  # 3xx (354) carries none; neither do the greeting and EHLO's lines
    code, sep, text = match.groups()
    if _HAS_ENHANCED.match(text):
        return line
    detail = ENHANCED_BY_CODE.get(code, f"{code[0]}.0.0")
    return f"{code}{sep or ' '}{detail} {text}".rstrip()


@dataclass(frozen=True, kw_only=True)
class SMTPOptions:
    """How the SMTP and LMTP listeners talk (from Settings in `serve`; by hand in tests)."""

    max_message_bytes: int = 25 * 1024 * 1024
    hostname: str | None = None  # None: socket.getfqdn(), once per listener
    tls_context: ssl.SSLContext | None = None
    require_tls: bool = False  # MAIL before STARTTLS gets 530 5.7.0
    timeout_s: float = 60.0  # between commands, for a command line, for the TLS handshake
    # DATA earns time as bytes arrive (Postfix's smtpd_min_data_rate): a slower client is dropped.
    min_data_rate: float = 500.0
    max_errors: int = 20  # 4xx/5xx replies in one session before 421 and close


def server_tls_context(cert: Path, key: Path | None) -> ssl.SSLContext:
    """The STARTTLS context: a PEM chain and its key (or one PEM holding both), TLS 1.2 or later."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)  # no client certificates
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as e:
        which = "LEADBOT_SMTP_TLS_CERT/LEADBOT_SMTP_TLS_KEY"
        raise ConfigError(f"{which}: cannot load {cert}: {e}") from e
    return context


class LeadBotSMTP(SMTP):
    """One session. What aiosmtpd does, plus: the gate, codes, 421 on timeout, the DATA deadline."""

    ident = "LeadBot ESMTP"
    aiosmtpd_requires_tls = True  # aiosmtpd's own RFC 3207 §4 check (530 to all but EHLO, …)

    def __init__(
        self, handler: Any, *, gate: ClientGate, options: SMTPOptions, hostname: str
    ) -> None:
        super().__init__(
            handler,
            data_size_limit=options.max_message_bytes,  # 552 past it, and for SIZE= at MAIL
            enable_SMTPUTF8=True,
            hostname=hostname,
            ident=self.ident,
            tls_context=options.tls_context,
            require_starttls=options.require_tls and self.aiosmtpd_requires_tls,
            timeout=options.timeout_s,
            command_call_limit=CALL_LIMITS,
        )
        self.gate = gate
        self.options = options
        self._client: str | None = None  # the gate's key while this session is counted
        self._refused = False
        self._greeted = False
        self._verbatim = False  # inside HELO/EHLO/LHLO: their 250 lines carry no codes
        self._data_deadline: float | None = None
        self._errors = 0

    # -- the gate --------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._original_transport is None and self._client is None:  # not the STARTTLS rerun
            peer = transport.get_extra_info("peername")
            host = str(peer[0]) if isinstance(peer, tuple) and peer else ""
            key, refusal = self.gate.admit(host)
            if refusal is not None:
                self._refused = True
                _refusals.hit(
                    "refusing SMTP clients at connect: %s (last: %s)", refusal.value, host
                )
                reply = REFUSED_AT_CONNECT[refusal].format(host=self.hostname)
                assert isinstance(transport, asyncio.WriteTransport)
                transport.write(reply.encode("ascii") + b"\r\n")
                transport.close()  # after the reply is written
                return
            self._client = key
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        if self._refused:
            return  # aiosmtpd never saw this connection
        if self._client is not None:
            self.gate.release(self._client)
            self._client = None
        if self.transport is None:
            return  # lost twice: aiosmtpd calls it itself after a failed TLS handshake
        super().connection_lost(error)

    def eof_received(self) -> bool | None:
        if self._refused:
            return False
        return super().eof_received()

    # -- replies ---------------------------------------------------------------------------

    async def push(self, status: AnyStr) -> None:
        if isinstance(status, str):
            if not self._greeted:
                self._greeted = True  # the 220 greeting carries no enhanced code
            else:
                status = self.adapt_reply(with_enhanced_code(status, keep_2xx=self._verbatim))
        await super().push(status)
        if isinstance(status, str) and status[:1] in ("4", "5") and not status.startswith("421"):
            self._errors += 1
            if self._errors >= self.options.max_errors and self.transport is not None:
                log.info("%r: %d errors, closing", self.session and self.session.peer, self._errors)
                await super().push(TOO_MANY_ERRORS.format(host=self.hostname))
                self.transport.close()

    def adapt_reply(self, status: str) -> str:
        """A reply as this protocol sends it (LMTP: one per recipient after DATA)."""
        return status

    @syntax("HELO hostname")
    async def smtp_HELO(self, hostname: str) -> None:
        self._verbatim = True
        try:
            await super().smtp_HELO(hostname)
        finally:
            self._verbatim = False

    @syntax("EHLO hostname")
    async def smtp_EHLO(self, hostname: str) -> None:
        self._verbatim = True
        try:
            await super().smtp_EHLO(hostname)
        finally:
            self._verbatim = False

    # -- time ------------------------------------------------------------------------------

    def _timeout_cb(self) -> None:
        transport = self.transport
        if transport is not None and not transport.is_closing():  # RFC 5321 §4.5.3.2: say why
            assert isinstance(transport, asyncio.WriteTransport)
            transport.write(TIMEOUT.format(host=self.hostname).encode("ascii") + b"\r\n")
        super()._timeout_cb()

    @syntax("DATA")
    async def smtp_DATA(self, arg: str) -> None:
        self._data_deadline = self.loop.time() + self._timeout_duration
        try:
            await super().smtp_DATA(arg)
        finally:
            self._data_deadline = None

    def data_received(self, data: bytes) -> None:
        if self._data_deadline is not None:
            # Each chunk buys len/min_rate seconds, never more than a full timeout ahead; aiosmtpd
            # alone would give the whole of DATA one timeout, cutting a 25 MB upload at 60 s.
            now = self.loop.time()
            earned = self._data_deadline + len(data) / self.options.min_data_rate
            self._data_deadline = min(earned, now + self._timeout_duration)
            left = self._data_deadline - now
            if left > 0:
                self._reset_timeout(left)
        super().data_received(data)

    async def _call_handler_hook(self, command: str, *args: Any) -> Any:
        if command == "DATA":  # the message is in: the store gets a full timeout to answer
            self._data_deadline = None
            self._reset_timeout()
        return await super()._call_handler_hook(command, *args)


class LeadBotLMTP(LeadBotSMTP, LMTP):
    """LMTP (RFC 2033): LHLO instead of EHLO, and after DATA one reply per accepted recipient."""

    ident = "LeadBot LMTP"
    aiosmtpd_requires_tls = False  # its list of commands allowed before STARTTLS lacks LHLO
    smtp_HELO = LMTP.smtp_HELO
    smtp_EHLO = LMTP.smtp_EHLO

    def __init__(
        self, handler: Any, *, gate: ClientGate, options: SMTPOptions, hostname: str
    ) -> None:
        super().__init__(handler, gate=gate, options=options, hostname=hostname)
        self._replies_due = 0  # recipients that wait for a reply to the DATA under way

    @syntax("LHLO hostname")
    async def smtp_LHLO(self, arg: str) -> None:
        self._verbatim = True
        try:
            await LMTP.smtp_LHLO(self, arg)
        finally:
            self._verbatim = False

    @syntax("MAIL FROM: <address>", extended=" [SP <mail-parameters>]")
    async def smtp_MAIL(self, arg: str | None) -> None:
        if self.options.require_tls and self.tls_context and not self._tls_protocol:
            await self.push(STARTTLS_FIRST)  # RCPT and DATA need a MAIL: this covers them
            return
        await super().smtp_MAIL(arg)

    @syntax("DATA")
    async def smtp_DATA(self, arg: str) -> None:
        try:
            await super().smtp_DATA(arg)
        finally:
            self._replies_due = 0

    def adapt_reply(self, status: str) -> str:
        if status.startswith("354"):
            assert self.envelope is not None
            self._replies_due = len(self.envelope.rcpt_tos)
        elif self._replies_due and "\r\n" not in status:
            # aiosmtpd's own end of DATA (552 too much data, 500 line too long) is one line:
            # every recipient must get it, or the client waits for the rest until it times out.
            status = "\r\n".join([status] * self._replies_due)
            self._replies_due = 0
        return status


def protocol_factory(
    handler: Any, *, options: SMTPOptions, gate: ClientGate, lmtp: bool = False
) -> Callable[[], SMTP]:
    """A protocol factory for `loop.create_server`: one session object per connection."""
    hostname = options.hostname or socket.getfqdn()  # once: aiosmtpd would ask per connection
    kind = LeadBotLMTP if lmtp else LeadBotSMTP

    def make() -> SMTP:
        return kind(handler, gate=gate, options=options, hostname=hostname)

    return make


_refusals = Throttle(log, level=logging.INFO)
