"""`leadbot doctor`: one line per check, every problem naming the variable to set, exit 78 on a
problem; against the Web API stand-in and both backends. And settings errors name the variable."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli import main
from bot.doctor import SCOPES
from tests.bot.fake_slack import Failure, FakeSlack

EX_CONFIG = 78


@pytest.fixture
def env(
    db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[pytest.MonkeyPatch]:
    monkeypatch.chdir(tmp_path)
    for key in [k for k in os.environ if k.startswith(("LEADBOT_", "SLACK_"))]:
        if not key.startswith("LEADBOT_TEST_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("LEADBOT_DATABASE_URL", db_url)
    monkeypatch.setenv("LEADBOT_INBOX_DOMAINS", "leads.example.com")
    monkeypatch.setenv("LEADBOT_INTERNAL_DOMAINS", "ourco.example")
    for name, port in (("SMTP", _free_port()), ("HTTP", _free_port())):
        monkeypatch.setenv(f"LEADBOT_{name}_PORT", str(port))
    yield monkeypatch


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def slack(env: pytest.MonkeyPatch, fake: FakeSlack, **extra: str) -> None:
    values = {
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_SIGNING_SECRET": "s3cret",
        "LEADBOT_SLACK_API_URL": fake.url,
        "LEADBOT_HOT_CHANNEL": "CHOT",
        **extra,
    }
    for key, value in values.items():
        env.setenv(key, value)


def doctor(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, list[str]]]:
    code = main(["doctor", *args])
    lines: dict[str, list[str]] = {}
    for line in capsys.readouterr().out.splitlines()[:-1]:
        level, _, rest = line.partition("  ")
        lines.setdefault(level.strip(), []).append(rest.strip())
    return code, lines


def test_a_healthy_install_passes_every_check(
    env: pytest.MonkeyPatch, fake_slack: FakeSlack, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", "upgrade"]) == 0
    capsys.readouterr()
    fake_slack.scopes = ",".join(sorted(SCOPES))
    fake_slack.channels = {
        "CHOT": {"name": "hot-leads", "is_member": True},
        "CDE": {"name": "dach", "is_member": True},
    }
    slack(env, fake_slack, LEADBOT_SLACK_ROUTES="country:DE|AT=CDE")
    code, lines = doctor(capsys)
    assert code == 0, lines
    assert set(lines) == {"ok"}
    assert any(line.startswith("hot channel") and "#hot-leads" in line for line in lines["ok"])
    assert any(line.startswith("database") and "fully migrated" in line for line in lines["ok"])


def test_mistakes_are_named_with_what_to_set(
    env: pytest.MonkeyPatch, fake_slack: FakeSlack, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_slack.scopes = "chat:write,commands"
    fake_slack.channels = {"CPRIV": {"name": "secret", "is_private": True, "is_member": False}}
    slack(
        env, fake_slack, LEADBOT_SLACK_ROUTES="country:Germany=CPRIV", LEADBOT_HOT_CHANNEL="CNONE"
    )
    env.delenv("SLACK_SIGNING_SECRET")
    env.setenv("LEADBOT_HOT_CHANEL", "C1")
    code, lines = doctor(capsys)
    assert code == EX_CONFIG
    text = "\n".join(lines["FAIL"])
    assert "set SLACK_SIGNING_SECRET" in text
    assert "country:germany can never match" in text
    assert "CNONE: channel_not_found" in text
    assert "#secret is private and the app is not in it" in text
    warned = "\n".join(lines["warn"])
    assert (
        "LEADBOT_HOT_CHANEL is not a LeadBot setting: did you mean LEADBOT_HOT_CHANNEL?" in warned
    )
    assert "users:read.email" in warned


def test_a_wrong_token_fails_naming_the_variable(
    env: pytest.MonkeyPatch, fake_slack: FakeSlack, capsys: pytest.CaptureFixture[str]
) -> None:
    slack(env, fake_slack)
    fake_slack.fail("auth.test", Failure(status=200, error="invalid_auth"))
    code, lines = doctor(capsys)
    assert code == EX_CONFIG
    assert any("auth.test: invalid_auth: check SLACK_BOT_TOKEN" in line for line in lines["FAIL"])


def test_a_taken_port_and_a_missing_database_file(
    env: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere.db"
    env.setenv("LEADBOT_DATABASE_URL", f"sqlite:///{missing}")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        env.setenv("LEADBOT_SMTP_PORT", str(taken.getsockname()[1]))
        code, lines = doctor(capsys)
    assert code == EX_CONFIG
    assert any(
        line.startswith("smtp port") and "LEADBOT_SMTP_PORT" in line for line in lines["FAIL"]
    )
    assert any("does not exist yet" in line for line in lines["warn"])
    assert not missing.exists()  # the doctor looks, it does not create an empty database


def test_a_bad_value_names_the_variable_not_the_field(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env.setenv("LEADBOT_SMTP_PORT", "abc")
    assert main(["doctor"]) == EX_CONFIG
    assert "LEADBOT_SMTP_PORT='abc'" in capsys.readouterr().out
    assert main(["leads", "list"]) == EX_CONFIG
    err = capsys.readouterr().err
    assert "LEADBOT_SMTP_PORT='abc'" in err and "smtp_port" not in err
