"""`leadbot ingest` as Postfix's pipe runs it, when the store cannot take the message.

Every storage or resource failure is 75 (EX_TEMPFAIL: the mail server keeps the message and tries
again), never 1 with a traceback that the mail server would bounce to the customer, and 65 stays
for input that can never be used. Each case runs the installed script in its own process.
"""

from __future__ import annotations

import os
import resource
import signal
import sqlite3
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

import pytest
import sqlalchemy as sa

from storage.db import Store
from storage.errors import StoreUnavailable

LEADBOT = Path(sys.executable).with_name("leadbot")

pytestmark = pytest.mark.skipif(
    not LEADBOT.exists(), reason="the leadbot script is installed in the venv"
)


def inquiry(n: int = 1) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Jane Doe <jane@acme-robotics.example>"
    msg["To"] = "leads@leads.example.com"
    msg["Subject"] = "Quote for 20 licences"
    msg["Message-ID"] = f"<exit{n}@acme-robotics.example>"
    msg.set_content("Please send a quote for 20 licences.\n\nJane Doe\nCTO, Acme Robotics\n" * 20)
    return msg.as_bytes()


def ingest(
    url: str, cwd: Path, *, stdin: bytes, file_limit: int | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    def limit() -> None:  # runs in the child before exec
        if file_limit is not None:
            # Ignored, SIGXFSZ leaves write() failing with EFBIG: a disk that is full for us.
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_limit, file_limit))

    done = subprocess.run(
        [str(LEADBOT), "ingest", "-"],
        input=stdin,
        capture_output=True,
        cwd=cwd,
        env={**os.environ, "LEADBOT_DATABASE_URL": url, **env},
        timeout=60,
        check=False,
        preexec_fn=limit,
    )
    return subprocess.CompletedProcess(
        done.args, done.returncode, done.stdout.decode(), done.stderr.decode()
    )


def assert_tempfail(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 75, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr
    assert "temporary failure" in done.stderr
    assert done.stdout == ""


def test_read_only_database_exits_75(sqlite_url: str, tmp_path: Path) -> None:
    # The tests run as root, who may write a 0444 file: SQLite's read-only mode is the same refusal.
    path = sqlite_url.removeprefix("sqlite:///")
    assert ingest(sqlite_url, tmp_path, stdin=inquiry(0)).returncode == 0  # migrated and at heads
    done = ingest(f"sqlite:///file:{path}?mode=ro&uri=true", tmp_path, stdin=inquiry(1))
    assert_tempfail(done)
    assert "readonly" in done.stderr


def test_full_disk_exits_75(sqlite_url: str, tmp_path: Path) -> None:
    path = Path(sqlite_url.removeprefix("sqlite:///"))
    assert ingest(sqlite_url, tmp_path, stdin=inquiry(0)).returncode == 0
    with sqlite3.connect(path) as conn:  # everything in the main file: the WAL starts empty
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    done = ingest(sqlite_url, tmp_path, stdin=inquiry(1), file_limit=4096)
    assert_tempfail(done)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM raw_input").fetchone() == (1,)


def test_no_database_directory_exits_75(tmp_path: Path) -> None:
    done = ingest(f"sqlite:///{tmp_path / 'gone' / 'leadbot.db'}", tmp_path, stdin=inquiry())
    assert_tempfail(done)


def test_configuration_error_keeps_the_message_queued(sqlite_url: str, tmp_path: Path) -> None:
    """78 would make Postfix bounce the inquiry (5.3.5); the admin fixes the setting instead."""
    done = subprocess.run(
        [str(LEADBOT), "ingest", "-"],
        input=inquiry(),
        capture_output=True,
        cwd=tmp_path,
        env={**os.environ, "LEADBOT_DATABASE_URL": sqlite_url, "LEADBOT_SMTP_PORT": "abc"},
        timeout=60,
        check=False,
    )
    assert done.returncode == 75, done.stderr
    assert b"LEADBOT_SMTP_PORT" in done.stderr and b"Traceback" not in done.stderr


def test_unusable_input_is_65_and_only_that(sqlite_url: str, tmp_path: Path) -> None:
    done = ingest(sqlite_url, tmp_path, stdin=b"\x00\x01 not a message")
    assert done.returncode == 65 and "Traceback" not in done.stderr


def test_a_raw_driver_error_becomes_store_unavailable(sqlite_url: str) -> None:
    """The raw-cursor fast paths (storage.raw, storage.rescore) raise sqlite3's own errors."""
    path = sqlite_url.removeprefix("sqlite:///")
    store = Store(f"sqlite:///file:{path}?mode=ro&uri=true")
    try:
        with pytest.raises(StoreUnavailable, match="readonly"), store.transaction() as conn:
            cur = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            cur.execute("CREATE TABLE t (x)")
    finally:
        store.dispose()


def test_a_locked_table_and_a_lock_timeout_exit_75(
    pg_session_db: tuple[str, str], tmp_path: Path
) -> None:
    """PostgreSQL: another transaction holds the table; the wait ends at lock_timeout, then 75."""
    url, _ = pg_session_db
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as holder, holder.begin():
            holder.exec_driver_sql("LOCK TABLE raw_input IN ACCESS EXCLUSIVE MODE")
            done = ingest(
                url, tmp_path, stdin=inquiry(7), LEADBOT_STORE_TIMEOUT_SECONDS="3"
            )  # the store's lock_timeout ends the wait, well inside the timeout
    finally:
        engine.dispose()
    assert_tempfail(done)
    assert "lock" in done.stderr or "statement timeout" in done.stderr
