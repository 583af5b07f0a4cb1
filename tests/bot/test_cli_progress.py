"""Long CLI work: a progress bar on a terminal, nothing on a pipe; imports score in chunks as they
go; `rescore --batch 0` is refused."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select as sql_select

from bot.cli import EX_USAGE, main
from storage.db import Store
from storage.models import Lead

LEADBOT = Path(sys.executable).with_name("leadbot")


def prospects(path: Path, n: int) -> Path:
    lines = ["email,name,title,converted"]
    lines += [f"p{i}@firm{i % 7}.example,P {i},{'CTO' if i % 3 else 'Intern'},," for i in range(n)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_rescore_batch_0_is_a_usage_error(
    sqlite_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LEADBOT_DATABASE_URL", sqlite_url)
    assert main(["rescore", "--batch", "0"]) == EX_USAGE
    out, err = capsys.readouterr()
    assert "--batch must be at least 1, not 0" in err and out == ""
    missing = tmp_path / "elsewhere.db"
    monkeypatch.setenv("LEADBOT_DATABASE_URL", f"sqlite:///{missing}")
    assert main(["rescore", "--batch", "0"]) == EX_USAGE
    assert not missing.exists()  # refused before a database is opened, or made


def test_import_in_chunks_scores_every_lead(
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LEADBOT_DATABASE_URL", db_url)
    data = prospects(tmp_path / "p.csv", 250)
    assert main(["import", str(data), "--chunk", "100"]) == 0
    out, err = capsys.readouterr()
    assert "250 row(s): 250 lead(s) created" in out
    assert "\x1b" not in err  # not a terminal: no bar
    store = Store(db_url)
    with store.session() as s:
        leads = list(s.scalars(sql_select(Lead)))
        assert len(leads) == 250
        assert all(lead.reasons for lead in leads)  # scored, not left for a later rescore
        by_title = {lead.title: lead.score for lead in leads}
    store.dispose()
    assert by_title["CTO"] > by_title["Intern"]


def run_on_a_terminal(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str]:
    """Run with stderr on a pseudo-terminal (stdout on a pipe): what a person at a shell sees."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=follower, env=env, cwd=cwd, stdin=subprocess.DEVNULL
    )
    os.close(follower)
    seen = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the child closed its end
            break
        if not chunk:
            break
        seen += chunk
    proc.wait(timeout=60)
    os.close(leader)
    assert proc.stdout is not None
    return proc.returncode, seen.decode("utf-8", "replace") + proc.stdout.read().decode()


@pytest.mark.skipif(not LEADBOT.exists(), reason="the leadbot script is installed in the venv")
def test_a_terminal_sees_the_bar_and_a_pipe_does_not(sqlite_url: str, tmp_path: Path) -> None:
    data = prospects(tmp_path / "p.csv", 1200)
    env = {**os.environ, "LEADBOT_DATABASE_URL": sqlite_url, "COLUMNS": "100"}
    code, shown = run_on_a_terminal(
        [str(LEADBOT), "import", str(data), "--chunk", "300"], env, tmp_path
    )
    assert code == 0, shown
    assert "importing p.csv" in shown and "1200 row(s): 1200 lead(s) created" in shown
    code, shown = run_on_a_terminal([str(LEADBOT), "rescore"], env, tmp_path)
    assert code == 0 and "rescoring" in shown and "rescored 1200 lead(s)" in shown
    piped = subprocess.run(
        [str(LEADBOT), "rescore"], capture_output=True, text=True, env=env, cwd=tmp_path, check=True
    )
    assert "\x1b" not in piped.stderr and "rescoring" not in piped.stderr
    assert piped.stdout.startswith("rescored 1200 lead(s)")
