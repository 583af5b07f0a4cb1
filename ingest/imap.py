"""IMAP polling: fetch each message, commit it through `Pipeline.accept`, then move it away.

At-least-once: a message leaves the inbox only after its raw bytes are committed; a crash between
the two fetches it again and the pipeline deduplicates it (same bytes, same Message-ID). The
protocol is IMAPClient's (parsed FETCH and LIST answers, folder names in modified UTF-7 so any
script works, MOVE, UIDPLUS, IDLE, STARTTLS); it runs in one worker thread, as every pipeline call
is synchronous anyway. What is ours: the commit-then-move order, the MOVE fallback (COPY, flag,
UID EXPUNGE of only that message), and reconnecting with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import random
import ssl
import threading
import time
from collections.abc import Awaitable, Callable

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from ingest.imap_wire import ImapTarget, parse_imap_url
from ingest.pipeline import Pipeline
from storage.errors import InputRejected, StoreUnavailable

log = logging.getLogger("leadbot.imap")

IDLE_SECONDS = 25 * 60  # RFC 2177: re-issue IDLE well before servers' 30-minute inactivity limit
BATCH = 50  # messages fetched per sweep before checking for a stop
SOCKET_TIMEOUT_S = 60.0
# What a broken connection raises: the socket, TLS, or the protocol (IMAPClientError is imaplib's
# IMAP4.error, its abort included).
_BROKEN = (OSError, EOFError, IMAPClientError, ssl.SSLError)


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

    def run(self, stop: threading.Event) -> None:
        """Until `stop`: connect, sweep and wait; reconnect with backoff when anything breaks."""
        delay = self.backoff_initial
        while not stop.is_set():
            client: IMAPClient | None = None
            try:
                client = self.connect()
                log.info("IMAP polling %s", self.target.describe())
                self.prepare(client)
                delay = self.backoff_initial
                while not stop.is_set():
                    self.sweep(client, stop)
                    self.wait(client, stop)
            except StoreUnavailable as e:
                log.warning("IMAP: store unavailable, messages stay on the server: %s", e)
            except _BROKEN as e:
                log.warning(
                    "IMAP %s: %s; reconnecting in %.0fs", self.target.describe(), _say(e), delay
                )
            finally:
                if client is not None:
                    _close(client)
            if stop.wait(delay * random.uniform(0.8, 1.2)):
                return
            delay = min(delay * 2, self.backoff_max)

    def connect(self) -> IMAPClient:
        t = self.target
        client = IMAPClient(
            t.host, t.port, ssl=t.tls, ssl_context=self.ssl_context, timeout=SOCKET_TIMEOUT_S
        )
        try:
            if not t.tls:
                offered = client.has_capability("STARTTLS")
                if t.starttls == "required" and not offered:
                    raise IMAPClientError("server does not offer STARTTLS (starttls=required)")
                if offered and t.starttls != "no":
                    client.starttls(ssl_context=self.ssl_context)
            client.login(t.user, t.password)
        except BaseException:
            _close(client)
            raise
        return client

    def prepare(self, client: IMAPClient) -> None:
        """Create the processed and rejected folders when missing, then select the mailbox."""
        delimiter = _delimiter(client)
        self._processed = _server_name(self.processed_folder, delimiter)
        self._rejected = _server_name(self.rejected_folder, delimiter)
        for folder in (self._processed, self._rejected):
            if not client.folder_exists(folder):
                try:
                    client.create_folder(folder)
                except IMAPClientError as e:
                    if "ALREADYEXISTS" not in str(e).upper():  # RFC 5530: made a moment ago
                        raise IMAPClientError(f"cannot create folder {folder!r}: {e}") from None
                log.info("IMAP: created folder %s", folder)
        client.select_folder(self.target.mailbox)
        # MOVE and UIDPLUS are often announced only after login: ask again, once per connection.
        self._caps = frozenset(c.decode("ascii", "replace").upper() for c in client.capabilities())

    def sweep(self, client: IMAPClient, stop: threading.Event) -> int:
        """Commit and move every message in the mailbox; returns how many were committed."""
        done = 0
        while not stop.is_set():
            uids = sorted(client.search(["UNDELETED"]))
            if not uids:
                return done
            for uid in uids[:BATCH]:
                if stop.is_set():
                    break
                done += self._take(client, uid)
        return done

    def _take(self, client: IMAPClient, uid: int) -> int:
        size = client.fetch([uid], ["RFC822.SIZE"]).get(uid, {}).get(b"RFC822.SIZE")
        if isinstance(size, int) and size > self.max_message_bytes:
            log.warning(
                "IMAP: UID %s is %d bytes (limit %d): moved unread",
                uid,
                size,
                self.max_message_bytes,
            )
            self._move(client, uid, self._rejected)
            return 0
        content = client.fetch([uid], ["BODY.PEEK[]"]).get(uid, {}).get(b"BODY[]")
        if not isinstance(content, bytes):
            raise IMAPClientError(f"FETCH of UID {uid} returned nothing")
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
            self._move(client, uid, self._rejected)
            return 0
        self.accepted += 1
        self._move(client, uid, self._processed)  # only now: the raw input is committed
        if new:
            self.pipeline.process_safely(raw_id)
        return 1

    def _move(self, client: IMAPClient, uid: int, folder: str) -> None:
        use_move = self.use_move if self.use_move is not None else "MOVE" in self._caps
        if use_move:
            client.move([uid], folder)
            return
        client.copy([uid], folder)
        client.add_flags([uid], [b"\\Deleted"], silent=True)
        if "UIDPLUS" in self._caps:
            client.uid_expunge([uid])  # RFC 4315: only this message, not others marked \Deleted
        else:
            client.expunge()

    def wait(self, client: IMAPClient, stop: threading.Event) -> None:
        """Until new mail may have arrived: IDLE when offered, else sleep and NOOP."""
        use_idle = self.use_idle if self.use_idle is not None else "IDLE" in self._caps
        if not use_idle:
            if not stop.wait(self.poll_seconds):
                client.noop()
            return
        client.idle()
        try:
            deadline = time.monotonic() + self.idle_seconds
            # Dovecot sends pending EXISTS right behind "+ idling", into the read buffer where
            # idle_check's poll of the socket cannot see them: look there first.
            woken = _buffered(client)
            while not woken and not stop.is_set() and time.monotonic() < deadline:
                timeout = min(1.0, deadline - time.monotonic())
                started = time.monotonic()
                responses = client.idle_check(timeout=timeout)
                for response in responses:
                    if len(response) > 1 and response[1] in (b"EXISTS", b"RECENT"):
                        woken = True
                    elif response[0] == b"BYE":
                        raise EOFError(f"server said {response!r:.200}")
                # Readable at once yet no line: the server closed the connection (idle_check
                # swallows the EOF). Ending IDLE then fails and the poller reconnects.
                woken = woken or (not responses and time.monotonic() - started < timeout / 2)
        finally:
            client.idle_done()


def _delimiter(client: IMAPClient) -> str:
    listed = client.list_folders("", "")  # RFC 3501: the hierarchy delimiter of the root
    delimiter = listed[0][1] if listed else None
    return delimiter.decode() if isinstance(delimiter, bytes) else (delimiter or "/")


def _server_name(folder: str, delimiter: str) -> str:
    """`LeadBot/Processed` in the server's hierarchy delimiter (Dovecot's Maildir uses ".")."""
    return delimiter.join(part for part in folder.split("/") if part)


def _sibling(folder: str, name: str) -> str:
    parent, _, _ = folder.rstrip("/").rpartition("/")
    return f"{parent}/{name}" if parent else f"{folder}-{name}"


def _buffered(client: IMAPClient) -> bool:
    reader = getattr(client._imap, "file", None)  # imaplib's reader, under IMAPClient
    if not isinstance(reader, io.BufferedReader):
        return False
    sock = client.socket()
    previous = sock.gettimeout()
    sock.settimeout(0.0)
    try:
        return bool(reader.peek(1))
    except (TimeoutError, BlockingIOError, ssl.SSLWantReadError):
        return False
    finally:
        sock.settimeout(previous)


def _say(e: BaseException) -> str:
    return f"{type(e).__name__}: {str(e)[:300]}"


def _close(client: IMAPClient) -> None:
    try:
        client.logout()
    except _BROKEN:
        with contextlib.suppress(*_BROKEN):
            client.shutdown()


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
