"""Ingest benchmark: messages per second through SMTP end to end, against a bare aiosmtpd server.

    .venv/bin/python bench/ingest.py [--messages 2000] [--rounds 3] [--database-url URL]

End to end means stored, parsed, scored (and announced when hot), measured from the first
connection until the last message has been processed. The bare server is aiosmtpd with a handler
that discards each message, driven by the same client in the same run, in alternating rounds; the
ratio of the medians is the figure (one round's rates move by 10-20 % on a shared machine).
Peak memory is measured in a child process that ingests one 25 MB message.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import smtplib
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiosmtpd.smtp import SMTP

from bot.config import Settings
from bot.runtime import build_pipeline, build_runtime
from ingest.smtp import InboxHandler, SMTPServerThread
from ingest.worker import freeze_startup_objects, process_pool_queue
from storage.db import Store
from storage.migrate import upgrade

# A realistic mix: one inquiry in five asks for pricing and a demo (and turns hot, so it is
# announced through the outbox); the rest are ordinary questions that stay cold or warm.
HOT_BODY = (
    "Hello,\n\nWe would like pricing and a quote for {seats} seats, and a demo next week if possible.\n"
    "Our budget is approved for this quarter.\n\nBest regards,\n{name}\nHead of Operations\n"
    "Company {n}\n+1 415 555 {phone:04d}\n"
)
PLAIN_BODY = (
    "Hi,\n\nI read your article about lead routing. Does your product work with shared inboxes,\n"
    "and is there documentation I could read?\n\nThanks,\n{name}\n"
)


def make_message(n: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Person {n} <person{n}@company{n % 5000}.example>"
    msg["To"] = "leads@leads.example.com"
    msg["Subject"] = (
        f"Pricing for {n % 90 + 10} seats" if n % 5 == 0 else "Question about shared inboxes"
    )
    msg["Message-ID"] = f"<bench-{n}-{time.time_ns()}@company.example>"
    msg["Date"] = "Mon, 23 Nov 2026 09:00:00 +0000"
    body = HOT_BODY if n % 5 == 0 else PLAIN_BODY
    msg.set_content(body.format(seats=n % 90 + 10, name=f"Person {n}", n=n, phone=n % 10000))
    return msg.as_bytes(policy=SMTP_POLICY)  # CRLF line ends, as an MTA sends


class Discard:
    async def handle_DATA(self, server: SMTP, session: object, envelope: object) -> str:
        return "250 OK"


class BareServer:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.port = 0
        threading.Thread(target=self._run, daemon=True).start()
        self.ready.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(
            self.loop.create_server(
                lambda: SMTP(Discard(), data_size_limit=30 * 2**20), "127.0.0.1", 0
            )
        )
        self.port = server.sockets[0].getsockname()[1]
        self.ready.set()
        self.loop.run_forever()


def drive(port: int, messages: list[bytes], connections: int) -> float:
    """Send every message over `connections` parallel SMTP sessions; returns seconds."""
    chunks = [messages[i::connections] for i in range(connections)]

    def client(chunk: list[bytes]) -> None:
        with smtplib.SMTP("127.0.0.1", port, timeout=120) as c:
            for raw in chunk:
                c.sendmail("bench@company.example", ["leads@leads.example.com"], raw)

    start = time.perf_counter()
    with ThreadPoolExecutor(connections) as pool:
        list(pool.map(client, chunks))
    return time.perf_counter() - start


def leadbot_server(url: str, *, worker_process: bool = True) -> SMTPServerThread:
    settings = Settings(
        _env_file=None,
        database_url=url,
        inbox_domains="leads.example.com",
        rescore_interval_minutes=0,
    )  # type: ignore[call-arg]
    rt = build_runtime(settings)
    upgrade(rt.store)
    queue = None
    if worker_process:  # as `leadbot serve` runs it: parsing and recording in worker processes
        pool, queue = process_pool_queue(build_pipeline, settings, workers=settings.ingest_workers)
        # Measure a running server: wait until every worker has started (a job each; a
        # sleeping one keeps its worker busy so the next goes to another).
        for job in [pool.submit(time.sleep, 0.5) for _ in range(settings.ingest_workers)]:
            job.result()
    handler = InboxHandler(
        rt.pipeline,
        inbox_domains=settings.inbox_domains,
        queue=queue,
    )
    server = SMTPServerThread(handler, max_message_bytes=settings.max_message_bytes).start()
    freeze_startup_objects()  # as `leadbot serve` does once it has started
    return server


def fresh_url(base: str | None, tmp: Path, tag: str) -> str:
    if base is None:
        return f"sqlite:///{tmp / f'bench-{tag}.db'}"
    import sqlalchemy as sa

    name = f"leadbot_bench_{tag}_{os.getpid()}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    return sa.engine.make_url(base).set(database=name).render_as_string(hide_password=False)


def drop_scratch(base: str | None, url: str) -> None:
    """Remove a scratch PostgreSQL database made by fresh_url (SQLite files go with tmp)."""
    if base is None:
        return
    import sqlalchemy as sa

    name = sa.engine.make_url(url).database
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def throughput(args: argparse.Namespace) -> None:
    """For 1 and 8 connections: `--rounds` rounds of the bare server then LeadBot (a fresh database
    each time); the medians are printed, with each round's rates for the spread."""
    bare = BareServer()
    head = f"{'connections':>11} {'bare msg/s':>11} {'leadbot msg/s':>14} {'ratio':>6}"
    print(f"{head}  backend  rounds (bare/leadbot)")
    backend = "postgresql" if args.database_url else "sqlite"
    with tempfile.TemporaryDirectory() as tmp:
        for connections in (1, 8):
            bare_rates, lb_rates = [], []
            for n in range(args.rounds):
                messages = [make_message(i) for i in range(args.messages)]
                bare_rates.append(len(messages) / drive(bare.port, messages, connections))
                rate = leadbot_rate(args, Path(tmp), f"c{connections}r{n}", messages, connections)
                lb_rates.append(rate)
            b, lb = statistics.median(bare_rates), statistics.median(lb_rates)
            rounds = zip(bare_rates, lb_rates, strict=True)
            spread = ", ".join(f"{x:.0f}/{y:.0f}" for x, y in rounds)
            print(
                f"{connections:>11} {b:>11.0f} {lb:>14.0f} {lb / b:>6.2f}  {backend:<7}  {spread}"
            )


def leadbot_rate(
    args: argparse.Namespace, tmp: Path, tag: str, messages: list[bytes], connections: int
) -> float:
    """Messages per second from the first connection until the last message is processed."""
    import sqlalchemy as sa

    url = fresh_url(args.database_url, tmp, tag)
    server = leadbot_server(url)
    start = time.perf_counter()
    drive(server.port, messages, connections)
    server.drain(600)
    elapsed = time.perf_counter() - start
    server.stop()
    store = Store(url)
    with store.engine.connect() as conn:
        processed = conn.execute(
            sa.text("SELECT count(*) FROM raw_input WHERE status='processed'")
        ).scalar()
    store.dispose()
    drop_scratch(args.database_url, url)
    assert processed == len(messages), f"only {processed} of {len(messages)} processed"
    return len(messages) / elapsed


def big_message_child(url: str, size: int) -> None:
    """In a child process: receive one `size`-byte message end to end, report peak RSS."""
    server = leadbot_server(url)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"PORT {server.port}", flush=True)
    sys.stdin.readline()  # the parent has sent it
    server.drain(600)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"RSS {base} {peak}", flush=True)
    server.stop()


def big_message(args: argparse.Namespace) -> None:
    size = 25 * 2**20 - 64 * 1024
    with tempfile.TemporaryDirectory() as tmp:
        url = fresh_url(args.database_url, Path(tmp), "big")
        child = subprocess.Popen(
            [sys.executable, __file__, "--child", url, str(size)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None and child.stdin is not None
        port = int(child.stdout.readline().split()[1])
        msg = EmailMessage()
        msg["From"] = "Big Sender <big@bigcorp.example>"
        msg["To"] = "leads@leads.example.com"
        msg["Subject"] = "Quote request with a large attachment"
        msg.set_content("Please quote 500 seats; our requirements are attached.")
        msg.add_attachment(
            os.urandom(int(size / 1.37) - 100_000),  # base64 with line breaks grows by ~1.37
            maintype="application",
            subtype="octet-stream",
            filename="spec.bin",
        )
        raw = msg.as_bytes(policy=SMTP_POLICY)
        start = time.perf_counter()
        with smtplib.SMTP("127.0.0.1", port, timeout=300) as c:
            c.sendmail("big@bigcorp.example", ["leads@leads.example.com"], raw)
        child.stdin.write("sent\n")
        child.stdin.flush()
        _, base, peak = child.stdout.readline().split()
        elapsed = time.perf_counter() - start
        child.wait(60)
        drop_scratch(args.database_url, url)
        print(
            f"one {len(raw) / 2**20:.1f} MiB message: end to end {elapsed:.1f} s; server RSS "
            f"{int(base) / 1024:.0f} MiB before, peak {int(peak) / 1024:.0f} MiB "
            f"(+{(int(peak) - int(base)) / 1024:.0f} MiB, {(int(peak) - int(base)) * 1024 / len(raw):.1f}x the message size)"
        )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        big_message_child(sys.argv[2], int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument(
        "--database-url",
        help="PostgreSQL server URL (a scratch database is created); default SQLite",
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="rounds per connection count (median)"
    )
    parser.add_argument("--skip-big", action="store_true")
    parser.add_argument("--only-big", action="store_true")
    args = parser.parse_args()
    if not args.only_big:
        throughput(args)
    if not args.skip_big:
        big_message(args)


if __name__ == "__main__":
    main()
