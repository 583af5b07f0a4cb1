"""`leadbot outbox list` and `leadbot outbox retry`: what waits to go to Slack, and dead letters
sent again, through `main(argv)` on both backends."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.cli import EX_DATAERR, EX_OK, main
from bot.dispatcher import Dispatcher
from storage.db import Store
from storage.models import OutboxMessage

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def store(db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Store:
    monkeypatch.chdir(tmp_path)  # no stray .env or leadbot.db
    monkeypatch.setenv("LEADBOT_DATABASE_URL", db_url)
    return Store(db_url)


def add(store: Store, status: str, *, error: str | None = None, attempts: int = 3) -> int:
    with store.session() as session:
        row = OutboxMessage(
            kind="announce",
            payload={},
            status=status,
            attempts=attempts,
            last_error=error,
            next_attempt_at=NOW,
        )
        session.add(row)
        session.flush()
        assert row.id is not None
        return row.id


def rows(store: Store) -> dict[int, OutboxMessage]:
    with store.session() as session:
        found = list(session.scalars(select(OutboxMessage)))
        for m in found:
            session.expunge(m)
    return {m.id: m for m in found if m.id is not None}


def test_list_shows_pending_and_dead_and_escapes_the_error(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    add(store, "sent")
    pending = add(store, "pending")
    dead = add(store, "dead", error="channel_not_found\r\n\x1b[31mspoofed line", attempts=12)
    assert main(["outbox", "list"]) == EX_OK
    out = capsys.readouterr().out
    assert f"#{pending}" in out and f"#{dead}" in out and "sent" not in out
    assert "\x1b" not in out and "channel_not_found [31mspoofed line" in out
    assert len(out.strip().splitlines()) == 2  # one line each, the error's newline gone

    assert main(["outbox", "list", "--dead", "--json"]) == EX_OK
    [shown] = json.loads(capsys.readouterr().out)
    assert shown["id"] == dead and shown["status"] == "dead" and shown["attempts"] == 12


def test_list_says_when_nothing_waits(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["outbox", "list", "--dead"]) == EX_OK
    assert capsys.readouterr().out.strip() == "no dead letters"


def test_retry_dead_makes_every_dead_letter_due_again(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = add(store, "dead", attempts=12), add(store, "dead", attempts=12)
    sent = add(store, "sent")
    assert main(["outbox", "retry", "--dead"]) == EX_OK
    assert "2 message(s) due again" in capsys.readouterr().out
    after = rows(store)
    assert {after[i].status for i in (first, second)} == {"pending"}
    assert {after[i].attempts for i in (first, second)} == {0}
    assert after[sent].status == "sent"


def test_retry_by_id_and_what_it_refuses(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    dead, other = add(store, "dead", attempts=12), add(store, "dead", attempts=12)
    sent = add(store, "sent")
    assert main(["outbox", "retry", str(dead)]) == EX_OK
    after = rows(store)
    assert after[dead].status == "pending" and after[other].status == "dead"
    assert main(["outbox", "retry", str(sent)]) == EX_DATAERR  # it would post twice
    assert main(["outbox", "retry", "99999"]) == EX_DATAERR
    assert main(["outbox", "retry"]) == EX_DATAERR  # neither ids nor --dead
    err = capsys.readouterr().err
    assert "was sent already" in err and "no outbox message 99999" in err
    assert rows(store)[sent].status == "sent"


class _Recorder:
    def __init__(self) -> None:
        self.sent: list[int] = []

    def send(self, message: OutboxMessage) -> dict[str, object]:
        assert message.id is not None
        self.sent.append(message.id)
        return {"ok": True}


def test_a_retried_dead_letter_is_sent_by_the_dispatcher(store: Store) -> None:
    dead = add(store, "dead", attempts=12)
    sender = _Recorder()
    assert Dispatcher(store, sender).run_once() == 0  # dead letters are not sent
    assert main(["outbox", "retry", str(dead)]) == EX_OK
    assert Dispatcher(store, sender).run_once() == 1
    assert sender.sent == [dead] and rows(store)[dead].status == "sent"
