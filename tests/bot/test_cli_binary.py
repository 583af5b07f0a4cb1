"""The installed `leadbot` script as a mail server's pipe or an admin's shell runs it: exit codes only.

Each case here spawns a process (a second or more of imports), so behaviour is tested in-process through
`main(argv)` (test_cli.py, test_cli_scoring.py); these few check that the status
reaches the shell: 0, argparse's 2, and the sysexits.h codes a mail server acts on.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select

from storage.db import Store
from storage.models import Lead

LEADBOT = Path(sys.executable).with_name("leadbot")

pytestmark = pytest.mark.skipif(
    not LEADBOT.exists(), reason="the leadbot script is installed in the venv"
)


def leadbot(
    *args: str, cwd: Path, env: dict[str, str] | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LEADBOT), *args],
        input=stdin,
        capture_output=True,
        cwd=cwd,  # no stray .env or leadbot.db
        env={**os.environ, **(env or {})},
        timeout=60,
        check=False,
        text=True,
    )


def inquiry() -> str:
    msg = EmailMessage()
    msg["From"] = "Jane Doe <jane@acme-robotics.example>"
    msg["To"] = "leads@leads.example.com"
    msg["Subject"] = "Quote for 20 licences"
    msg["Message-ID"] = "<bin1@acme-robotics.example>"
    msg.set_content("Please send a quote for 20 licences.\n\nJane Doe\nCTO, Acme Robotics\n")
    return msg.as_string()


def test_help_exits_0(tmp_path: Path) -> None:
    done = leadbot("--help", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: leadbot")
    assert all(command in done.stdout for command in ("serve", "ingest", "leads", "rescore"))


def test_usage_error_exits_2(tmp_path: Path) -> None:
    done = leadbot("leads", "list", "--temperature", "tepid", cwd=tmp_path)
    assert done.returncode == 2
    assert "invalid choice: 'tepid'" in done.stderr and done.stdout == ""


def test_ingest_from_stdin_exits_0(sqlite_url: str, tmp_path: Path) -> None:
    done = leadbot(
        "ingest", "-", cwd=tmp_path, env={"LEADBOT_DATABASE_URL": sqlite_url}, stdin=inquiry()
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "-: processed (lead #1)\n"
    store = Store(sqlite_url)
    with store.session() as s:
        assert [lead.email for lead in s.scalars(select(Lead))] == ["jane@acme-robotics.example"]
    store.dispose()


def test_unusable_input_on_stdin_exits_65(sqlite_url: str, tmp_path: Path) -> None:
    """EX_DATAERR: the mail server bounces the message instead of retrying it forever."""
    env = {"LEADBOT_DATABASE_URL": sqlite_url}
    done = leadbot("ingest", "-", cwd=tmp_path, env=env, stdin="\x00\x01 not a message")
    assert done.returncode == 65
    assert "refused" in done.stderr


def test_store_down_exits_75(tmp_path: Path) -> None:
    """EX_TEMPFAIL: the mail server keeps the message and tries again later."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {"LEADBOT_DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:{port}/x"}
    done = leadbot("ingest", "-", cwd=tmp_path, env=env, stdin=inquiry())
    assert done.returncode == 75
    assert "temporary failure" in done.stderr


def test_broken_rules_make_serve_exit_78_instead_of_serving(
    sqlite_url: str, tmp_path: Path
) -> None:
    rules = tmp_path / "broken.toml"
    rules.write_text('[[rule]]\nname = "exec"\npoints = "many"\nreason = "x"\n', encoding="utf-8")
    env = {"LEADBOT_DATABASE_URL": sqlite_url, "LEADBOT_SCORING_RULES": str(rules)}
    done = leadbot("serve", "--smtp-port", "0", "--http-port", "0", cwd=tmp_path, env=env)
    assert done.returncode == 78, done.stderr
    assert f"{rules} line 3" in done.stderr
