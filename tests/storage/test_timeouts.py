"""A database that hangs is answered within LEADBOT_STORE_TIMEOUT_SECONDS: SMTP 451, HTTP 503.

Hung for real: a proxy that stops forwarding (a stalled network, no reset), a PostgreSQL session
holding a lock, `pg_sleep`, a SQLite writer that keeps the write lock. Also: SQLite files only
their owner can read.
"""

from __future__ import annotations

import os
import smtplib
import sqlite3
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from bot.runtime import Runtime, build_runtime
from bot.web import create_app
from ingest.smtp import InboxHandler, SMTPServerThread
from storage.db import Store
from storage.errors import StoreUnavailable
from storage.migrate import upgrade
from storage.models import RawInput
from tests.conftest import make_settings
from tests.stall_proxy import StallProxy

INBOX = "leads.example.com"
TIMEOUT = 4.0  # small, so the suite stays fast; bench/store_timeout.py measures 10/20/30
SLACK = 1.5  # scheduling on a shared 2-core machine


def _message(n: int) -> bytes:
    return (
        f"From: Ann Lee <ann{n}@acme.example>\r\nTo: sales@{INBOX}\r\n"
        f"Subject: pricing {n}\r\nMessage-ID: <t{n}@acme.example>\r\n\r\n"
        "We need 40 seats, what does it cost?\r\n"
    ).encode()


def _send(port: int, n: int) -> tuple[int, str, float]:
    """(code, text, seconds) of the answer to DATA for message n."""
    started = time.monotonic()
    with smtplib.SMTP("127.0.0.1", port, timeout=120) as client:
        try:
            client.sendmail(f"ann{n}@acme.example", [f"sales@{INBOX}"], _message(n))
        except smtplib.SMTPDataError as e:
            return e.smtp_code, e.smtp_error.decode(), time.monotonic() - started
    return 250, "", time.monotonic() - started


def _runtime(store: Store) -> Runtime:
    return build_runtime(make_settings(store.url, store_timeout_seconds=store.timeout), store=store)


@pytest.fixture
def pg_url(pg_server_url: str, pg_session_db: tuple[str, str]) -> str:
    from tests.conftest import _empty_pg_database

    url, name = pg_session_db
    _empty_pg_database(pg_server_url, url, name)
    return url


@pytest.fixture
def proxied(pg_url: str) -> Iterator[tuple[StallProxy, Store]]:
    """A store whose connections go through a proxy that can stall."""
    target = sa.engine.make_url(pg_url)
    proxy = StallProxy((target.host or "127.0.0.1", target.port or 5432)).start()
    url = target.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    store = Store(url, timeout=TIMEOUT)
    yield proxy, store
    proxy.resume()
    store.dispose()
    proxy.close()


@pytest.fixture
def smtp(request: pytest.FixtureRequest) -> Iterator[SMTPServerThread]:
    store: Store = request.getfixturevalue(request.param)
    if isinstance(store, tuple):
        store = store[1]
    handler = InboxHandler(_runtime(store).pipeline, inbox_domains=[INBOX])
    server = SMTPServerThread(handler).start()
    yield server
    server.stop()


@pytest.mark.parametrize("smtp", ["proxied"], indirect=True)
def test_a_stalled_network_is_answered_451_within_the_timeout(
    smtp: SMTPServerThread, proxied: tuple[StallProxy, Store]
) -> None:
    proxy, store = proxied
    assert _send(smtp.port, 1)[0] == 250
    smtp.drain()
    proxy.stall()
    code, text, seconds = _send(smtp.port, 2)
    assert code == 451 and text.startswith("4.3.0"), text
    assert seconds < TIMEOUT + SLACK, seconds
    # The commit in flight gave up too (its connection was cut), so a second sender is not
    # queued behind a commit that hangs for ever.
    code, _, seconds = _send(smtp.port, 3)
    assert code == 451 and seconds < TIMEOUT + SLACK, seconds
    proxy.resume()
    deadline = time.monotonic() + 3 * TIMEOUT
    while (code := _send(smtp.port, 4)[0]) != 250 and time.monotonic() < deadline:
        time.sleep(0.2)  # the commit thread may still be giving up on its cut connection
    assert code == 250
    smtp.drain()
    with store.reading() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(RawInput)) >= 2


def test_a_stalled_network_is_503_on_http_within_the_timeout(
    proxied: tuple[StallProxy, Store],
) -> None:
    proxy, store = proxied
    with TestClient(create_app(_runtime(store))) as c:
        assert c.post("/forms/contact", json={"email": "a@b.example"}).status_code == 201
        proxy.stall()
        started = time.monotonic()
        r = c.post("/forms/contact", json={"email": "c@d.example"})
        seconds = time.monotonic() - started
    assert r.status_code == 503 and r.headers["retry-after"] == "30"
    assert seconds < TIMEOUT + SLACK, seconds


def test_connecting_through_a_stalled_network_gives_up(proxied: tuple[StallProxy, Store]) -> None:
    proxy, store = proxied
    proxy.stall()  # before the first connection: the server's greeting never comes
    started = time.monotonic()
    with pytest.raises(StoreUnavailable):
        store.ping()
    assert time.monotonic() - started < TIMEOUT + SLACK


@pytest.fixture
def pg_store(pg_url: str) -> Iterator[Store]:
    store = Store(pg_url, timeout=TIMEOUT)
    yield store
    store.dispose()


@pytest.mark.parametrize("smtp", ["pg_store"], indirect=True)
def test_a_lock_held_elsewhere_is_answered_451(smtp: SMTPServerThread, pg_url: str) -> None:
    engine = sa.create_engine(pg_url, poolclass=sa.pool.NullPool)
    with engine.connect() as holder:
        holder.execute(sa.text("LOCK TABLE raw_input IN ACCESS EXCLUSIVE MODE"))
        code, text, seconds = _send(smtp.port, 1)
        holder.rollback()
    engine.dispose()
    assert code == 451 and text.startswith("4.3.0")
    assert TIMEOUT / 2 <= seconds < TIMEOUT + SLACK, seconds  # lock_timeout, not a failure at once


def test_a_statement_that_runs_too_long_is_cancelled(pg_store: Store) -> None:
    started = time.monotonic()
    with pytest.raises(StoreUnavailable), pg_store.transaction() as conn:
        conn.execute(sa.text("SELECT pg_sleep(60)"))
    assert time.monotonic() - started < TIMEOUT + SLACK
    pg_store.ping()  # the server cancelled it: the connection is still good


def test_migrations_have_no_statement_deadline(pg_url: str) -> None:
    store = Store(pg_url, timeout=0.5)
    upgrade(store)  # already at the head; the point is what the migration's connection allows
    from storage.db import UNTIMED

    with store.engine.execution_options(**{UNTIMED: True}).begin() as conn:
        conn.exec_driver_sql("SET LOCAL statement_timeout = 0")
        conn.execute(sa.text("SELECT pg_sleep(1.0)"))  # twice the budget, not cut
    store.dispose()


@pytest.fixture
def sqlite_store(sqlite_url: str) -> Iterator[Store]:
    store = Store(sqlite_url, timeout=TIMEOUT)
    yield store
    store.dispose()


@pytest.mark.parametrize("smtp", ["sqlite_store"], indirect=True)
def test_a_sqlite_writer_that_keeps_the_lock_is_answered_451(
    smtp: SMTPServerThread, sqlite_url: str
) -> None:
    holder = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        code, text, seconds = _send(smtp.port, 1)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert code == 451 and text.startswith("4.3.0")
    assert TIMEOUT / 2 <= seconds < TIMEOUT + SLACK, seconds
    assert _send(smtp.port, 2)[0] == 250


@pytest.mark.parametrize("umask", [0o022, 0o000])
def test_sqlite_files_are_readable_by_their_owner_only(tmp_path: Path, umask: int) -> None:
    before = os.umask(umask)
    try:
        path = tmp_path / "leadbot.db"
        store = Store(f"sqlite:///{path}")
        upgrade(store)
        with store.transaction() as conn:  # WAL: the -wal and -shm files exist while connected
            conn.execute(sa.text("SELECT count(*) FROM raw_input"))
            files = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
            modes = {f.name: stat.S_IMODE(f.stat().st_mode) for f in files}
        store.dispose()
    finally:
        os.umask(before)
    assert modes == {f.name: 0o600 for f in files}
