"""The `leadbot` command, run in-process through `main(argv)`: exit codes a mail server
understands and the documented JSON shape. The installed binary is tested in test_cli_binary.py."""

from __future__ import annotations

import io
import json
import socket
import sys
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

import pytest

from bot.cli import main

LEAD_KEYS = {
    "id",
    "email",
    "name",
    "company",
    "title",
    "phone",
    "status",
    "temperature",
    "score",
    "owner",
    "source",
    "forwarded_by",
    "created_at",
    "updated_at",
}


def message(
    sender: str = "Jane Doe <jane@acme-robotics.example>", msgid: str = "<c1@acme-robotics.example>"
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "leads@leads.example.com"
    msg["Subject"] = "Quote for 20 licences"
    msg["Message-ID"] = msgid
    msg.set_content(
        "Please send a quote for 20 licences and pricing.\n\nJane Doe\nCTO, Acme Robotics\n"
    )
    return bytes(msg)


@pytest.fixture
def env(db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)  # no stray .env or leadbot.db
    values = {"LEADBOT_DATABASE_URL": db_url, "LEADBOT_INTERNAL_DOMAINS": "ourco.example"}
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


@pytest.fixture
def stdin(monkeypatch: pytest.MonkeyPatch) -> Callable[[bytes], None]:
    """Feed what `leadbot ingest -` reads from `sys.stdin.buffer`, as a mail server's pipe does."""

    def feed(data: bytes) -> None:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))

    return feed


def test_ingest_from_stdin_then_list_and_show_json(
    env: dict[str, str], stdin: Callable[[bytes], None], capsys: pytest.CaptureFixture[str]
) -> None:
    stdin(message())
    assert main(["ingest", "-"]) == 0
    assert capsys.readouterr().out == "-: processed (lead #1)\n"
    assert main(["leads", "list", "--json"]) == 0
    leads = json.loads(capsys.readouterr().out)
    assert len(leads) == 1 and set(leads[0]) >= LEAD_KEYS
    assert leads[0]["email"] == "jane@acme-robotics.example"
    assert main(["leads", "show", "JANE@acme-robotics.example", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert set(shown) >= LEAD_KEYS
    assert shown["activities"][0]["kind"] == "email_inquiry"
    assert set(shown["activities"][0]) >= {"kind", "occurred_at", "actor", "detail"}
    assert shown["notes"] == []
    assert main(["leads", "search", "acme", "--json"]) == 0
    assert [x["email"] for x in json.loads(capsys.readouterr().out)] == [
        "jane@acme-robotics.example"
    ]


def test_ingest_files_and_the_same_file_twice(
    env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "m.eml"
    path.write_bytes(message())
    assert main(["ingest", str(path), str(path)]) == 0
    out = capsys.readouterr().out
    assert "processed" in out and "already stored" in out


def test_unusable_input_exits_65(env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "junk.txt"
    path.write_bytes(b"\x00\x01 not a message")
    assert main(["ingest", str(path)]) == 65
    assert main(["ingest", str(tmp_path / "missing.eml")]) == 65


def test_store_down_exits_75(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    stdin: Callable[[bytes], None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("LEADBOT_DATABASE_URL", f"postgresql+psycopg://postgres@127.0.0.1:{port}/x")
    stdin(message())
    assert main(["ingest", "-"]) == 75
    assert "temporary failure" in capsys.readouterr().err


def test_unknown_lead_is_a_clear_error(
    env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", "upgrade"]) == 0
    assert main(["leads", "show", "nobody@nowhere.example"]) == 1
    assert "no lead" in capsys.readouterr().err


def test_score_explain_adds_up(
    env: dict[str, str], stdin: Callable[[bytes], None], capsys: pytest.CaptureFixture[str]
) -> None:
    stdin(message())
    assert main(["ingest", "-"]) == 0
    capsys.readouterr()
    assert main(["score", "explain", "jane@acme-robotics.example", "--json"]) == 0
    explained = json.loads(capsys.readouterr().out)
    assert explained["email"] == "jane@acme-robotics.example"
    assert round(sum(r["points"] for r in explained["reasons"]), 2) == round(explained["score"], 2)


def test_reprocess_retries_what_was_kept_for_review(
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    stdin: Callable[[bytes], None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A rep's forward whose original sender is missing is kept; fixed configuration makes it a lead."""
    msg = EmailMessage()
    msg["From"] = "Rep One <rep@ourco.example>"
    msg["To"] = "leads@leads.example.com"
    msg["Subject"] = "Fwd: quote"
    msg["Message-ID"] = "<f1@ourco.example>"
    msg.set_content(
        "FYI\n\n---------- Forwarded message ---------\nSubject: quote\n\nPlease quote 20 seats.\n"
    )
    stdin(bytes(msg))
    assert main(["ingest", "-"]) == 0
    assert "review" in capsys.readouterr().out
    assert main(["leads", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    monkeypatch.setenv("LEADBOT_INTERNAL_DOMAINS", "someone-else.example")
    assert main(["reprocess"]) == 0
    assert "retried 1" in capsys.readouterr().out
    assert main(["leads", "list", "--json"]) == 0
    assert [x["email"] for x in json.loads(capsys.readouterr().out)] == ["rep@ourco.example"]
