"""Where the IMAP poller connects: `LEADBOT_IMAP_URL` parsed into an `ImapTarget`."""

from __future__ import annotations

import re
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
