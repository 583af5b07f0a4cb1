"""Engine and sessions; database errors become StoreUnavailable at this one boundary."""

from __future__ import annotations

import json
import math
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Engine
from sqlmodel import Session

from storage.errors import StoreUnavailable, driver_unavailable
from storage.watchdog import WATCHDOG

READ_ONLY = "leadbot_read_only"  # execution option: a SQLite transaction that only reads
UNTIMED = "leadbot_untimed"  # execution option: no deadline (migrations may build big indexes)
STORE_TIMEOUT_S = 30.0  # LEADBOT_STORE_TIMEOUT_SECONDS: the longest a caller waits for the store
GRACE_S = 0.5  # the server's own timeouts come this much before the client-side cut
PING_IDLE_S = 1.0  # PostgreSQL: a connection back in the pool for longer is pinged on checkout
_USED = "leadbot_used"  # connection info: when it was last handed back (time.monotonic)
PRIVATE = 0o600  # a SQLite file holds every lead: its owner reads it, nobody else


def make_engine(url: str, *, timeout: float = STORE_TIMEOUT_S, **kwargs: Any) -> Engine:
    """An engine for `url` whose calls give up after about `timeout` seconds (StoreUnavailable).

    SQLite gets WAL, foreign keys, a busy timeout for concurrent writers and a file only its
    owner can read. PostgreSQL gets connect, statement and lock-wait timeouts, and a client-side
    deadline for a network that stalls (storage.watchdog).
    """
    if url.startswith("sqlite"):
        patience = min(2.0, timeout / 4)  # fine-grained polling first, then SQLite's busy wait
        busy_ms = max(1, int((max(timeout / 2, timeout - GRACE_S) - patience) * 1000))
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": busy_ms / 1000})
        engine = sa.create_engine(url, **kwargs)

        @event.listens_for(engine, "do_connect")
        def _private(*_args: Any) -> None:
            # At the first connection, not here: commands that only read never make a file.
            _create_private(url)

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
            dbapi = conn.connection.dbapi_connection
            if not _poll_write_lock(dbapi, patience=patience, busy_ms=busy_ms):
                conn.exec_driver_sql("BEGIN IMMEDIATE")  # still busy: the busy timeout

        return engine
    # PostgreSQL pings only connections that sat idle (_ping_idle); other servers on every checkout.
    idle_ping = url.startswith("postgresql") and "pool_pre_ping" not in kwargs
    kwargs.setdefault("pool_pre_ping", not idle_ping)
    # libpq counts whole seconds, at least 2: half the budget goes to connecting.
    kwargs.setdefault("connect_args", {"connect_timeout": max(2, math.ceil(timeout / 2))})
    if url.startswith("postgresql"):
        kwargs.setdefault("json_deserializer", read_json)
    engine = sa.create_engine(url, **kwargs)
    if engine.dialect.name == "postgresql":
        _guard(engine, timeout)
        if idle_ping:
            _ping_idle(engine)
    return engine


_DIGITS = bytes.maketrans(b"123456789", b"000000000")  # every digit a 0
_LONG_NUMBER = b"0" * 19  # 19 digits in a row: maybe an integer beyond 64 bits


def read_json(text: bytes | bytearray | memoryview | str) -> Any:
    """A JSON column's value as `json.loads` reads it, by orjson when that gives the same.

    psycopg hands the text over as bytes, and `json.loads` of bytes first guesses their encoding
    in Python: reading the history of a batch's leads spent about a tenth of an events batch's
    thread there. orjson reads an integer of 19 digits or more as a float and refuses what
    `json.loads` takes beyond the standard (NaN, an unpaired surrogate, a number out of a
    double's range): those, and any text with 19 digits in a row, go to `json.loads`.
    """
    raw = text.encode() if isinstance(text, str) else bytes(text)
    if _LONG_NUMBER not in raw.translate(_DIGITS):  # in C, a tenth of a regular expression's time
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
    return json.loads(raw)


def _ping_idle(engine: Engine) -> None:
    """The pool's pre-ping (SELECT 1 at checkout) only for a connection idle over PING_IDLE_S.

    A busy receiver checks a connection out for every batch: a ping each time is a round trip per
    transaction, while what kills a pooled connection (a server's or a proxy's idle timeout, a
    restart during a quiet spell) finds it idle. A connection that fails its ping is replaced
    (DisconnectionError: the pool connects anew, and a server that does not answer gives
    StoreUnavailable as before); a server restarted while the pool is busy fails the one batch
    that meets a dead connection, and SQLAlchemy then invalidates every older one in the pool.
    """

    @event.listens_for(engine, "connect")
    def _fresh(_dbapi_conn: Any, record: Any) -> None:
        record.info[_USED] = time.monotonic()

    @event.listens_for(engine, "checkin")
    def _back(_dbapi_conn: Any, record: Any) -> None:
        if record is not None:
            record.info[_USED] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get(_USED, 0.0) <= PING_IDLE_S:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)  # deadlined by _guard
        except Exception as e:
            raise exc.DisconnectionError(f"pooled connection failed its ping: {e}") from e
        record.info[_USED] = time.monotonic()


def _guard(engine: Engine, timeout: float) -> None:
    """Server-side timeouts on each new connection, and the watchdog armed around every call
    that waits for the server (storage.watchdog)."""
    guard = timeout
    ping_guard = min(5.0, max(1.0, timeout / 4))  # a live server answers SELECT 1 in ms
    # The server's timeouts come first, so a live server answers with an error and keeps the
    # connection usable. SET rather than a startup `options` parameter: PgBouncer refuses those.
    ms = max(1, int(max(timeout / 2, timeout - GRACE_S) * 1000))

    @event.listens_for(engine, "connect")
    def _timeouts(dbapi_conn: Any, _record: Any) -> None:
        WATCHDOG.arm(dbapi_conn, guard)
        try:
            with dbapi_conn.cursor() as cur:
                cur.execute(f"SET statement_timeout = {ms}")
                cur.execute(f"SET lock_timeout = {ms}")
                # Timestamps come back in UTC as `datetime.timezone.utc` (psycopg's own object for
                # "UTC"; a server zone such as Etc/UTC gives a ZoneInfo that every value read is
                # converted from, storage.models.UTCDateTime). Nothing here depends on the
                # session's zone otherwise: every stored time is an instant, every difference too.
                cur.execute("SET TimeZone = 'UTC'")
            dbapi_conn.commit()
        finally:
            WATCHDOG.disarm(dbapi_conn)

    @event.listens_for(engine, "before_cursor_execute")
    def _arm(conn: Any, _cursor: Any, _stmt: Any, _params: Any, _ctx: Any, _many: Any) -> None:
        if not conn.get_execution_options().get(UNTIMED):
            WATCHDOG.arm(conn.connection.dbapi_connection, guard)

    @event.listens_for(engine, "after_cursor_execute")
    def _disarm(conn: Any, _cursor: Any, _stmt: Any, _params: Any, _ctx: Any, _many: Any) -> None:
        WATCHDOG.disarm(conn.connection.dbapi_connection)

    @event.listens_for(engine, "handle_error")
    def _failed(ctx: Any) -> None:
        if ctx.connection is not None and not ctx.connection.closed:
            WATCHDOG.disarm(ctx.connection.connection.dbapi_connection)

    # Commits, rollbacks (also the pool's reset on return) and the checkout ping reach the
    # driver through the dialect, not through a cursor: wrapped on this engine's dialect.
    dialect = engine.dialect
    for name, seconds in (("do_commit", guard), ("do_rollback", guard), ("do_ping", ping_guard)):
        setattr(dialect, name, _deadlined(getattr(dialect, name), seconds))


def _deadlined(call: Callable[[Any], Any], seconds: float) -> Callable[[Any], Any]:
    def deadlined(connection: Any) -> Any:
        raw = getattr(connection, "dbapi_connection", connection)  # a pool's proxy or the driver's
        WATCHDOG.arm(raw, seconds)
        try:
            return call(connection)
        finally:
            WATCHDOG.disarm(raw)

    return deadlined


def _create_private(url: str) -> None:
    """Create the database file mode 0600 before SQLite does (with 0644 less the umask); SQLite
    gives its -wal and -shm files the database file's mode."""
    path = sa.engine.make_url(url).database
    if not path or path == ":memory:" or path.startswith("file:") or os.path.exists(path):
        return
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE)
    except FileExistsError:  # another process made it just now
        return
    except OSError:  # no such directory, read-only: SQLite reports it on connect
        return
    try:
        os.fchmod(fd, PRIVATE)  # the umask may have taken bits away; it cannot add any
    finally:
        os.close(fd)


def _poll_write_lock(dbapi_conn: Any, *, patience: float = 2.0, busy_ms: int = 30_000) -> bool:
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
        dbapi_conn.execute(f"PRAGMA busy_timeout={busy_ms}")


class Store:
    """The database: hands out sessions and turns connection failures into StoreUnavailable."""

    def __init__(
        self, url: str, *, engine: Engine | None = None, timeout: float = STORE_TIMEOUT_S
    ) -> None:
        self.url = url
        self.timeout = timeout  # seconds a call may wait before StoreUnavailable
        self.engine = engine or make_engine(url, timeout=timeout)
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


def among(
    dialect: str, column: sa.ColumnElement[Any], values: Iterable[Any], *, negate: bool = False
) -> sa.ColumnElement[bool]:
    """`column IN (values)` (`NOT IN` with `negate`), the way the hot reads of a batch ask it.

    On PostgreSQL `column = ANY(%(p)s)` with one array parameter: one statement text whatever
    the number of values, so SQLAlchemy renders nothing per execution (an IN list is expanded
    into one parameter per value at every call), and psycopg converts the text once and
    prepares it on the server once it repeats (an IN list's text changes with its length, and
    one of over 50 values is converted afresh each time); a batch's reads ask the server to plan
    it for the values (`plan_for_values`). SQLite: the IN list.
    """
    items = list(values)
    if dialect == "postgresql":
        array = sa.bindparam(None, items, type_=postgresql.ARRAY(column.type))
        return column != sa.all_(array) if negate else column == sa.any_(array)
    return column.not_in(items) if negate else column.in_(items)


def plan_for_values(conn: sa.Connection) -> None:
    """On PostgreSQL, the rest of this transaction's statements planned for their values
    (`SET LOCAL plan_cache_mode = force_custom_plan`), for a batch's reads by `among`.

    psycopg prepares a statement once it repeats; after five executions the server may keep a
    generic plan of `column = ANY($1)`, made for an array of unknown length on the table as it
    was then, and it stays with the connection until the table is analysed again. One made
    while `activity` was nearly empty (a new database; autovacuum off or not there yet) is a
    sequential scan of every activity for each batch as the table grows. The search and the
    other reads keep the server's choice.
    """
    if conn.dialect.name != "postgresql":
        return
    # A savepoint rolled back undoes the setting: it is remembered per innermost transaction.
    transaction = conn.get_nested_transaction() or conn.get_transaction()
    if transaction is not None and conn.info.get(_PLANNED) is transaction:
        return  # set once in this transaction already (the events' anonymous read, then the batch)
    conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_custom_plan")
    conn.info[_PLANNED] = transaction


_PLANNED = "leadbot.plan_for_values"  # the transaction the setting was made in (Connection.info)


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


def insert_ignore_quiet(
    session: Any, table: sa.Table, rows: list[dict[str, Any]], conflict: str
) -> int:
    """insert_ignore_many without RETURNING, for rows whose ids nobody needs: how many were new.

    PostgreSQL: one statement for all the rows (`_rows_statement`); SQLite: the driver's
    executemany (sqlite3 loops in C); both give the number of rows inserted."""
    if not rows:
        return 0
    conn = session if isinstance(session, sa.Connection) else session.connection()
    one = _rows_statement(conn, table, rows, conflict=conflict)
    if one is not None:
        stmt, params = one
        result = conn.execute(stmt, params, execution_options={"preserve_rowcount": True})
        return int(result.rowcount)
    many = _insert(conn, table).on_conflict_do_nothing(index_elements=[conflict])
    done = conn.execute(many, rows, execution_options={"preserve_rowcount": True})
    return int(done.rowcount)


def insert_rows(session: Any, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """A plain INSERT of many rows (the same keys in each), sent as insert_ignore_quiet sends
    them."""
    if not rows:
        return
    conn = session if isinstance(session, sa.Connection) else session.connection()
    one = _rows_statement(conn, table, rows)
    if one is not None:
        conn.execute(*one)
    else:
        conn.execute(sa.insert(table), rows)


def update_rows(
    session: Any, table: sa.Table, rows: list[dict[str, Any]], names: tuple[str, ...]
) -> None:
    """`UPDATE table SET <names> WHERE id = …` for each row ({"id": …, name: value, …}):
    on PostgreSQL one `UPDATE … FROM` the rows (`_rows_statement`), in id order."""
    if not rows:
        return
    conn = session if isinstance(session, sa.Connection) else session.connection()
    ordered = sorted(rows, key=lambda row: row["id"])
    one = _rows_statement(conn, table, ordered, update=names)
    if one is not None:
        conn.execute(*one)
        return
    values = {name: sa.bindparam(f"b_{name}", type_=table.c[name].type) for name in names}
    each = sa.update(table).where(table.c.id == sa.bindparam("b_id")).values(values)
    conn.execute(each, [{f"b_{k}": v for k, v in row.items()} for row in ordered])


# PostgreSQL: rows from this many on go as one statement whose rows come from one JSON
# parameter (`json_to_recordset`) instead of the driver's executemany. psycopg pipelines an
# executemany, but still dumps, sends and reads back every row as a statement of its own (about
# a third of an events batch's thread time went there, for its 80 rows); the JSON text is made
# in C, and the statement's text depends only on the table and the columns, so the server
# prepares it once. Arrays per column (`unnest`) would do as much, but psycopg escapes each
# element of a text array in Python.
ROWS_FROM = 2
_ROWS: dict[tuple[Any, ...], tuple[Any, list[tuple[str, Callable[[Any], Any]]]]] = {}


def _rows_statement(
    conn: sa.Connection,
    table: sa.Table,
    rows: list[dict[str, Any]],
    *,
    conflict: str | None = None,
    update: tuple[str, ...] | None = None,
) -> tuple[Any, dict[str, str]] | None:
    """The one statement that writes `rows` (an INSERT, ON CONFLICT (conflict) DO NOTHING, or
    with `update` an UPDATE of those columns by id) and its parameter; None for the
    executemany: not PostgreSQL, too few rows, rows of different keys, a default that is not
    a value or a function, or a value JSON cannot carry as it is."""
    if conn.dialect.name != "postgresql" or len(rows) < ROWS_FROM:
        return None
    names = ("id", *update) if update is not None else tuple(rows[0])
    if any(len(row) != len(rows[0]) or any(n not in row for n in names) for row in rows):
        return None
    defaults: list[tuple[str, Any]] = []
    if update is None:
        for column in table.c:
            if column.name in names or column.default is None:
                continue
            default = column.default
            if not isinstance(default, sa.ColumnDefault) or not (
                default.is_scalar or default.is_callable
            ):
                return None
            defaults.append((column.name, default))
    columns = (*names, *(name for name, _ in defaults))
    key = (table.name, columns, conflict, update is not None)
    built = _ROWS.get(key)
    if built is None:
        built = _ROWS[key] = _build_rows_statement(conn, table, columns, conflict, update)
    stmt, converters = built
    out: list[dict[str, Any]] = []
    for row in rows:
        values = dict(row)
        for name, default in defaults:  # per row, as an executemany fills them in
            values[name] = default.arg(None) if default.is_callable else default.arg
        for name, convert in converters:
            values[name] = convert(values[name])
        out.append(values)
    try:
        return stmt, {"rows": json.dumps(out, allow_nan=False)}
    except (TypeError, ValueError):  # a value of a type JSON has not, or not a number
        return None


def _build_rows_statement(
    conn: sa.Connection,
    table: sa.Table,
    columns: tuple[str, ...],
    conflict: str | None,
    update: tuple[str, ...] | None,
) -> tuple[Any, list[tuple[str, Callable[[Any], Any]]]]:
    dialect = conn.dialect
    quote = dialect.identifier_preparer.quote
    converters: list[tuple[str, Callable[[Any], Any]]] = []
    defined: list[str] = []
    picked: dict[str, str] = {}
    for name in columns:
        column = table.c[name]
        if isinstance(column.type, sa.JSON):
            # As JSON text, cast back: None stays JSON null, as SQLAlchemy's JSON type sends it.
            defined.append(f"{quote(name)} text")
            picked[name] = f"CAST(u.{quote(name)} AS json)"
            converters.append((name, json.dumps))
            continue
        defined.append(f"{quote(name)} {column.type.compile(dialect=dialect)}")
        picked[name] = f"u.{quote(name)}"
        process = column.type._cached_bind_processor(dialect)  # UTCDateTime's, for one
        if isinstance(column.type, sa.DateTime) or isinstance(
            getattr(column.type, "impl", None), sa.DateTime
        ):
            converters.append((name, _timestamp(process)))
        elif process is not None:
            converters.append((name, process))
    target = dialect.identifier_preparer.format_table(table)
    source = (
        f"ROWS FROM (json_to_recordset(CAST(:rows AS json)) AS ({', '.join(defined)})) "
        f"WITH ORDINALITY AS u({', '.join(quote(n) for n in columns)}, ordinality)"
    )
    if update is not None:
        sets = ", ".join(f"{quote(n)} = {picked[n]}" for n in update)
        sql = f"UPDATE {target} SET {sets} FROM {source} WHERE {target}.id = u.id"
    else:
        sql = (
            f"INSERT INTO {target} ({', '.join(quote(n) for n in columns)}) "
            f"SELECT {', '.join(picked[n] for n in columns)} FROM {source} ORDER BY u.ordinality"
        )
        if conflict is not None:
            sql += f" ON CONFLICT ({quote(conflict)}) DO NOTHING"
    return sa.text(sql), converters


def _timestamp(process: Callable[[Any], Any] | None) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        if process is not None:
            value = process(value)
        return None if value is None else value.isoformat()

    return convert


def _insert(conn: sa.Connection, table: sa.Table) -> Any:
    """The dialect's INSERT (both have ON CONFLICT DO NOTHING)."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    return insert(table)
