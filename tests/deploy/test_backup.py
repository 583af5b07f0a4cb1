"""`leadbot db backup FILE` and the restores docs/operations.md describes, on SQLite (online
backup, with a writer at work) and on a real PostgreSQL (pg_dump, pg_restore)."""

from __future__ import annotations

import json
import shutil
import sqlite3
import stat
import subprocess
from email.message import EmailMessage
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.cli import main
from bot.cli_ops import pg_environment
from tests.conftest import _create_pg_database, _drop_pg_database


@pytest.fixture
def env(db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for key in ("LEADBOT_ENV_FILE", "LEADBOT_SCORING_RULES", "LEADBOT_FORMS_FILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("LEADBOT_DATABASE_URL", db_url)
    monkeypatch.setenv("LEADBOT_INBOX_DOMAINS", "leads.example.com")
    return db_url


def ingest(tmp_path: Path, n: int) -> None:
    msg = EmailMessage()
    msg["From"] = f"Jane Doe {n} <jane{n}@acme{n}.example>"
    msg["To"] = "sales@leads.example.com"
    msg["Subject"] = "Quote for 20 licences"
    msg["Message-ID"] = f"<backup-{n}@acme.example>"
    msg.set_content("Please send a quote for 20 licences.\n\nJane Doe\nCTO, Acme\n")
    path = tmp_path / f"m{n}.eml"
    path.write_bytes(bytes(msg))
    assert main(["ingest", str(path)]) == 0


def emails(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], url: str
) -> set[str]:
    monkeypatch.setenv("LEADBOT_DATABASE_URL", url)
    capsys.readouterr()
    assert main(["leads", "list", "--json"]) == 0
    return {lead["email"] for lead in json.loads(capsys.readouterr().out)}


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_sqlite_backup_runs_beside_a_writer_and_restores_by_copying(
    env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ingest(tmp_path, 1)
    database = Path(sa.engine.make_url(env).database or "")
    # A writer in the middle of a transaction, as `serve` may be: the backup neither waits for
    # it nor copies what it has not committed.
    writer = sqlite3.connect(database)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("CREATE TABLE not_committed (x)")
    backup = tmp_path / "backups" / "leadbot.db"
    backup.parent.mkdir()
    try:
        capsys.readouterr()
        assert main(["db", "backup", str(backup)]) == 0
        out = capsys.readouterr().out
    finally:
        writer.rollback()
        writer.close()
    assert f"to {backup}" in out and "integrity ok" in out
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600  # every lead's personal data
    assert sorted(p.name for p in backup.parent.iterdir()) == ["leadbot.db"]  # no -wal, no partial
    with sqlite3.connect(backup) as copy:
        assert copy.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        tables = {r[0] for r in copy.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "lead" in tables and "not_committed" not in tables

    # Restore (serve stopped): the backup file is the database.
    restored = tmp_path / "restored.db"
    shutil.copyfile(backup, restored)
    assert emails(monkeypatch, capsys, f"sqlite:///{restored}") == {"jane1@acme1.example"}

    # A second backup over the first replaces it whole.
    monkeypatch.setenv("LEADBOT_DATABASE_URL", env)
    ingest(tmp_path, 2)
    assert main(["db", "backup", str(backup)]) == 0
    assert emails(monkeypatch, capsys, f"sqlite:///{backup}") == {
        "jane1@acme1.example",
        "jane2@acme2.example",
    }


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_backup_never_migrates_nor_creates_the_database(
    env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    database = Path(sa.engine.make_url(env).database or "")
    with sqlite3.connect(database) as conn:  # as if never migrated: an upgrade would now fail
        conn.execute("DELETE FROM alembic_version")
    conn.close()
    assert main(["db", "backup", str(tmp_path / "b.db")]) == 0
    with sqlite3.connect(tmp_path / "b.db") as copy:
        assert copy.execute("SELECT count(*) FROM alembic_version").fetchone() == (0,)
    copy.close()

    monkeypatch.setenv("LEADBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'nowhere.db'}")
    capsys.readouterr()
    assert main(["db", "backup", str(tmp_path / "c.db")]) == 78
    assert "no database at" in capsys.readouterr().err
    assert not (tmp_path / "nowhere.db").exists() and not (tmp_path / "c.db").exists()
    monkeypatch.setenv("LEADBOT_DATABASE_URL", env)
    assert main(["db", "backup", str(tmp_path)]) == 65  # a folder, not a file


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
@pytest.mark.skipif(shutil.which("pg_dump") is None, reason="pg_dump is not installed")
def test_postgres_backup_is_a_pg_dump_that_pg_restore_brings_back(
    env: str,
    pg_server_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ingest(tmp_path, 1)
    backup = tmp_path / "leadbot.dump"
    capsys.readouterr()
    assert main(["db", "backup", str(backup)]) == 0
    assert "dumped to" in capsys.readouterr().out
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert backup.read_bytes()[:5] == b"PGDMP"  # pg_dump's custom format

    url, name = _create_pg_database(pg_server_url)  # as `createdb` would
    try:
        done = subprocess.run(
            ["pg_restore", "--no-owner", "--exit-on-error", f"--dbname={name}", str(backup)],
            env=pg_environment(sa.engine.make_url(url)),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert emails(monkeypatch, capsys, url) == {"jane1@acme1.example"}
    finally:
        _drop_pg_database(pg_server_url, name)


def test_a_postgres_password_travels_in_the_environment_not_in_argv() -> None:
    env = pg_environment(
        sa.engine.make_url("postgresql+psycopg://lb:s3cret@db.internal:6543/leads")
    )
    assert (env["PGHOST"], env["PGPORT"], env["PGUSER"], env["PGDATABASE"]) == (
        "db.internal",
        "6543",
        "lb",
        "leads",
    )
    assert env["PGPASSWORD"] == "s3cret"
