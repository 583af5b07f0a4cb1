"""What `leadbot ingest` loads: a mail server runs it once per message, so each heavy library it
does not use is paid by every inquiry (issue 13). Checked in a fresh interpreter."""

from __future__ import annotations

import json
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

from storage.db import Store

# Loaded only by the commands that use them: serve, doctor, rescore, score train, Slack, sender
# verification, HTML bodies, migrations.
HEAVY = (
    "slack_sdk",
    "slack_bolt",
    "sklearn",
    "uvicorn",
    "starlette",
    "prometheus_client",
    "rich",
    "dns",
    "dkim",
    "spf",
    "alembic",
    "mako",
    "pygments",
    "bs4",
    "lxml",
)

PROBE = """
import io, json, sys
from bot.cli import main
sys.stdin = io.TextIOWrapper(io.BytesIO(sys.argv[1].encode()))
code = main(["ingest", "-"])
print(json.dumps({"code": code, "loaded": sorted(m for m in sys.modules if "." not in m)}))
"""


def inquiry(n: int) -> str:
    msg = EmailMessage()
    msg["From"] = "Jane Doe <jane@acme-robotics.example>"
    msg["To"] = "leads@leads.example.com"
    msg["Subject"] = "Quote for 20 licences"
    msg["Message-ID"] = f"<startup{n}@acme-robotics.example>"
    msg.set_content("Please send a quote for 20 licences.\n\nJane Doe\nCTO, Acme Robotics\n")
    return msg.as_string()


def probe(url: str, cwd: Path, n: int) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, inquiry(n)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={"LEADBOT_DATABASE_URL": url, "PATH": "/usr/bin:/bin"},
        timeout=60,
        check=True,
    )
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_ingest_loads_no_heavy_library(sqlite_url: str, tmp_path: Path) -> None:
    probe(sqlite_url, tmp_path, 0)  # the first run may migrate; the mail server's runs do not
    result = probe(sqlite_url, tmp_path, 1)
    assert result["code"] == 0
    loaded = set(result["loaded"])  # type: ignore[arg-type]
    assert "sqlalchemy" in loaded  # the probe sees what was imported
    assert sorted(loaded.intersection(HEAVY)) == []


def test_the_schema_check_agrees_with_alembic(sqlite_url: str, tmp_path: Path) -> None:
    """storage.schema reads the migration files without Alembic: the same heads, and a database
    that is behind (or new) is not taken for one at its heads."""
    from alembic.script import ScriptDirectory

    from storage.migrate import alembic_config
    from storage.schema import at_heads, heads

    store = Store(sqlite_url)
    try:
        script = ScriptDirectory.from_config(alembic_config(store))
        assert heads() == frozenset(script.get_heads())
        assert at_heads(store)  # the template is migrated
        with store.engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM alembic_version WHERE rowid = 1")
        assert not at_heads(store)
    finally:
        store.dispose()
    fresh = Store(f"sqlite:///{tmp_path / 'new.db'}")
    assert not at_heads(fresh)
    fresh.dispose()
