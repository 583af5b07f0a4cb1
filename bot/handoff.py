"""`leadbot ingest -` beside a running server: hand the message to its receiver instead of reading it
here.

A mail server's pipe starts one `leadbot ingest` per message. Reading a message needs the whole
reader, the scoring engine and the ORM loaded, about three times the cost of importing SQLAlchemy;
the running `serve` has them loaded already. So when a `serve` on the same database listens on
this host, the message goes to its LMTP port (LEADBOT_LMTP_PORT, our own MTA's door) or its SMTP
port, exactly as Postfix's own transport would deliver it, and `ingest` exits 0 on the server's
250, which it gives only once the message is committed. The server then reads, scores and
announces it at once.

It is handed over only when the receiver says, in its EHLO/LHLO answer to a client on this host,
that it writes to the database this command's settings name (storage.identity): a server of
another installation on the same port never gets it. Over SMTP only when the sender checks are
off: with them on, the SMTP receiver would take this host for the sender's MTA (LMTP does not).
Anything else (no server, another database, a refusal or a timeout before the message was sent)
answers None, and the caller reads the message itself; a failure after the message was sent but
before the answer is a temporary failure (the server may have committed it: the mail server tries
again, and the copy is recognised as the same message).
"""

from __future__ import annotations

import os
import re
import smtplib
from collections.abc import Mapping
from dataclasses import dataclass

from bot.config import Settings
from storage.identity import STORE_KEYWORD, database_fingerprint

CONNECT_TIMEOUT_S = 0.5  # nothing listening answers at once; a server that hangs is not used
ANY_ADDRESS = {"", "0.0.0.0", "::", "*"}  # noqa: S104 - a listening address, read to connect to this host
# A pipe gets LF line ends; SMTP's DATA wants CRLF, and smtplib converts text, never bytes.
_LINE_END = re.compile(rb"\r?\n")


class Uncertain(Exception):
    """The message was sent and no answer came: it may be stored. Try again later."""


@dataclass(frozen=True)
class Receiver:
    protocol: str  # "LMTP" or "SMTP"
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.protocol} {self.host}:{self.port}"


def receiver_of(settings: Settings) -> Receiver | None:
    """Where this host's `serve` would listen for the message, per the settings; None when the
    SMTP receiver would judge the message by this host (sender checks on, no LMTP port)."""
    host = "127.0.0.1" if settings.host.strip() in ANY_ADDRESS else settings.host.strip()
    if settings.lmtp_port:
        return Receiver("LMTP", host, settings.lmtp_port)
    if settings.dns_server or settings.trusted_authserv_id or not settings.smtp_port:
        return None
    return Receiver("SMTP", host, settings.smtp_port)


def recipient(settings: Settings, environ: Mapping[str, str] = os.environ) -> str:
    """The envelope recipient: the one the mail server names (RECIPIENT, as Postfix's local
    delivery exports it) when it is an inbox address, else a LeadBot address of the first inbox
    domain."""
    domains = sorted(settings.inbox_domains) or ["localhost"]
    for name in ("ORIGINAL_RECIPIENT", "RECIPIENT"):
        address = environ.get(name, "").strip()
        local, _, domain = address.rpartition("@")
        if local and domain.lower().rstrip(".") in domains and address.isprintable():
            return address
    return f"leadbot@{domains[0]}"


def hand_over(content: bytes, settings: Settings) -> Receiver | None:
    """The receiver that committed the message, or None when it was not handed over. Raises
    Uncertain when the message went out and no answer came back."""
    fingerprint = database_fingerprint(settings.database_url)
    where = receiver_of(settings)
    if fingerprint is None or where is None:
        return None
    kind = smtplib.LMTP if where.protocol == "LMTP" else smtplib.SMTP
    client = kind(timeout=CONNECT_TIMEOUT_S)
    try:
        try:
            client.connect(where.host, where.port)
            code, _ = client.ehlo()
            if code != 250 or client.esmtp_features.get(STORE_KEYWORD.lower()) != fingerprint:
                return None
            # The answer to DATA comes after the commit, which the server bounds by its own
            # store timeout (451 after it): wait for that, with a margin.
            assert client.sock is not None
            client.sock.settimeout(settings.store_timeout_seconds + 5)
            code, _ = client.mail("")
            if code != 250:
                return None
            code, _ = client.rcpt(recipient(settings))
            if code not in (250, 251):
                return None
        except (OSError, smtplib.SMTPException):
            return None
        try:
            code, _ = client.data(_LINE_END.sub(b"\r\n", content))
        except smtplib.SMTPResponseException:  # refused without storing it: read it here
            return None
        except (OSError, smtplib.SMTPException) as e:
            raise Uncertain(f"{where}: no answer after the message was sent ({e})") from e
        return where if code == 250 else None
    finally:
        try:
            client.quit()
        except (OSError, smtplib.SMTPException):
            client.close()
