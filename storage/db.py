"""Engine and sessions; database errors become StoreUnavailable at this one boundary."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.engine import Engine
from sqlmodel import Session

from storage.errors import StoreUnavailable, driver_unavailable

READ_ONLY = "leadbot_read_only"  # execution option: a SQLite transaction that only reads
BUSY_TIMEOUT_MS = 30_000  # SQLite: how long a statement waits for another connection's lock


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for `url`; SQLite gets WAL, foreign keys and a busy timeout for concurrent writers."""
    if url.startswith("sqlite"):
        kwargs.setdefault(
            "connect_args", {"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000}
        )
        engine = sa.create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy, not pysqlite, decide when transactions begin (pysqlite's own
            # handling breaks SAVEPOINT), and see _begin below.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            if ":memory:" not in url:
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            # A deferred transaction that reads, then writes after another connection committed,
            # fails at once with SQLITE_BUSY (no busy wait). Taking the write lock up front makes
            # concurrent writers queue instead.
            if conn.get_execution_options().get(READ_ONLY):
                conn.exec_driver_sql("BEGIN")  # a snapshot; the write lock is not needed
                return
            if not _poll_write_lock(conn.connection.dbapi_connection):
                conn.exec_driver_sql("BEGIN IMMEDIATE")  # still busy: the 30 s busy timeout

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("connect_args", {"connect_timeout": 5})
    return sa.create_engine(url, **kwargs)


def _poll_write_lock(dbapi_conn: Any, *, patience: float = 2.0) -> bool:
    """BEGIN IMMEDIATE, retried every 50 µs to 1 ms while another connection writes; False if the
    lock is still taken after `patience` seconds.

    SQLite's own busy handler sleeps 1, 2, 5, 10, 15 … ms between tries, so a writer that finds
    the lock taken for a moment (a worker recording a batch) loses 10 to 20 ms: for the receiver,
    whose commit gates each `250`, that is most of the time of a message. Polling at a fine grain
    takes the lock within a millisecond of its release.
    """
    dbapi_conn.execute("PRAGMA busy_timeout=0")
    try:
        delay, deadline = 50e-6, time.monotonic() + patience
        while True:
            try:
                dbapi_conn.execute("BEGIN IMMEDIATE")
                return True
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) and "busy" not in str(e):
                    raise
            if time.monotonic() > deadline:
                return False
            time.sleep(delay)
            delay = min(delay * 2, 1e-3)
    finally:
        dbapi_conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")


class Store:
    """The database: hands out sessions and turns connection failures into StoreUnavailable."""

    def __init__(self, url: str, *, engine: Engine | None = None) -> None:
        self.url = url
        self.engine = engine or make_engine(url)
        self._reader = self.engine.execution_options(**{READ_ONLY: True})

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def single_writer(self) -> bool:
        """One writer at a time for the whole database (SQLite): what a write transaction holds,
        every other writer waits for."""
        return self.dialect == "sqlite"

    @property
    def per_connection(self) -> bool:
        """An in-memory SQLite database: one per connection, so other threads (SQLAlchemy gives
        each its own) and processes cannot share it."""
        url = self.engine.url
        return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session committed on success, rolled back on error."""
        with _unavailable(), Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session that only reads: on SQLite it does not take the write lock (which every other
        transaction takes at BEGIN), so it never waits for a writer nor makes one wait."""
        with _unavailable(), Session(self._reader) as session:
            yield session

    @contextmanager
    def transaction(self) -> Iterator[sa.Connection]:
        """A Core connection in a transaction, committed on success: for hot paths that need no
        ORM (a Session costs more than the INSERT that commits an accepted message)."""
        with _unavailable(), self.engine.begin() as conn:
            yield conn

    def ping(self) -> None:
        with _unavailable(), self.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()


@contextmanager
def _unavailable() -> Iterator[None]:
    """Connection failures (no server, a lock never released) become StoreUnavailable."""
    # The drivers own errors too: the raw-cursor fast paths (storage.raw, storage.rescore) see them.
    caught: tuple[type[BaseException], ...] = (
        exc.OperationalError,
        exc.InterfaceError,
        *driver_unavailable(),
    )
    try:
        yield
    except caught as e:
        raise StoreUnavailable(f"database unavailable: {_short(e)}") from e


def _short(e: BaseException) -> str:
    orig = getattr(e, "orig", None)
    return (
        str(orig or e).strip().splitlines()[0][:200] if str(orig or e).strip() else type(e).__name__
    )


def table(model: type[Any]) -> sa.Table:
    """The Core table of a SQLModel class (typed, for Core statements)."""
    result: sa.Table = model.__table__
    return result


def insert_ignore(
    session: Any, table: sa.Table, values: dict[str, Any], *, conflict: list[str]
) -> int | None:
    """INSERT … ON CONFLICT DO NOTHING RETURNING id: the new row's id, or None when it existed.

    One statement instead of SELECT + SAVEPOINT + INSERT, and race-free on both backends.
    """
    stmt = (
        _insert(session.connection(), table)
        .values(**values)
        .on_conflict_do_nothing(index_elements=conflict)
    )
    row = session.execute(stmt.returning(table.c.id)).first()
    return None if row is None else int(row[0])


def insert_ignore_many(
    session: Any, table: sa.Table, rows: list[dict[str, Any]], conflict: str
) -> list[Any]:
    """insert_ignore for many rows: (id, conflict column) of the new ones, in few statements.

    `session` is an ORM Session or a Core Connection."""
    if not rows:  # an empty executemany would run once, inserting a row of defaults
        return []
    conn = session if isinstance(session, sa.Connection) else session.connection()
    stmt = (
        _insert(conn, table)
        .on_conflict_do_nothing(index_elements=[conflict])
        .returning(table.c.id, table.c[conflict])
    )
    # executemany with RETURNING: SQLAlchemy sends it as multi-row INSERTs ("insertmanyvalues")
    # from one cached compilation; .values([...]) would compile every batch afresh.
    return list(conn.execute(stmt, rows).all())


def _insert(conn: sa.Connection, table: sa.Table) -> Any:
    """The dialect's INSERT (both have ON CONFLICT DO NOTHING)."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    return insert(table)
