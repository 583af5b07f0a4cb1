"""PostgreSQL: a pooled connection is pinged at checkout only after sitting idle, and one that
died is replaced; a busy pool sends no SELECT 1 per transaction."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

import storage.db
from storage.db import Store
from storage.errors import StoreUnavailable


@pytest.fixture
def pg_store(pg_server_url: str, pg_session_db: tuple[str, str]) -> Iterator[Store]:
    from tests.conftest import _empty_pg_database

    url, name = pg_session_db
    _empty_pg_database(pg_server_url, url, name)
    store = Store(url, timeout=4.0)
    yield store
    store.dispose()


def _backend_pid(store: Store) -> int:
    with store.transaction() as conn:
        return int(conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())


def _kill(server_url: str, pid: int) -> None:
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        assert conn.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar()
    admin.dispose()


def _pings(store: Store) -> list[int]:
    seen: list[int] = []
    ping = store.engine.dialect.do_ping

    def counted(dbapi_conn: object) -> bool:
        seen.append(1)
        return bool(ping(dbapi_conn))

    store.engine.dialect.do_ping = counted  # type: ignore[method-assign]
    return seen


def test_an_idle_connection_that_died_is_replaced_at_checkout(
    pg_store: Store, pg_server_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _backend_pid(pg_store)
    _kill(pg_server_url, first)
    monkeypatch.setattr(storage.db, "PING_IDLE_S", 0.0)  # every connection counts as idle
    pings = _pings(pg_store)
    second = _backend_pid(pg_store)  # no StoreUnavailable: the ping found it dead
    assert second != first
    assert pings, "the idle connection was not pinged"


def test_a_busy_connection_is_not_pinged(pg_store: Store, pg_server_url: str) -> None:
    pid = _backend_pid(pg_store)
    pings = _pings(pg_store)
    for _ in range(5):
        assert _backend_pid(pg_store) == pid  # the same connection, handed out again
    assert pings == []
    # The price: a connection killed while busy fails the one call that meets it, and the
    # pool then replaces it.
    _kill(pg_server_url, pid)
    with pytest.raises(StoreUnavailable):
        _backend_pid(pg_store)
    assert _backend_pid(pg_store) != pid
