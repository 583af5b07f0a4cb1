"""What `leadbot ingest` loads: a mail server runs it once per message, so each heavy library it
does not use is paid by every inquiry (issue 13). Checked in a fresh interpreter."""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

from bot.cli import build_parser
from bot.cli_handler import AS_IT_IS, READS_ONLY, Handler
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


HELP_PROBE = """
import contextlib, io, json, sys
from bot.entry import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    try:
        main(sys.argv[1:])
    except SystemExit as e:
        code = e.code
print(json.dumps({"code": code, "out": out.getvalue(),
                  "loaded": sorted(m for m in sys.modules if "." not in m)}))
"""
# What a command costs; parsing needs none of it.
COMMAND_PARTS = ("sqlalchemy", "pydantic", "pydantic_settings", "sqlmodel", "email_validator")


def test_help_and_usage_errors_load_no_command(tmp_path: Path) -> None:
    for argv, code, shown in (
        (["--help"], 0, "Inquiries in, scored leads out"),
        (["leads", "list", "--help"], 0, "--temperature"),
        (["stats", "--by", "nothing"], 2, ""),
    ):
        done = subprocess.run(
            [sys.executable, "-c", HELP_PROBE, *argv],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env={"PATH": "/usr/bin:/bin"},
            timeout=60,
            check=True,
        )
        result = json.loads(done.stdout.strip().splitlines()[-1])
        assert result["code"] == code, (argv, done.stderr)
        assert shown in result["out"]
        assert sorted(set(result["loaded"]).intersection(COMMAND_PARTS + HEAVY)) == []


def _handlers(parser: argparse.ArgumentParser) -> list[Handler]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found += _handlers(sub)
    func = parser.get_default("func")
    return found + ([func] if func is not None else [])


def test_every_command_names_a_function_that_exists() -> None:
    """The parser names each command's function as text: a typo would only show when it runs."""
    handlers = _handlers(build_parser())
    assert len(handlers) >= 30
    for handler in handlers:
        function = getattr(importlib.import_module(handler.module), handler.name, None)
        assert callable(function), handler
    names = {h.name for h in handlers}
    assert names >= READS_ONLY and names >= AS_IT_IS


def test_the_parser_mirrors_what_the_commands_use() -> None:
    import bot.cli as cli
    from storage.imports import CHUNK
    from storage.models import LeadStatus
    from storage.stats import BY

    assert cli.BY == BY
    assert cli.CHUNK == CHUNK
    assert tuple(s.value for s in LeadStatus) == cli.STATUSES
