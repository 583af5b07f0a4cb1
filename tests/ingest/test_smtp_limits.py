"""Nothing a client does holds the receiver: idle and command timeouts, the DATA deadline, caps
per client and in all, command and error limits, and descriptor exhaustion refused quietly."""

from __future__ import annotations

import logging
import os
import smtplib
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.config import Settings
from bot.runtime import Runtime, build_runtime
from bot.serve import client_gate, smtp_options
from ingest.listen import AcceptGuard, ClientGate, Throttle
from ingest.smtp_server import SMTPOptions
from storage.models import RawInput
from tests.conftest import make_settings
from tests.ingest.smtp_helpers import INBOX, Wire, serving, wait_for
from tests.ingest.test_smtp import inquiry

ROOT = Path(__file__).resolve().parents[2]
SHORT = SMTPOptions(max_message_bytes=1_000_000, hostname="mx.leads.example.com", timeout_s=0.5)


@pytest.fixture
def sqlite_runtime(sqlite_url: str) -> Runtime:
    return build_runtime(make_settings(sqlite_url))


def test_the_default_timeout_is_at_most_a_minute() -> None:
    options = smtp_options(Settings())
    assert options.timeout_s <= 60  # aiosmtpd's own default is 300 s
    gate = client_gate(Settings())
    assert (gate.max_per_client, gate.max_sessions) == (20, 200)


# -- time -------------------------------------------------------------------------------------


def test_an_idle_session_gets_421_and_is_closed(sqlite_runtime: Runtime) -> None:
    with serving(sqlite_runtime, options=SHORT) as server:
        wire = Wire(server.port)
        wire.reply()
        wire.command("EHLO client.example.org")
        start = time.monotonic()
        assert wire.reply() == ["421 4.4.2 mx.leads.example.com Error: timeout exceeded"]
        assert wire.closed(within=2)
        assert 0.4 < time.monotonic() - start < 2
        assert wait_for(lambda: server.gate.total == 0)


def trickle(wire: Wire, byte: bytes, *, every: float = 0.05, limit: float = 5) -> float:
    """Send `byte` every `every` seconds until the server closes; the seconds it took."""
    start = time.monotonic()
    while time.monotonic() - start < limit:
        try:
            wire.send(byte)
        except OSError:
            break
        if wire.closed(within=every):
            break
    return time.monotonic() - start


def test_a_command_line_that_never_ends_is_cut_at_the_timeout(sqlite_runtime: Runtime) -> None:
    with serving(sqlite_runtime, options=SHORT) as server:
        wire = Wire(server.port)
        wire.reply()
        assert trickle(wire, b"E") < 1.5  # a byte every 0.05 s, never a CRLF
        assert wire.reply() == ["421 4.4.2 mx.leads.example.com Error: timeout exceeded"]


def test_noop_keepalives_cannot_hold_a_session(sqlite_runtime: Runtime) -> None:
    with (
        serving(sqlite_runtime) as server,
        smtplib.SMTP("127.0.0.1", server.port, timeout=10) as client,
    ):
        client.ehlo("client.example.org")
        assert all(client.noop()[0] == 250 for _ in range(20))
        code, text = client.noop()
        assert (code, text[:6]) == (421, b"4.7.0 ")


def test_data_that_trickles_is_dropped_data_that_flows_is_not(sqlite_runtime: Runtime) -> None:
    """DATA earns time as bytes arrive (500 B/s): a slow sender is cut, a long upload is not."""
    with serving(sqlite_runtime, options=SHORT) as server:
        slow = Wire(server.port)
        slow.reply()
        slow.command("EHLO slow.example.org")
        slow.command("MAIL FROM:<a@example.org>")
        slow.command(f"RCPT TO:<leads@{INBOX}>")
        assert slow.command("DATA")[0].startswith("354")
        assert trickle(slow, b"x") < 2  # 20 bytes/s: cut about 0.5 s after DATA
        # 2 s of DATA at 100 kB/s with a 0.5 s timeout: aiosmtpd alone would cut it at 0.5 s.
        fast = Wire(server.port)
        fast.reply()
        fast.command("EHLO fast.example.org")
        fast.command("MAIL FROM:<sender@acme-robotics.example>")
        fast.command(f"RCPT TO:<leads@{INBOX}>")
        assert fast.command("DATA")[0].startswith("354")
        body = bytes(inquiry()).replace(b"\n", b"\r\n")
        fast.send(body)
        for _ in range(20):
            fast.send((b"y" * 78 + b"\r\n") * 128)  # 10 kB
            time.sleep(0.1)
        fast.send(b".\r\n")
        assert fast.reply() == ["250 2.0.0 OK: message accepted"]
        server.drain()
    with sqlite_runtime.store.session() as s:
        assert len(list(s.scalars(select(RawInput)))) == 1


# -- caps -------------------------------------------------------------------------------------


def test_connections_per_client_are_capped(sqlite_runtime: Runtime) -> None:
    gate = ClientGate(max_per_client=3, max_sessions=100)
    with serving(sqlite_runtime, gate=gate) as server:
        held = [Wire(server.port) for _ in range(3)]
        assert all(w.reply()[0].startswith("220 mx.leads.example.com") for w in held)
        extra = Wire(server.port)
        assert extra.reply()[0].startswith("421 4.7.0 ")
        assert extra.closed()
        other = Wire(server.port, source="127.0.0.2")  # another client is not held up
        assert other.reply()[0].startswith("220 ")
        held.pop().close()
        assert wait_for(lambda: gate.open_from("127.0.0.1") == 2)
        again = Wire(server.port)
        assert again.reply()[0].startswith("220 ")
        for w in [*held, other, again]:
            w.close()
        assert wait_for(lambda: gate.total == 0)


def test_sessions_in_all_are_capped(sqlite_runtime: Runtime) -> None:
    gate = ClientGate(max_per_client=2, max_sessions=4)
    with serving(sqlite_runtime, gate=gate) as server:
        held = [Wire(server.port, source=f"127.0.0.{1 + n // 2}") for n in range(4)]
        assert all(w.reply()[0].startswith("220 ") for w in held)
        busy = Wire(server.port, source="127.0.0.9")
        assert busy.reply()[0].startswith("421 4.3.2 ")
        assert busy.closed()
        for w in held:
            w.close()
        assert wait_for(lambda: gate.total == 0)


def test_ipv6_clients_are_counted_per_64() -> None:
    gate = ClientGate(max_per_client=2)
    assert gate.admit("2001:db8:1:2::1")[1] is None
    assert gate.admit("2001:db8:1:2:ffff::9")[1] is None
    assert gate.admit("2001:db8:1:2::abcd")[1] is not None  # the same /64
    assert gate.admit("2001:db8:1:3::1")[1] is None


def test_many_errors_end_the_session(sqlite_runtime: Runtime) -> None:
    with (
        serving(sqlite_runtime) as server,
        smtplib.SMTP("127.0.0.1", server.port, timeout=10) as client,
    ):
        client.ehlo("client.example.org")
        client.mail("a@example.org")
        codes = [client.rcpt(f"user{n}@elsewhere.example")[0] for n in range(19)]
        assert set(codes) == {550}
        assert (
            client.rcpt("last@elsewhere.example")[0] == 550
        )  # the 20th error, and then the goodbye
        assert client.getreply()[0] == 421


def test_recipients_per_message_are_capped(sqlite_runtime: Runtime) -> None:
    with (
        serving(sqlite_runtime) as server,
        smtplib.SMTP("127.0.0.1", server.port, timeout=10) as client,
    ):
        client.ehlo("client.example.org")
        client.mail("a@example.org")
        assert all(client.rcpt(f"r{n}@{INBOX}")[0] == 250 for n in range(100))
        code, text = client.rcpt(f"r100@{INBOX}")
        assert (code, text[:6]) == (452, b"4.5.3 ")


# -- descriptors ------------------------------------------------------------------------------


def test_descriptor_exhaustion_is_one_line_a_minute_not_a_traceback(sqlite_url: str) -> None:
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.ingest.emfile_server", sqlite_url, "12", "4"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        port = int(child.stdout.readline())
        clients = [Wire(port) for _ in range(40)]  # more than it has descriptors: the rest wait
        _, err = child.communicate(timeout=30)
    finally:
        child.kill()
    for client in clients:
        client.close()
    refused = [line for line in err.splitlines() if "cannot accept connections" in line]
    assert "Traceback" not in err and "out of system resource" not in err, err[-2000:]
    assert len(refused) == 1, err[-2000:]  # 4 s of EMFILE, retried every second: one line
    assert "Too many open files" in refused[0]


def test_the_accept_guard_passes_other_errors_on_and_throttles(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[dict[str, object]] = []
    clock = [0.0]
    log = logging.getLogger("test.guard")
    guard = AcceptGuard(
        lambda loop, context: seen.append(context),
        throttle=Throttle(log, clock=lambda: clock[0]),
    )
    emfile = OSError(24, "Too many open files")
    loop: object = None
    for t in (0.0, 1.0, 59.0, 61.0):
        clock[0] = t
        guard(loop, {"message": "socket.accept() out of system resource", "exception": emfile})  # type: ignore[arg-type]
    guard(loop, {"message": "Task exception was never retrieved", "exception": emfile})  # type: ignore[arg-type]
    assert len(seen) == 1  # only the one that was not about accepting
    lines = [r.getMessage() for r in caplog.records if r.name == "test.guard"]
    assert len(lines) == 2 and "Too many open files" in lines[0]  # at 0 s and 61 s
    assert "3 time(s) since the last report" in lines[1]
