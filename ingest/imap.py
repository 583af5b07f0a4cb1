"""IMAP polling: fetch each message, commit it through `Pipeline.accept`, then move it away.

At-least-once: a message leaves the inbox only after its raw bytes are committed; a crash between
the two fetches it again and the pipeline deduplicates it (same bytes, same Message-ID). The stdlib
`imaplib` runs in one worker thread: it speaks STARTTLS (aioimaplib does not), every pipeline call
is synchronous anyway, and IDLE (RFC 2177) is a few lines over its documented `send`/`readline`.
"""

from __future__ import annotations

import asyncio
import imaplib
import logging
import random
import re
import ssl
import threading
import time
from collections.abc import Awaitable, Callable

from ingest.imap_wire import (
    ImapTarget,
    _bytes,
    _capabilities,
    _close,
    _delimiter,
    _quote,
    _readable,
    _say,
    _server_name,
    _sibling,
    _size,
    parse_imap_url,
)
from ingest.pipeline import Pipeline
from storage.errors import InputRejected, StoreUnavailable

log = logging.getLogger("leadbot.imap")

IDLE_SECONDS = 25 * 60  # RFC 2177: re-issue IDLE well before servers' 30-minute inactivity limit
BATCH = 50  # messages fetched per sweep before checking for a stop
SOCKET_TIMEOUT_S = 60.0
_EXISTS = re.compile(rb"^\* \d+ (EXISTS|RECENT)\b", re.IGNORECASE)


class ImapPoller:
    """One mailbox, one connection, one thread: sweep, wait (IDLE or poll), sweep again."""

    def __init__(
        self,
        pipeline: Pipeline,
        target: ImapTarget,
        *,
        processed_folder: str = "LeadBot/Processed",
        poll_seconds: float = 60.0,
        max_message_bytes: int = 25 * 1024 * 1024,
        idle_seconds: float = IDLE_SECONDS,
        use_idle: bool | None = None,  # None: when the server offers it
        use_move: bool | None = None,
        backoff_initial: float = 1.0,
        backoff_max: float = 300.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.target = target
        self.processed_folder = processed_folder
        self.rejected_folder = _sibling(processed_folder, "Rejected")
        self.poll_seconds = poll_seconds
        self.max_message_bytes = max_message_bytes
        self.idle_seconds = idle_seconds
        self.use_idle = use_idle
        self.use_move = use_move
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.ssl_context = ssl_context or ssl.create_default_context()
        self.accepted = 0  # messages committed by this poller (new or duplicate)
        self._tags = 0

    def run(self, stop: threading.Event) -> None:
        """Until `stop`: connect, sweep and wait; reconnect with backoff when anything breaks."""
        delay = self.backoff_initial
        while not stop.is_set():
            conn: imaplib.IMAP4 | None = None
            try:
                conn = self.connect()
                log.info("IMAP polling %s", self.target.describe())
                caps = _capabilities(conn)
                self.prepare(conn)
                delay = self.backoff_initial
                while not stop.is_set():
                    self.sweep(conn, caps, stop)
                    self.wait(conn, caps, stop)
            except StoreUnavailable as e:
                log.warning("IMAP: store unavailable, messages stay on the server: %s", e)
            except (OSError, EOFError, imaplib.IMAP4.error, ssl.SSLError) as e:
                log.warning(
                    "IMAP %s: %s; reconnecting in %.0fs", self.target.describe(), _say(e), delay
                )
            finally:
                if conn is not None:
                    _close(conn)
            if stop.wait(delay * random.uniform(0.8, 1.2)):
                return
            delay = min(delay * 2, self.backoff_max)

    def connect(self) -> imaplib.IMAP4:
        t = self.target
        conn: imaplib.IMAP4
        if t.tls:
            conn = imaplib.IMAP4_SSL(
                t.host, t.port, ssl_context=self.ssl_context, timeout=SOCKET_TIMEOUT_S
            )
        else:
            conn = imaplib.IMAP4(t.host, t.port, timeout=SOCKET_TIMEOUT_S)
            offered = "STARTTLS" in conn.capabilities
            if t.starttls == "required" and not offered:
                _close(conn)
                raise imaplib.IMAP4.error("server does not offer STARTTLS (starttls=required)")
            if offered and t.starttls != "no":
                conn.starttls(ssl_context=self.ssl_context)
        conn.login(t.user, t.password)
        return conn

    def prepare(self, conn: imaplib.IMAP4) -> None:
        """Create the processed and rejected folders when missing, then select the mailbox."""
        delimiter = _delimiter(conn)
        self._processed = _server_name(self.processed_folder, delimiter)
        self._rejected = _server_name(self.rejected_folder, delimiter)
        for folder in (self._processed, self._rejected):
            typ, listed = conn.list('""', _quote(folder))
            if typ != "OK" or not any(item for item in listed if item):
                typ, data = conn.create(_quote(folder))
                if typ != "OK" and b"ALREADYEXISTS" not in b" ".join(_bytes(d) for d in data):
                    raise imaplib.IMAP4.error(f"cannot create folder {folder!r}: {data!r}")
                log.info("IMAP: created folder %s", folder)
        typ, data = conn.select(_quote(self.target.mailbox))
        if typ != "OK":
            raise imaplib.IMAP4.error(f"cannot select {self.target.mailbox!r}: {data!r}")

    def sweep(self, conn: imaplib.IMAP4, caps: frozenset[str], stop: threading.Event) -> int:
        """Commit and move every message in the mailbox; returns how many were committed."""
        done = 0
        while not stop.is_set():
            typ, data = conn.uid("SEARCH", "UNDELETED")
            uids = (
                [int(u) for u in b" ".join(_bytes(d) for d in data).split()] if typ == "OK" else []
            )
            if not uids:
                return done
            for uid in uids[:BATCH]:
                if stop.is_set():
                    break
                done += self._take(conn, caps, uid)
        return done

    def _take(self, conn: imaplib.IMAP4, caps: frozenset[str], uid: int) -> int:
        size = _size(conn, uid)
        if size is not None and size > self.max_message_bytes:
            log.warning(
                "IMAP: UID %s is %d bytes (limit %d): moved unread",
                uid,
                size,
                self.max_message_bytes,
            )
            self._move(conn, caps, uid, self._rejected)
            return 0
        typ, data = conn.uid("FETCH", str(uid), "(BODY.PEEK[])")
        content = next((bytes(d[1]) for d in data if isinstance(d, tuple) and len(d) == 2), None)
        if typ != "OK" or content is None:
            raise imaplib.IMAP4.error(f"FETCH of UID {uid} returned nothing")
        envelope = {
            "imap_host": self.target.host,
            "imap_mailbox": self.target.mailbox,
            "imap_uid": uid,
        }
        try:
            raw_id, new = self.pipeline.accept(
                content, kind="email", channel="imap", envelope=envelope
            )
        except InputRejected as e:
            log.warning("IMAP: UID %s refused (%s): moved to %s", uid, e, self._rejected)
            self._move(conn, caps, uid, self._rejected)
            return 0
        self.accepted += 1
        self._move(conn, caps, uid, self._processed)  # only now: the raw input is committed
        if new:
            self.pipeline.process_safely(raw_id)
        return 1

    def _move(self, conn: imaplib.IMAP4, caps: frozenset[str], uid: int, folder: str) -> None:
        use_move = self.use_move if self.use_move is not None else "MOVE" in caps
        if use_move:
            typ, data = conn.uid("MOVE", str(uid), _quote(folder))
            if typ != "OK":
                raise imaplib.IMAP4.error(f"MOVE of UID {uid} failed: {data!r}")
            return
        typ, data = conn.uid("COPY", str(uid), _quote(folder))
        if typ != "OK":
            raise imaplib.IMAP4.error(f"COPY of UID {uid} failed: {data!r}")
        conn.uid("STORE", str(uid), "+FLAGS.SILENT", r"(\Deleted)")
        if "UIDPLUS" in caps:
            conn.uid("EXPUNGE", str(uid))  # RFC 4315: only this message, not others marked \Deleted
        else:
            conn.expunge()

    def wait(self, conn: imaplib.IMAP4, caps: frozenset[str], stop: threading.Event) -> None:
        """Until new mail may have arrived: IDLE when offered, else sleep and NOOP."""
        use_idle = self.use_idle if self.use_idle is not None else "IDLE" in caps
        if not use_idle:
            if not stop.wait(self.poll_seconds):
                conn.noop()
            return
        self._tags += 1
        tag = f"LBI{self._tags}".encode()
        conn.send(tag + b" IDLE\r\n")
        reply = conn.readline()
        if not reply.startswith(b"+"):
            raise imaplib.IMAP4.error(f"IDLE refused: {reply[:200]!r}")
        deadline = time.monotonic() + self.idle_seconds
        while not stop.is_set() and time.monotonic() < deadline:
            if not _readable(conn, min(1.0, deadline - time.monotonic())):
                continue
            line = conn.readline()
            if not line:
                raise EOFError("server closed the connection during IDLE")
            if line.startswith(b"* BYE"):
                raise EOFError(f"server said {line.strip()[:200]!r}")
            if _EXISTS.match(line):
                break
        conn.send(b"DONE\r\n")
        while True:
            line = conn.readline()
            if not line:
                raise EOFError("server closed the connection after IDLE")
            if line.startswith(tag + b" "):
                if not line[len(tag) + 1 :].upper().startswith(b"OK"):
                    raise imaplib.IMAP4.error(f"IDLE ended with {line.strip()[:200]!r}")
                return


def imap_starter(poller: ImapPoller) -> Callable[[asyncio.Event], Awaitable[None]]:
    """The `serve` background task: the poller in its own thread until `stop` is set."""

    async def starter(stop: asyncio.Event) -> None:
        halt = threading.Event()
        thread = threading.Thread(target=poller.run, args=(halt,), name="imap", daemon=True)
        thread.start()
        try:
            await stop.wait()
        finally:
            halt.set()
            await asyncio.to_thread(thread.join, SOCKET_TIMEOUT_S)

    return starter


__all__ = ["ImapPoller", "ImapTarget", "imap_starter", "parse_imap_url"]
