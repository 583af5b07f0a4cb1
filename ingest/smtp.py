"""The SMTP receiver: checks recipients at RCPT, commits the raw message at DATA, answers, then parses.

Never an open relay: only recipients in the inbox domains are accepted, and nothing is ever sent on.
Status lines follow RFC 5321 §4.2 with RFC 3463 enhanced codes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable

from aiosmtpd.smtp import SMTP, Envelope, Session

from ingest.commit import GroupCommit
from ingest.pipeline import Pipeline
from ingest.worker import BatchQueue
from storage.errors import InputRejected, StoreUnavailable

log = logging.getLogger("leadbot.smtp")

OK = "250 2.0.0 OK: message accepted"
RCPT_OK = "250 2.1.5 OK"
NOT_OUR_DOMAIN = "550 5.7.1 Relaying denied: {address} is not a LeadBot inbox"
BAD_ADDRESS = "501 5.1.3 Bad recipient address syntax"
STORE_DOWN = "451 4.3.0 Temporary failure: message store unavailable, try again later"
REJECTED = "554 5.6.0 Message refused: {reason}"
INTERNAL = "451 4.3.0 Temporary local error, try again later"


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
    ) -> None:
        self.pipeline = pipeline
        self.inbox_domains = frozenset(
            d.strip().lower().rstrip(".") for d in inbox_domains if d.strip()
        )
        self.committer = committer or GroupCommit(pipeline)
        self.queue = queue or BatchQueue(pipeline.process_batch)

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
        envelope.rcpt_tos.append(address)
        return RCPT_OK

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        meta = {
            "mail_from": envelope.mail_from,
            "rcpt_to": list(envelope.rcpt_tos),
            "peer": str(session.peer[0]) if session.peer else None,
            "helo": session.host_name,
        }
        try:
            draft = self.pipeline.draft(content, channel="smtp", envelope=meta)
            raw_id, new = await self.committer.commit(draft)
        except StoreUnavailable as e:
            log.warning("451 to %s: %s", session.peer, e)
            return STORE_DOWN
        except InputRejected as e:
            return REJECTED.format(reason=_one_line(str(e)))
        except Exception:
            log.exception("accepting a message failed")
            return INTERNAL
        if new:
            self.queue.put(raw_id, len(content))
        return OK

    async def drain(self) -> None:
        """Wait for queued parsing (tests and shutdown)."""
        await self.queue.drain()

    async def close(self) -> None:
        """After the server stopped listening: finish commits and queued parsing."""
        await asyncio.to_thread(self.committer.close)
        await self.queue.close()


def _one_line(text: str) -> str:
    return " ".join(text.split())[:200]


def smtp_factory(
    handler: InboxHandler, *, max_message_bytes: int, hostname: str | None = None
) -> Callable[[], SMTP]:
    """A protocol factory for `loop.create_server`: one SMTP instance per connection."""

    def make() -> SMTP:
        return SMTP(
            handler,
            data_size_limit=max_message_bytes,  # aiosmtpd answers 552 past it (and for SIZE=)
            enable_SMTPUTF8=True,
            hostname=hostname,
            ident="LeadBot ESMTP",
        )

    return make


async def start_smtp(
    handler: InboxHandler, *, host: str, port: int, max_message_bytes: int
) -> asyncio.Server:
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        smtp_factory(handler, max_message_bytes=max_message_bytes), host=host, port=port
    )


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
        max_message_bytes: int,
    ) -> None:
        import threading

        self.handler = handler
        self.host = host
        self.port = port
        self.max_message_bytes = max_message_bytes
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
                max_message_bytes=self.max_message_bytes,
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
