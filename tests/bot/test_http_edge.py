"""The HTTP listener as `leadbot serve` runs it, attacked over real sockets on a free port:
slow request heads, bodies that never end, too many connections, descriptor exhaustion."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from bot.http_edge import Limits, Tally, http_config, quiet_exhaustion
from bot.runtime import Runtime, build_runtime
from bot.web import create_app
from storage.db import Store
from tests.conftest import make_settings

FAST = Limits(header_timeout_s=1.0, idle_timeout_s=1, max_per_ip=4)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    """uvicorn with `http_config` in a thread: the protocol and middleware `serve` uses."""

    def __init__(self, runtime: Runtime, limits: Limits) -> None:
        self.port = free_port()
        # 192.0.2.1 (TEST-NET-1) is the only trusted proxy: 127.0.0.1 counts against its cap.
        config = http_config(
            create_app(runtime),
            host="127.0.0.1",
            port=self.port,
            limits=limits,
            forwarded_allow_ips="192.0.2.1",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)

    def connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        return sock

    def get(self, path: str) -> bytes:
        with self.connect() as sock:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            return read_all(sock)


def read_all(sock: socket.socket) -> bytes:
    chunks = []
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def closed_within(sock: socket.socket, seconds: float) -> tuple[bool, bytes]:
    """Whether the server closed `sock` within `seconds`, and what it sent before."""
    sock.settimeout(seconds)
    try:
        return True, read_all(sock)
    except TimeoutError:
        return False, b""


@pytest.fixture
def runtime(store: Store) -> Runtime:
    settings = make_settings(
        store.url,
        http_body_timeout_seconds=1.0,
        sendgrid_secret="x",
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_SIGNING_SECRET="s",
    )
    return build_runtime(settings, store=store)


@pytest.fixture
def served(runtime: Runtime) -> Iterator[Served]:
    with Served(runtime, FAST) as s:
        yield s


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_slow_request_head_is_cut_off(served: Served) -> None:
    idle = served.connect()  # connects and sends nothing
    slow = served.connect()
    slow.sendall(b"POST /forms/demo HTTP/1.1\r\nHost: x\r\n")
    started = time.monotonic()
    for _ in range(4):  # a header byte now and then: uvicorn's keep-alive timer forgives this
        time.sleep(0.3)
        try:
            slow.sendall(b"X")
        except OSError:
            break
    assert closed_within(slow, 3)[0]
    assert closed_within(idle, 3)[0]
    assert time.monotonic() - started < 3.5
    assert b"200" in served.get("/healthz").split(b"\r\n", 1)[0]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_chunked_body_that_never_ends_gets_408_and_is_closed(served: Served) -> None:
    sock = served.connect()
    sock.sendall(
        b"POST /forms/demo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b'Transfer-Encoding: chunked\r\n\r\n5\r\n{"a":\r\n'
    )
    started = time.monotonic()
    closed, answer = closed_within(sock, 5)
    assert closed and answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b"request body not received" in answer
    assert time.monotonic() - started < 3
    # The same for the other routes that read a body: inbound webhooks and Slack.
    for path in ("/inbound/sendgrid?key=x", "/slack/events"):
        sock = served.connect()
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            "Content-Length: 1000\r\n\r\nabc".encode()
        )
        closed, answer = closed_within(sock, 5)
        assert closed and answer.startswith(b"HTTP/1.1 408"), (path, answer)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_connections_per_address_are_capped_and_refused_with_503(served: Served) -> None:
    held = [served.connect() for _ in range(FAST.max_per_ip)]
    time.sleep(0.2)
    extra = served.connect()
    closed, answer = closed_within(extra, 2)
    assert closed and answer.startswith(b"HTTP/1.1 503"), answer
    held.pop().close()
    time.sleep(0.2)
    assert b" 200 " in served.get("/healthz")
    for sock in held:
        sock.close()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_connections_in_all_are_capped(runtime: Runtime) -> None:
    limits = Limits(header_timeout_s=5.0, max_connections=3, max_per_ip=0)
    with Served(runtime, limits) as s:
        held = [s.connect() for _ in range(3)]
        time.sleep(0.2)
        closed, answer = closed_within(s.connect(), 2)
        assert closed and answer.startswith(b"HTTP/1.1 503")
        for sock in held:
            sock.close()
        time.sleep(0.2)
        assert b" 200 " in s.get("/healthz")


def test_refusals_are_logged_once_a_minute(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    tally = Tally("connections refused", clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="leadbot.http"):
        for second in range(180):
            now[0] = float(second)
            for _ in range(50):
                tally.add()
    assert tally.count == 9000
    assert len(caplog.records) == 3  # at 0 s, 60 s and 120 s


def test_descriptor_exhaustion_is_one_line_a_minute(caplog: pytest.LogCaptureFixture) -> None:
    loop = asyncio.new_event_loop()
    try:
        quiet_exhaustion(loop)
        error = OSError(errno.EMFILE, "Too many open files")
        with caplog.at_level(logging.DEBUG):
            for _ in range(1000):
                loop.call_exception_handler(
                    {"message": "socket.accept() out of system resource", "exception": error}
                )
            loop.call_exception_handler({"message": "something else", "exception": ValueError()})
    finally:
        loop.close()
    mine = [r for r in caplog.records if "file descriptors" in r.getMessage()]
    assert len(mine) == 1 and mine[0].exc_info is None
    assert any(r.getMessage() == "something else" for r in caplog.records)  # the rest as before


EDGE_SERVER = """
import asyncio, resource, sys
import uvicorn
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from bot.http_edge import Limits, http_config, quiet_exhaustion

resource.setrlimit(resource.RLIMIT_NOFILE, (48, 48))
app = Starlette(routes=[Route("/healthz", lambda r: PlainTextResponse("ok"))])
limits = Limits(header_timeout_s=1.5, max_per_ip=0)
server = uvicorn.Server(http_config(app, host="127.0.0.1", port=int(sys.argv[1]), limits=limits))

async def main():
    quiet_exhaustion(asyncio.get_running_loop())
    await server.serve()

asyncio.run(main())
"""


def test_at_the_descriptor_limit_the_listener_stays_quiet_and_recovers(tmp_path: Path) -> None:
    port = free_port()
    script = tmp_path / "edge_server.py"
    script.write_text(EDGE_SERVER)
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, str(script), str(port)],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None, "no server"
                time.sleep(0.1)
        held = []
        for _ in range(120):  # far more idle connections than the 48 descriptors it may open
            try:
                held.append(socket.create_connection(("127.0.0.1", port), timeout=1))
            except OSError:
                break
        time.sleep(3)  # the idle ones are cut off after 1.5 s and their descriptors freed
        for sock in held:
            sock.close()
        time.sleep(1.5)  # asyncio accepts again one second after running out
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert read_all(sock).endswith(b"ok")
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert "Traceback" not in err, err[-2000:]
    assert 1 <= err.count("out of file descriptors") <= 2, err[-2000:]  # it did run out
