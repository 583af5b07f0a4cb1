"""`leadbot db backup FILE`: an online backup of the database while `serve` keeps running.

SQLite: the online backup API (Python's `Connection.backup`), so the copy is consistent even
with writers at work, then made a single self-contained file and checked. PostgreSQL: `pg_dump`
in its custom format (restore with `pg_restore`), the password passed in its environment,
never on a command line others can read. The backup never migrates the database first: it is
what to keep before an upgrade.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from bot.cli_handler import EX_OK
from bot.runtime import Runtime
from storage.errors import InputRejected, LeadBotError, StoreUnavailable

PG_DUMP_SECONDS = 3600  # a dump that has not finished within an hour is stuck, not slow


def cmd_db_backup(args: argparse.Namespace, rt: Runtime) -> int:
    url = make_url(rt.settings.database_url)
    target = Path(args.file).expanduser().resolve()
    if target.is_dir():
        raise InputRejected(f"db backup: {target} is a folder: name the file to write")
    if not target.parent.is_dir():
        raise InputRejected(f"db backup: no folder {target.parent}")
    started = time.monotonic()
    if url.get_backend_name() == "sqlite":
        what = backup_sqlite(url, target)
    elif url.get_backend_name() == "postgresql":
        what = backup_postgres(url, target)
    else:
        raise InputRejected(f"db backup: cannot back up a {url.get_backend_name()} database")
    size = target.stat().st_size
    print(f"{what} to {target}: {size / 1e6:.1f} MB in {time.monotonic() - started:.1f}s")
    return EX_OK


def _partial(target: Path) -> Path:
    """Where the backup is written first: the final name appears only once it is complete."""
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    # Created for the owner only: a backup holds every lead's personal data.
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    return partial


def backup_sqlite(url: URL, target: Path) -> str:
    name = url.database or ""
    if name in ("", ":memory:") or name.startswith("file::memory:"):
        raise InputRejected("db backup: an in-memory database has nothing to back up")
    source_path = Path(name).resolve()
    if source_path == target:
        raise InputRejected("db backup: FILE is the database itself")
    if not source_path.is_file():  # connecting would create an empty database
        raise InputRejected(f"db backup: no database at {source_path}")
    partial = _partial(target)
    try:
        # Read-only: the backup can never change the database it copies.
        source = sqlite3.connect(f"{source_path.as_uri()}?mode=ro", uri=True, timeout=30)
        dest = sqlite3.connect(partial)
        try:
            source.backup(dest)  # one step: WAL readers do not hold up `serve`'s writers
            pages = dest.execute("PRAGMA page_count").fetchone()[0]
            dest.execute("PRAGMA journal_mode=DELETE")  # one file, no -wal beside it
            check = dest.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            dest.close()
            source.close()
        if check != "ok":
            raise LeadBotError(f"db backup: the copy failed its integrity check: {check}")
        os.replace(partial, target)
    except sqlite3.OperationalError as e:
        raise StoreUnavailable(f"db backup: {e}") from e
    finally:
        partial.unlink(missing_ok=True)
    return f"SQLite database {source_path} ({pages} pages, integrity ok) copied"


def pg_environment(url: URL) -> dict[str, str]:
    """libpq's variables for this URL (the password among them, never in argv)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    values = {
        "PGHOST": url.host,
        "PGPORT": str(url.port) if url.port else None,
        "PGUSER": url.username,
        "PGPASSWORD": url.password if isinstance(url.password, str) else None,
        "PGDATABASE": url.database,
        "PGSSLMODE": url.query.get("sslmode"),
    }
    env.update({k: str(v) for k, v in values.items() if v})
    return env


def backup_postgres(url: URL, target: Path) -> str:
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        raise LeadBotError("db backup: pg_dump is not installed (Debian: postgresql-client)")
    partial = _partial(target)
    try:
        done = subprocess.run(  # noqa: S603 (a fixed argv, no shell; the URL is in env)
            [pg_dump, "--format=custom", "--no-password", f"--file={partial}"],
            env=pg_environment(url),
            capture_output=True,
            text=True,
            timeout=PG_DUMP_SECONDS,
        )
        if done.returncode != 0:
            problem = " ".join(done.stderr.split())[:500]
            if "connection" in problem or "could not translate host" in problem:
                raise StoreUnavailable(f"db backup: pg_dump: {problem}")
            raise LeadBotError(f"db backup: pg_dump: {problem}")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return f"PostgreSQL database {url.database} on {url.host or 'the local socket'} dumped"
