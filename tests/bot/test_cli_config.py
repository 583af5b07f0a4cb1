"""One configuration wherever a command runs (`--env-file`, `LEADBOT_ENV_FILE`), and the CLI's
papercuts: `--version`, a read-only command run where there is no database, `| head`, hints."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from bot.cli import main


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An install in tmp/srv with its env file, and a shell in tmp/somewhere-else."""
    for key in [k for k in os.environ if k.startswith("LEADBOT_") and "TEST" not in k]:
        monkeypatch.delenv(key)
    srv = tmp_path / "srv"
    srv.mkdir()
    (srv / "leadbot.env").write_text(
        "LEADBOT_DATABASE_URL=sqlite:///leadbot.db\nLEADBOT_INBOX_DOMAINS=leads.example.com\n"
    )
    cwd = tmp_path / "somewhere-else"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return srv


def test_env_file_finds_the_same_database_from_any_folder(
    elsewhere: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env = str(elsewhere / "leadbot.env")
    assert main(["--env-file", env, "db", "upgrade"]) == 0
    assert (elsewhere / "leadbot.db").exists()
    monkeypatch.setenv("LEADBOT_ENV_FILE", env)
    assert main(["db", "current"]) == 0
    assert "up to date" in capsys.readouterr().out
    assert not list(Path.cwd().iterdir())  # nothing made in the folder the command ran from


def test_a_read_only_command_without_a_database_says_so_instead_of_making_one(
    elsewhere: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["leads", "list"]) == 78
    assert "no database at" in capsys.readouterr().err
    assert not (Path.cwd() / "leadbot.db").exists()
    assert main(["--env-file", "missing.env", "leads", "list"]) == 78
    assert "--env-file: missing.env is not a readable file" in capsys.readouterr().err


def test_hints_and_refusals(
    elsewhere: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LEADBOT_ENV_FILE", str(elsewhere / "leadbot.env"))
    assert main(["db", "upgrade"]) == 0
    assert main(["leads", "show", "dana"]) == 1
    assert "leadbot leads search dana" in capsys.readouterr().err
    assert main(["rescore", "--batch", "0"]) == 64  # EX_USAGE, said in words
    assert "--batch must be at least 1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.startswith("leadbot ")


def test_a_closed_pipe_is_not_a_traceback(
    elsewhere: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`leadbot … | head`: head exits, the next write fails with EPIPE; the command just ends."""
    monkeypatch.setenv("LEADBOT_ENV_FILE", str(elsewhere / "leadbot.env"))
    assert main(["db", "upgrade"]) == 0
    read, write = os.pipe()
    os.close(read)
    with capsys.disabled(), open(write, "w") as closed:
        monkeypatch.setattr(sys, "stdout", closed)
        assert main(["db", "history"]) == 141


def test_a_command_says_when_it_made_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not silent: the first command on a new database says it made it; the next says nothing."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LEADBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'new.db'}")
    assert main(["reprocess"]) == 0
    assert "database created, at the newest schema" in capsys.readouterr().err
    assert main(["reprocess"]) == 0
    assert "database" not in capsys.readouterr().err
