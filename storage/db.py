"""Engine and sessions; database errors become StoreUnavailable at this one boundary."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.engine import Engine
from sqlmodel import Session

from storage.errors import StoreUnavailable


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for `url`; SQLite gets WAL, foreign keys and a busy timeout for concurrent writers."""
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
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
            # concurrent writers queue on the busy timeout instead.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("connect_args", {"connect_timeout": 5})
    return sa.create_engine(url, **kwargs)


class Store:
    """The database: hands out sessions and turns connection failures into StoreUnavailable."""

    def __init__(self, url: str, *, engine: Engine | None = None) -> None:
        self.url = url
        self.engine = engine or make_engine(url)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def per_connection(self) -> bool:
        """An in-memory SQLite database: one per connection, so other threads (SQLAlchemy gives
        each its own) and processes cannot share it."""
        url = self.engine.url
        return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session committed on success, rolled back on error."""
        try:
            with Session(self.engine, expire_on_commit=False) as session:
                try:
                    yield session
                    session.commit()
                except BaseException:
                    session.rollback()
                    raise
        except (exc.OperationalError, exc.InterfaceError) as e:
            raise StoreUnavailable(f"database unavailable: {_short(e)}") from e

    def ping(self) -> None:
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except (exc.OperationalError, exc.InterfaceError) as e:
            raise StoreUnavailable(f"database unavailable: {_short(e)}") from e

    def dispose(self) -> None:
        self.engine.dispose()


def _short(e: Exception) -> str:
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
    stmt = _insert(session, table).values(**values).on_conflict_do_nothing(index_elements=conflict)
    row = session.execute(stmt.returning(table.c.id)).first()
    return None if row is None else int(row[0])


def insert_ignore_many(
    session: Any, table: sa.Table, rows: list[dict[str, Any]], conflict: str
) -> list[Any]:
    """insert_ignore for many rows: (id, conflict column) of the new ones, in few statements."""
    if not rows:  # an empty executemany would run once, inserting a row of defaults
        return []
    stmt = (
        _insert(session, table)
        .on_conflict_do_nothing(index_elements=[conflict])
        .returning(table.c.id, table.c[conflict])
    )
    # executemany with RETURNING: SQLAlchemy sends it as multi-row INSERTs ("insertmanyvalues")
    # from one cached compilation; .values([...]) would compile every batch afresh.
    return list(session.connection().execute(stmt, rows).all())


def _insert(session: Any, table: sa.Table) -> Any:
    """The dialect's INSERT (both have ON CONFLICT DO NOTHING)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    return insert(table)
