"""How many idle SMTP sessions a client can hold open, and for how long, against bare aiosmtpd.

    .venv/bin/python bench/smtp_hold.py [--connections 1000] [--clients 1] [--wait 330]

Opens `--connections` sessions spread over `--clients` loopback addresses (127.0.0.1, .2, …),
sends `EHLO` on each one greeted with 220 and then says nothing. Prints how many were greeted,
how many refused at connect, and when the held ones were closed by the server. LeadBot runs with
the settings' defaults (LEADBOT_SMTP_* apply); the bare server is aiosmtpd's SMTP with a
discarding handler, which is what the receiver was before its timeouts and caps.
"""

from __future__ import annotations

import argparse
import asyncio
import selectors
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiosmtpd.smtp import SMTP

from bot.config import Settings
from bot.runtime import build_runtime
from bot.serve import client_gate, smtp_options
from ingest.smtp import InboxHandler, SMTPServerThread
from storage.migrate import upgrade


class Discard:
    async def handle_DATA(self, server: SMTP, session: object, envelope: object) -> str:
        return "250 OK"


def bare_server() -> tuple[int, asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    port = [0]

    def run() -> None:
        asyncio.set_event_loop(loop)
        server = loop.run_until_complete(
            loop.create_server(lambda: SMTP(Discard(), hostname="bare"), "127.0.0.1", 0)
        )
        port[0] = server.sockets[0].getsockname()[1]
        ready.set()
        loop.run_forever()

    threading.Thread(target=run, daemon=True).start()
    ready.wait(10)
    return port[0], loop


def hold(port: int, connections: int, clients: int, wait_s: float) -> None:
    socks: list[socket.socket] = []
    for n in range(connections):
        sock = socket.socket()
        sock.bind((f"127.0.0.{1 + n % clients}", 0))
        sock.connect(("127.0.0.1", port))
        socks.append(sock)
    greeted = refused = 0
    held: list[socket.socket] = []
    for sock in socks:
        sock.settimeout(10)
        reply = sock.recv(512)
        if reply.startswith(b"220"):
            greeted += 1
            sock.sendall(b"EHLO idle.example.org\r\n")
            held.append(sock)
        else:
            refused += 1
            sock.close()
    start = time.monotonic()
    print(f"  greeted {greeted}, refused at connect {refused} (last reply: {reply[:60]!r})")
    selector = selectors.DefaultSelector()
    for sock in held:
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
    closed_at: list[float] = []
    while selector.get_map() and time.monotonic() - start < wait_s:
        for key, _ in selector.select(timeout=1):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            try:
                data = sock.recv(65536)
            except ConnectionError:
                data = b""
            if not data:
                closed_at.append(time.monotonic() - start)
                selector.unregister(sock)
                sock.close()
    still = len(selector.get_map())
    if closed_at:
        print(
            f"  closed by the server: {len(closed_at)} between {min(closed_at):.1f} s "
            f"and {max(closed_at):.1f} s after EHLO; still open after {wait_s:.0f} s: {still}"
        )
    else:
        print(f"  none closed by the server within {wait_s:.0f} s ({still} still open)")
    for key in list(selector.get_map().values()):
        key.fileobj.close()  # type: ignore[union-attr]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=1, help="loopback addresses to spread over")
    parser.add_argument("--wait", type=float, default=330.0, help="seconds to wait for closes")
    parser.add_argument("--skip-bare", action="store_true")
    args = parser.parse_args()
    settings = Settings()
    with tempfile.TemporaryDirectory() as tmp:
        runtime = build_runtime(Settings(database_url=f"sqlite:///{tmp}/hold.db"))
        upgrade(runtime.store)
        handler = InboxHandler(runtime.pipeline, inbox_domains={"leads.example.com"})
        server = SMTPServerThread(
            handler, options=smtp_options(settings), gate=client_gate(settings)
        ).start()
        print(
            f"LeadBot (timeout {settings.smtp_timeout_seconds:g} s, "
            f"{settings.smtp_max_connections_per_ip} per IP, {settings.smtp_max_sessions} in all):"
        )
        hold(server.port, args.connections, args.clients, args.wait)
        server.stop()
    if not args.skip_bare:
        port, _ = bare_server()
        print("bare aiosmtpd (timeout 300 s, no caps):")
        hold(port, args.connections, args.clients, args.wait)


if __name__ == "__main__":
    main()
