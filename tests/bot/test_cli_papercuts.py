"""The CLI's papercuts (issue 13): help text on every option, a lead not found says how to find it,
shell completion for bash and zsh."""

from __future__ import annotations

import argparse
import shutil
import subprocess
from pathlib import Path

import pytest

from bot.cli import build_parser, main
from storage.db import Store
from storage.models import Lead


def _undocumented(parser: argparse.ArgumentParser, path: str) -> list[str]:
    missing = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            for name, sub in action.choices.items():
                if not helps.get(name):
                    missing.append(f"{path} {name}")
                missing += _undocumented(sub, f"{path} {name}")
        elif not isinstance(action, argparse._HelpAction | argparse._VersionAction) and not (
            action.help
        ):
            missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")
    return missing


def test_every_command_and_option_has_help_text() -> None:
    assert _undocumented(build_parser(), "leadbot") == []


def test_a_lead_not_found_names_the_search_and_the_closest_leads(
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LEADBOT_DATABASE_URL", db_url)
    assert main(["db", "upgrade"]) == 0
    store = Store(db_url)
    with store.session() as s:
        s.add(Lead(email="dana@northwind.example", domain="northwind.example", name="Dana Whit"))
        s.add(Lead(email="omar@acme.example", domain="acme.example", name="Omar Haddad"))
    store.dispose()
    capsys.readouterr()
    assert main(["leads", "show", "dana"]) == 1
    err = capsys.readouterr().err
    assert "leadbot leads search dana" in err
    assert "closest:" in err and "dana@northwind.example" in err and "omar" not in err
    assert main(["leads", "show", "dana@northwnd.example"]) == 1  # a typo in the domain
    err = capsys.readouterr().err
    assert "dana@northwind.example" in err and "'dana@northwnd.example'" in err


@pytest.fixture
def script(capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    out = {}
    for shell in ("bash", "zsh"):
        assert main(["completion", shell]) == 0
        out[shell] = capsys.readouterr().out
    return out


def test_bash_completion_is_valid_and_completes_the_commands(
    script: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "leadbot.bash"
    path.write_text(script["bash"], encoding="utf-8")
    subprocess.run(["bash", "-n", str(path)], check=True)
    probe = (
        f"source {path}; "
        'COMP_WORDS=(leadbot le); COMP_CWORD=1; _shtab_leadbot; echo "${COMPREPLY[@]}"; '
        'COMP_WORDS=(leadbot leads ""); COMP_CWORD=2; _shtab_leadbot; echo "${COMPREPLY[@]}"; '
        'COMP_WORDS=(leadbot completion ""); COMP_CWORD=2; _shtab_leadbot; echo "${COMPREPLY[@]}"'
    )
    done = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == ["leads", "list show search export", "bash zsh"]


def test_zsh_completion_names_every_command(script: dict[str, str], tmp_path: Path) -> None:
    text = script["zsh"]
    assert text.startswith("#compdef leadbot")
    for command in ("serve", "ingest", "leads", "rescore", "import", "doctor", "completion"):
        assert command in text
    if shutil.which("zsh"):  # not installed here; checked where it is
        path = tmp_path / "_leadbot"
        path.write_text(text, encoding="utf-8")
        subprocess.run(["zsh", "-n", str(path)], check=True)
