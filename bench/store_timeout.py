"""Time to `451 4.3.0` (and HTTP 503) when the database hangs, for LEADBOT_STORE_TIMEOUT_SECONDS.

    .venv/bin/python bench/store_timeout.py --database-url postgresql+psycopg://postgres@127.0.0.1/test
        [--timeouts 10,20,30]

For each timeout, with a real SMTP receiver and smtplib client (HTTP: the form route):
  stalled        PostgreSQL through a local proxy that stops forwarding (no reset): a pooled
                 connection's next call hangs
  stalled-fresh  the same, before any connection was made (the server's greeting never comes)
  locked         PostgreSQL, another session holds an ACCESS EXCLUSIVE lock on raw_input
  sqlite-locked  SQLite, another connection holds the write lock (BEGIN IMMEDIATE)
The reference is the timeout itself: the ratio says how much of it the answer took (at most 1).
Before issue 11 a stalled network was answered after 100-210 s, or never.
"""

from __future__ import annotations

import argparse
import smtplib
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from starlette.testclient import TestClient

from bench.ingest import drop_scratch, fresh_url
from bot.config import Settings
from bot.runtime import build_runtime
from bot.web import create_app
from ingest.smtp import InboxHandler, SMTPServerThread
from storage.db import Store
from storage.migrate import upgrade
from tests.stall_proxy import StallProxy

INBOX = "leads.example.com"


def message(n: int) -> bytes:
    return (
        f"From: Ann Lee <ann{n}@acme.example>\r\nTo: sales@{INBOX}\r\n"
        f"Subject: pricing {n}\r\nMessage-ID: <b{n}-{time.time_ns()}@acme.example>\r\n\r\n"
        "We need 40 seats.\r\n"
    ).encode()


def send(port: int, n: int) -> tuple[int, float]:
    started = time.monotonic()
    with smtplib.SMTP("127.0.0.1", port, timeout=600) as client:
        try:
            client.sendmail(f"ann{n}@acme.example", [f"sales@{INBOX}"], message(n))
        except smtplib.SMTPDataError as e:
            return e.smtp_code, time.monotonic() - started
    return 250, time.monotonic() - started


def receiver(store: Store) -> SMTPServerThread:
    settings = Settings(
        _env_file=None,
        database_url=store.url,
        inbox_domains=INBOX,
        rescore_interval_minutes=0,
        store_timeout_seconds=store.timeout,
    )  # type: ignore[call-arg]
    rt = build_runtime(settings, store=store)
    return SMTPServerThread(InboxHandler(rt.pipeline, inbox_domains=[INBOX])).start()


def proxied(url: str) -> tuple[StallProxy, str]:
    target = sa.engine.make_url(url)
    proxy = StallProxy((target.host or "127.0.0.1", target.port or 5432)).start()
    return proxy, target.set(host="127.0.0.1", port=proxy.port).render_as_string(
        hide_password=False
    )


def stalled(url: str, timeout: float, *, fresh: bool) -> tuple[int, float]:
    proxy, via = proxied(url)
    store = Store(via, timeout=timeout)
    server = receiver(store)
    try:
        if not fresh:
            assert send(server.port, 0)[0] == 250
            server.drain()
        proxy.stall()
        return send(server.port, 1)
    finally:
        proxy.resume()
        server.stop()
        store.dispose()
        proxy.close()


def stalled_http(url: str, timeout: float) -> tuple[int, float]:
    proxy, via = proxied(url)
    store = Store(via, timeout=timeout)
    settings = Settings(
        _env_file=None, database_url=via, inbox_domains=INBOX, rescore_interval_minutes=0
    )  # type: ignore[call-arg]
    try:
        with TestClient(create_app(build_runtime(settings, store=store))) as c:
            c.post("/forms/contact", json={"email": "a@b.example"})
            proxy.stall()
            started = time.monotonic()
            r = c.post("/forms/contact", json={"email": "c@d.example"})
            return r.status_code, time.monotonic() - started
    finally:
        proxy.resume()
        store.dispose()
        proxy.close()


def locked(url: str, timeout: float) -> tuple[int, float]:
    store = Store(url, timeout=timeout)
    server = receiver(store)
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as holder:
            holder.execute(sa.text("LOCK TABLE raw_input IN ACCESS EXCLUSIVE MODE"))
            result = send(server.port, 2)
            holder.rollback()
        return result
    finally:
        engine.dispose()
        server.stop()
        store.dispose()


def sqlite_locked(tmp: Path, timeout: float) -> tuple[int, float]:
    path = tmp / f"locked-{timeout:g}.db"
    store = Store(f"sqlite:///{path}", timeout=timeout)
    upgrade(store)
    server = receiver(store)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        return send(server.port, 3)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        server.stop()
        store.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", required=True, help="a PostgreSQL server URL")
    parser.add_argument("--timeouts", default="10,20,30")
    args = parser.parse_args()
    print(f"{'timeout s':>9} {'case':<14} {'answer':>6} {'seconds':>8} {'of timeout':>10}")
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        url = fresh_url(args.database_url, tmp, "timeouts")
        upgrade(Store(url))
        try:
            for timeout in [float(t) for t in args.timeouts.split(",")]:
                cases: list[tuple[str, Callable[[], tuple[int, float]]]] = [
                    ("stalled", lambda t=timeout: stalled(url, t, fresh=False)),
                    ("stalled-fresh", lambda t=timeout: stalled(url, t, fresh=True)),
                    ("stalled-http", lambda t=timeout: stalled_http(url, t)),
                    ("locked", lambda t=timeout: locked(url, t)),
                    ("sqlite-locked", lambda t=timeout: sqlite_locked(tmp, t)),
                ]
                for name, case in cases:
                    code, seconds = case()
                    print(
                        f"{timeout:>9g} {name:<14} {code:>6} {seconds:>8.2f}"
                        f" {seconds / timeout:>10.2f}",
                        flush=True,
                    )
        finally:
            drop_scratch(args.database_url, url)


if __name__ == "__main__":
    main()
