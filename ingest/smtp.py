"""The SMTP and LMTP receiver: checks recipients at RCPT, commits the raw message at DATA, answers,
then parses.

Never an open relay: only recipients in the inbox domains are accepted, and nothing is ever sent on.
Status lines follow RFC 5321 §4.2 with RFC 3463 enhanced codes; the protocol around this handler
(the gate at connect, STARTTLS, timeouts, codes on aiosmtpd's own replies) is ingest.smtp_server.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import threading
from collections.abc import Iterable

from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope, Session, TLSSetupException

from ingest.commit import GroupCommit
from ingest.listen import ClientGate, install_accept_guard
from ingest.pipeline import Pipeline
from ingest.smtp_server import SMTPOptions, protocol_factory
from ingest.worker import BatchQueue
from storage.errors import InputRejected, StoreUnavailable
from storage.identity import STORE_KEYWORD

log = logging.getLogger("leadbot.smtp")

OK = "250 2.0.0 OK: message accepted"
MAIL_OK = "250 2.1.0 OK"
RCPT_OK = "250 2.1.5 OK"
NOT_OUR_DOMAIN = "550 5.7.1 Relaying denied: {address} is not a LeadBot inbox"
BAD_ADDRESS = "501 5.1.3 Bad recipient address syntax"
TOO_MANY_RECIPIENTS = "452 4.5.3 Too many recipients"
STORE_DOWN = "451 4.3.0 Temporary failure: message store unavailable, try again later"
REJECTED = "554 5.6.0 Message refused: {reason}"
INTERNAL = "451 4.3.0 Temporary local error, try again later"
MAX_RECIPIENTS = 100  # RFC 5321 §4.5.3.1.8: at least 100 must be taken; the rest get 452 and retry
ENHANCEDSTATUSCODES = "250-ENHANCEDSTATUSCODES"  # RFC 2034


class InboxHandler:
    """aiosmtpd handler: RCPT checks the domain; DATA commits (GroupCommit), answers 250, queues
    parsing."""

    def __init__(
        self,
        pipeline: Pipeline,
        *,
        inbox_domains: Iterable[str],
        committer: GroupCommit | None = None,
        queue: BatchQueue | None = None,
        store_fingerprint: str | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.store_fingerprint = store_fingerprint
        self.inbox_domains = frozenset(
            d.strip().lower().rstrip(".") for d in inbox_domains if d.strip()
        )
        self.committer = committer or GroupCommit(pipeline)
        self.queue = queue or BatchQueue(pipeline.process_batch)

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        """Advertise ENHANCEDSTATUSCODES, and the store to a client on this host; never AUTH
        (nobody logs in to LeadBot)."""
        session.host_name = hostname
        lines = [line for line in responses if not line.startswith("250-AUTH")]
        lines.insert(len(lines) - 1, ENHANCEDSTATUSCODES)  # before the last line, `250 HELP`
        # To clients on this host only: the database this server writes to (storage.identity),
        # so `leadbot ingest` hands a piped message only to a server on its own (bot.handoff).
        if self.store_fingerprint and _on_this_host(session.peer):
            lines.insert(len(lines) - 1, f"250-{STORE_KEYWORD} {self.store_fingerprint}")
        return lines

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return MAIL_OK

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        local, _, domain = address.rpartition("@")
        if not local or not domain or any(ch.isspace() or ord(ch) < 32 for ch in address):
            return BAD_ADDRESS
        if domain.lower().rstrip(".") not in self.inbox_domains:
            log.info("refused recipient %r from %s", address, session.peer)
            return NOT_OUR_DOMAIN.format(address=address)
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return TOO_MANY_RECIPIENTS
        envelope.rcpt_tos.append(address)
        return RCPT_OK

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        status = await self._accept(session, envelope, lmtp=isinstance(server, LMTP))
        if isinstance(server, LMTP):  # RFC 2033 §4.2: one reply per recipient, in RCPT order
            return "\r\n".join(for_recipient(status, rcpt) for rcpt in envelope.rcpt_tos)
        return status

    async def _accept(self, session: Session, envelope: Envelope, *, lmtp: bool = False) -> str:
        content = envelope.original_content or b""
        meta: dict[str, object] = {
            "mail_from": envelope.mail_from,
            "rcpt_to": list(envelope.rcpt_tos),
            "peer": str(session.peer[0]) if session.peer else None,
            "helo": session.host_name,
        }
        if lmtp:  # from our own MTA: its address says nothing of the sender (no SPF for it)
            meta["lmtp"] = True
        try:
            draft = self.pipeline.draft(content, channel="smtp", envelope=meta)
            # Bounded even while the commit ahead of this one hangs: the sender hears 451 well
            # before its own timeout (after which it may deliver the message twice). Committed
            # late all the same, the same bytes sent again are stored once (sha256).
            raw_id, new = await asyncio.wait_for(
                self.committer.commit(draft), self.pipeline.store.timeout
            )
        except (StoreUnavailable, TimeoutError) as e:
            log.warning("451 to %s: %s", session.peer, str(e) or "the store did not answer in time")
            return STORE_DOWN
        except InputRejected as e:
            return REJECTED.format(reason=_one_line(str(e)))
        except Exception:
            log.exception("accepting a message failed")
            return INTERNAL
        if new:
            self.queue.put(raw_id, len(content))
        return OK

    async def handle_exception(self, error: Exception) -> str:
        """aiosmtpd's last resort: a short line, never the exception's text (it would go out)."""
        if isinstance(error, TLSSetupException):  # a client that does not trust our certificate
            log.info("STARTTLS handshake failed: %s", error.__cause__ or error)
        else:
            log.exception("SMTP session failed")
        return INTERNAL

    async def drain(self) -> None:
        """Wait for queued parsing (tests and shutdown)."""
        await self.queue.drain()

    async def close(self) -> None:
        """After the server stopped listening: finish commits and queued parsing."""
        await asyncio.to_thread(self.committer.close)
        await self.queue.close()


def _on_this_host(peer: object) -> bool:
    host = peer[0] if isinstance(peer, tuple) and peer else None
    try:
        return ipaddress.ip_address(str(host)).is_loopback
    except ValueError:
        return False


def _one_line(text: str) -> str:
    return " ".join(text.split())[:200]


def for_recipient(status: str, rcpt: str) -> str:
    """`250 2.0.0 <rcpt> OK: …`: the same answer, naming whom it is for (LMTP)."""
    code, _, rest = status.partition(" ")
    detail, _, text = rest.partition(" ")
    return f"{code} {detail} <{rcpt}> {text}"


async def start_smtp(
    handler: InboxHandler,
    *,
    host: str,
    port: int,
    options: SMTPOptions,
    gate: ClientGate | None = None,
    lmtp: bool = False,
) -> asyncio.Server:
    """Listen for SMTP (or LMTP); listeners of one process share one gate."""
    loop = asyncio.get_running_loop()
    install_accept_guard(loop)
    factory = protocol_factory(handler, options=options, gate=gate or ClientGate(), lmtp=lmtp)
    return await loop.create_server(factory, host=host, port=port)


class SMTPServerThread:
    """The receiver on its own event loop in a thread (tests, benchmarks, embedding).

    Like aiosmtpd's Controller, but with our handler and a free port chosen by the OS.
    """

    def __init__(
        self,
        handler: InboxHandler,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        max_message_bytes: int | None = None,
        options: SMTPOptions | None = None,
        gate: ClientGate | None = None,
        lmtp: bool = False,
    ) -> None:
        self.handler = handler
        self.host = host
        self.port = port
        if options is None:
            options = (
                SMTPOptions()
                if max_message_bytes is None
                else SMTPOptions(max_message_bytes=max_message_bytes)
            )
        self.options = options
        self.gate = gate or ClientGate()
        self.lmtp = lmtp
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="smtp", daemon=True)
        self._server: asyncio.Server | None = None

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self._server = self.loop.run_until_complete(
            start_smtp(
                self.handler,
                host=self.host,
                port=self.port,
                options=self.options,
                gate=self.gate,
                lmtp=self.lmtp,
            )
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self.loop.run_forever()

    def start(self) -> SMTPServerThread:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("SMTP server did not start")
        return self

    def drain(self, timeout: float = 60) -> None:
        """Block until every accepted message has been processed."""
        asyncio.run_coroutine_threadsafe(self.handler.drain(), self.loop).result(timeout)

    def stop(self) -> None:
        async def _close() -> None:
            assert self._server is not None
            self._server.close()
            await self._server.wait_closed()
            await self.handler.close()

        asyncio.run_coroutine_threadsafe(_close(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
