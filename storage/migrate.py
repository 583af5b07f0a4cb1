"""Alembic, driven from code: `leadbot db upgrade` and `serve` start-up both call upgrade()."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import exc

from storage.db import UNTIMED, Store
from storage.errors import StoreUnavailable

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(store: Store) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", store.url.replace("%", "%%"))
    return cfg


def upgrade(store: Store, revision: str = "heads") -> None:
    """Bring the schema to the newest revision of every branch (features add their own branch)."""
    cfg = alembic_config(store)
    try:
        # No statement deadline: building an index over many rows may take longer than any
        # request should wait (lock waits keep theirs: a migration must not queue every writer).
        with store.engine.execution_options(**{UNTIMED: True}).begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("SET LOCAL statement_timeout = 0")
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    except (exc.OperationalError, exc.InterfaceError) as e:
        raise StoreUnavailable(f"database unavailable: {e.orig or e}") from e


def pending(store: Store) -> list[str]:
    """Head revisions the database has not reached yet (empty: fully migrated). Reads only."""
    script = ScriptDirectory.from_config(alembic_config(store))
    try:
        with store.engine.connect() as conn:
            current = set(MigrationContext.configure(conn).get_current_heads())
    except (exc.OperationalError, exc.InterfaceError) as e:
        raise StoreUnavailable(f"database unavailable: {e.orig or e}") from e
    reached = {r.revision for head in current for r in script.iterate_revisions(head, "base")}
    return sorted(set(script.get_heads()) - reached)


def current(store: Store) -> list[str]:
    """The revisions the database is at (one per branch)."""
    try:
        with store.engine.connect() as conn:
            return sorted(MigrationContext.configure(conn).get_current_heads())
    except (exc.OperationalError, exc.InterfaceError) as e:
        raise StoreUnavailable(f"database unavailable: {e.orig or e}") from e


def history(store: Store) -> list[str]:
    """Every migration, newest first: `revision (head) message`."""
    script = ScriptDirectory.from_config(alembic_config(store))
    heads = set(script.get_heads())
    return [
        f"{r.revision}{' (head)' if r.revision in heads else ''} {r.doc or ''}".rstrip()
        for r in script.walk_revisions()
    ]
