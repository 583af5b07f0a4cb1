"""What a stranger wrote never drives the admin's terminal: every `leads`, `review` and `outbox`
line escapes ESC, BEL, backspace, the C1 controls and bidi overrides (bot.terminal)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from bot.cli import main
from bot.terminal import json_text, terminal
from storage.db import Store
from storage.models import Lead, Note, OutboxMessage, RawInput

HOSTILE = "Eve\x1b]0;pwned\x07\x08\x08\x9b31m\u202eexe.txt\u2028x"
RAW = "\x1b\x07\x08\x9b\u202e\u2028"  # none of these may reach the terminal as they are


@pytest.fixture
def store(db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Store:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LEADBOT_DATABASE_URL", db_url)
    store = Store(db_url)
    assert main(["db", "upgrade"]) == 0
    with store.session() as session:
        lead = Lead(
            email="eve@evil.example",
            domain="evil.example",
            name=HOSTILE,
            company=HOSTILE,
            owner="U1\x1b[2J",
            fields={"message\x1b[1A": HOSTILE},
        )
        session.add(lead)
        session.flush()
        assert lead.id is not None
        session.add(Note(lead_id=lead.id, author="U1", text=HOSTILE))
        content = f"From: x@evil.example\nSubject: {HOSTILE}\n\n{HOSTILE}\nsecond line\n".encode()
        session.add(
            RawInput(
                sha256=hashlib.sha256(content).hexdigest(),
                content=content,
                size=len(content),
                status="failed",
                reason=HOSTILE,
            )
        )
        session.add(OutboxMessage(kind="announce", payload={}, status="dead", last_error=HOSTILE))
    return store


def clean(out: str) -> str:
    assert not set(RAW) & set(out), ascii(out)
    return out


@pytest.mark.parametrize(
    "argv",
    [
        ["leads", "list"],
        ["leads", "show", "eve@evil.example"],
        ["leads", "search", "eve"],
        ["leads", "list", "--json"],
        ["leads", "show", "eve@evil.example", "--json"],
        ["review", "list"],
        ["review", "show", "1"],
        ["review", "list", "--json"],
        ["outbox", "list"],
    ],
)
def test_hostile_text_is_escaped(
    store: Store, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 0
    out = clean(capsys.readouterr().out)
    if "--json" in argv:
        data = json.loads(out)  # still JSON, and a lead's values come back as they were stored
        if argv[0] == "leads":
            assert (data[0] if isinstance(data, list) else data)["name"] == HOSTILE
    elif argv[0] == "leads":  # review and outbox rows are cleaned before: spaces instead
        assert "\\x1b" in out and "\\u202e" in out  # shown, so the admin sees it was there


def test_the_body_of_a_review_keeps_its_lines(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["review", "show", "1"]) == 0
    out = clean(capsys.readouterr().out)
    assert "\nsecond line" in out


def test_terminal_escapes_and_keeps() -> None:
    assert terminal("Zoë Müller 🙂") == "Zoë Müller 🙂"
    assert terminal("👩\u200d💻") == "👩\u200d💻"  # a joiner inside an emoji is not an attack
    assert terminal("a\x1b[31mb\x07") == "a\\x1b[31mb\\x07"
    assert terminal("a\nb\tc") == "a\\x0ab\\x09c"
    assert terminal("a\nb\tc", lines=True) == "a\nb\tc"
    assert terminal("\x9b\u202e\u2066\ud800") == "\\x9b\\u202e\\u2066\\ud800"
    assert json.loads(json_text({"k": "\x9b\u202ex\x1b"})) == {"k": "\x9b\u202ex\x1b"}
    assert "\u202e" not in json_text({"k": "\u202e"})
