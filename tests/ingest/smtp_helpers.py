"""Shared by the SMTP/LMTP protocol tests: a throwaway CA and certificate, a raw client, a server."""

from __future__ import annotations

import re
import socket
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import trustme

from bot.runtime import Runtime
from ingest.listen import ClientGate
from ingest.smtp import InboxHandler, SMTPServerThread
from ingest.smtp_server import SMTPOptions

INBOX = "leads.example.com"
ENHANCED = re.compile(r"[245]\.\d{1,3}\.\d{1,3} ")  # RFC 3463 class.subject.detail


@dataclass(frozen=True)
class Certificate:
    """A CA made for one test module, and a server certificate it signed for 127.0.0.1."""

    ca: trustme.CA
    cert: Path  # the chain, PEM
    key: Path

    def trusting_client(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context


def make_certificate(directory: Path) -> Certificate:
    ca = trustme.CA()
    issued = ca.issue_cert("127.0.0.1", "localhost", "mx.leads.example.com")
    cert, key = directory / "cert.pem", directory / "key.pem"
    for blob in issued.cert_chain_pems:
        blob.write_to_path(cert, append=True)
    issued.private_key_pem.write_to_path(key)
    return Certificate(ca, cert, key)


@contextmanager
def serving(
    runtime: Runtime,
    *,
    options: SMTPOptions | None = None,
    gate: ClientGate | None = None,
    lmtp: bool = False,
) -> Iterator[SMTPServerThread]:
    handler = InboxHandler(runtime.pipeline, inbox_domains={INBOX})
    server = SMTPServerThread(
        handler,
        options=options or SMTPOptions(max_message_bytes=200_000, hostname="mx.leads.example.com"),
        gate=gate,
        lmtp=lmtp,
    ).start()
    try:
        yield server
    finally:
        server.stop()


class Wire:
    """A client that speaks bytes, for what smtplib will not do (trickle, hold, read a refusal)."""

    def __init__(self, port: int, *, source: str = "127.0.0.1", timeout: float = 10) -> None:
        self.sock = socket.create_connection(
            ("127.0.0.1", port), timeout=timeout, source_address=(source, 0)
        )
        self.buffer = b""

    def reply(self) -> list[str]:
        """The lines of the next reply (`250-…` … `250 …`); [] when the server closed first."""
        lines: list[str] = []
        while True:
            while b"\r\n" not in self.buffer:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return lines
                self.buffer += chunk
            line, self.buffer = self.buffer.split(b"\r\n", 1)
            lines.append(line.decode("utf-8", "replace"))
            if len(line) < 4 or line[3:4] != b"-":
                return lines

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def command(self, line: str) -> list[str]:
        self.send(line.encode() + b"\r\n")
        return self.reply()

    def closed(self, within: float = 5) -> bool:
        """True when the server closes the connection within `within` seconds."""
        self.sock.settimeout(within)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buffer += chunk
        except TimeoutError:
            return False
        except ConnectionResetError:
            return True

    def close(self) -> None:
        self.sock.close()


def wait_for(condition: object, timeout: float = 5) -> bool:
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return bool(condition())
