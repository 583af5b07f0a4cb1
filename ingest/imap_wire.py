"""IMAP plumbing for the poller: the URL, folder names, capability and response helpers."""

from __future__ import annotations

import contextlib
import imaplib
import io
import re
import select
import ssl
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

from storage.errors import ConfigError

_SIZE = re.compile(rb"UID (\d+).*RFC822\.SIZE (\d+)|RFC822\.SIZE (\d+).*UID (\d+)")


@dataclass(frozen=True)
class ImapTarget:
    """Where to poll, parsed from `LEADBOT_IMAP_URL`; the password never appears in its repr."""

    host: str
    port: int
    user: str
    password: str = field(repr=False)
    mailbox: str = "INBOX"
    tls: bool = True  # imaps://: TLS from the first byte
    starttls: str = "auto"  # imap:// only: "auto" (when offered), "required" or "no"

    def describe(self) -> str:
        scheme = "imaps" if self.tls else "imap"
        return f"{scheme}://{self.user}@{self.host}:{self.port}/{self.mailbox}"


def parse_imap_url(url: str) -> ImapTarget:
    """`imaps://user:pass@host[:993]/INBOX` or `imap://…[:143]/INBOX[?starttls=auto|required|no]`."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("imap", "imaps"):
        raise ConfigError(
            "LEADBOT_IMAP_URL must start with imaps:// (or imap:// for local testing)"
        )
    if not parts.hostname or parts.username is None or parts.password is None:
        raise ConfigError(
            "LEADBOT_IMAP_URL needs user, password and host: imaps://user:pass@host/INBOX"
        )
    starttls = (parse_qs(parts.query).get("starttls") or ["auto"])[0].lower()
    if starttls not in ("auto", "required", "no"):
        raise ConfigError("LEADBOT_IMAP_URL starttls= must be auto, required or no")
    try:
        port = parts.port or (993 if parts.scheme == "imaps" else 143)
    except ValueError:
        raise ConfigError("LEADBOT_IMAP_URL has an invalid port") from None
    return ImapTarget(
        host=parts.hostname,
        port=port,
        user=unquote(parts.username),
        password=unquote(parts.password),
        mailbox=unquote(parts.path.lstrip("/")) or "INBOX",
        tls=parts.scheme == "imaps",
        starttls=starttls,
    )


def _capabilities(conn: imaplib.IMAP4) -> frozenset[str]:
    # imaplib keeps the pre-login list; MOVE and UIDPLUS are often announced only after login.
    typ, data = conn.capability()
    words = b" ".join(_bytes(d) for d in data).decode("ascii", "replace").upper().split()
    return frozenset(words) if typ == "OK" else frozenset(c.upper() for c in conn.capabilities)


def _delimiter(conn: imaplib.IMAP4) -> str:
    typ, data = conn.list('""', '""')
    match = re.search(rb'\) "(.)"', _bytes(data[0])) if typ == "OK" and data and data[0] else None
    return match.group(1).decode() if match else "/"


def _server_name(folder: str, delimiter: str) -> str:
    """`LeadBot/Processed` in the server's hierarchy delimiter (Dovecot's Maildir uses ".")."""
    return delimiter.join(part for part in folder.split("/") if part)


def _sibling(folder: str, name: str) -> str:
    parent, _, _ = folder.rstrip("/").rpartition("/")
    return f"{parent}/{name}" if parent else f"{folder}-{name}"


def _quote(name: str) -> str:
    if not name.isascii() or any(c in name for c in "\r\n"):
        raise ConfigError(f"IMAP folder names must be plain ASCII: {name!r}")
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _size(conn: imaplib.IMAP4, uid: int) -> int | None:
    typ, data = conn.uid("FETCH", str(uid), "(RFC822.SIZE)")
    for item in data if typ == "OK" else []:
        match = _SIZE.search(_bytes(item))
        if match:
            return int(match.group(2) or match.group(3))
    return None


def _readable(conn: imaplib.IMAP4, timeout: float) -> bool:
    # Dovecot sends pending EXISTS right behind "+ idling": they may already sit in imaplib's
    # read buffer (`conn.file`), where select() cannot see them, so look there first.
    sock = conn.socket()
    previous = sock.gettimeout()
    sock.settimeout(0.0)
    try:
        reader = conn.file
        if isinstance(reader, io.BufferedReader) and reader.peek(1):
            return True
    except (BlockingIOError, ssl.SSLWantReadError):
        pass
    finally:
        sock.settimeout(previous)
    ready, _, _ = select.select([sock], [], [], max(timeout, 0.0))
    return bool(ready)


def _bytes(item: object) -> bytes:
    if isinstance(item, tuple):
        return b" ".join(_bytes(i) for i in item)
    return item if isinstance(item, bytes) else str(item or "").encode()


def _say(e: BaseException) -> str:
    return f"{type(e).__name__}: {str(e)[:300]}"


def _close(conn: imaplib.IMAP4) -> None:
    try:
        conn.logout()
    except (OSError, EOFError, imaplib.IMAP4.error, ssl.SSLError):
        with contextlib.suppress(OSError):
            conn.shutdown()
