"""`leadbot review`: inputs that need a person (a forward without a findable original sender, an
input that failed), shown, resolved into a lead or dismissed, through `main(argv)` on both
backends."""

from __future__ import annotations

import json
from email.message import EmailMessage
from pathlib import Path

import pytest

from bot.cli import EX_DATAERR, EX_OK, main


@pytest.fixture
def env(db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.chdir(tmp_path)  # no stray .env or leadbot.db
    monkeypatch.setenv("LEADBOT_DATABASE_URL", db_url)
    monkeypatch.setenv("LEADBOT_INTERNAL_DOMAINS", "ourco.example")
    return tmp_path


def ingest(env: Path, name: str, *, sender: str | None, subject: str, body: str) -> None:
    msg = EmailMessage()
    if sender is not None:
        msg["From"] = sender
    msg["To"] = "leads@leads.example.com"
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{name}@ourco.example>"
    msg.set_content(body)
    path = env / f"{name}.eml"
    path.write_bytes(bytes(msg))
    assert main(["ingest", str(path)]) == EX_OK


# A rep forwards without the original's headers: nobody can tell who wrote it.
LOST = "Fwd: pricing for 40 seats"
LOST_BODY = "Can you call this one back?\n\nWe need pricing for 40 seats and a demo next week.\n"


def listed(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    capsys.readouterr()
    assert main(["review", "list", "--json"]) == EX_OK
    rows: list[dict[str, object]] = json.loads(capsys.readouterr().out)
    return rows


def test_a_forward_without_its_sender_is_resolved_into_the_lead(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ingest(env, "lost", sender="Rita Rep <rita@ourco.example>", subject=LOST, body=LOST_BODY)
    [row] = listed(capsys)
    assert row["status"] == "review" and row["subject"] == LOST
    assert "no findable original sender" in str(row["reason"])

    assert main(["review", "show", str(row["id"])]) == EX_OK
    shown = capsys.readouterr().out
    assert LOST in shown and "40 seats" in shown

    code = main(
        ["review", "resolve", str(row["id"]), "--email", "Jane@Acme.example", "--name", "Jane Doe"]
    )
    assert code == EX_OK
    assert "-> lead #" in capsys.readouterr().out
    assert main(["leads", "show", "jane@acme.example", "--json"]) == EX_OK
    lead = json.loads(capsys.readouterr().out)
    assert lead["name"] == "Jane Doe" and lead["forwarded_by"] == "rita@ourco.example"
    assert lead["score"] > 0  # scored like any other inquiry
    assert listed(capsys) == []


def test_a_no_reply_notice_waits_for_a_person_and_is_no_lead(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A no-reply sender naming no one to answer would be a lead nobody can write to."""
    body = "Order 456123 paid by Maurits de Vries (PAYID 951597484).\nAmount: EUR 120.00\n"
    ingest(env, "paid", sender="Ogone <noreply@ogone.example>", subject="New order", body=body)
    [row] = listed(capsys)
    assert row["status"] == "review" and "no-reply address" in str(row["reason"])
    assert main(["leads", "list", "--json"]) == EX_OK
    assert json.loads(capsys.readouterr().out) == []

    code = main(["review", "resolve", str(row["id"]), "--email", "maurits@devries.example"])
    assert code == EX_OK
    assert "-> lead #" in capsys.readouterr().out
    assert main(["leads", "show", "maurits@devries.example", "--json"]) == EX_OK
    assert json.loads(capsys.readouterr().out)["forwarded_by"] == "noreply@ogone.example"


def test_a_failed_input_is_listed_and_can_be_resolved(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ingest(
        env, "nofrom", sender=None, subject="Quote please", body="A quote for 5 units, please.\n"
    )
    [row] = listed(capsys)
    assert row["status"] == "failed"
    assert main(["review", "resolve", str(row["id"]), "--email", "sam@shop.example"]) == EX_OK
    capsys.readouterr()
    assert main(["leads", "show", "sam@shop.example", "--json"]) == EX_OK
    activities = json.loads(capsys.readouterr().out)["activities"]
    assert {"email_inquiry"} <= {a["kind"] for a in activities}
    assert "Quote please" in {a["detail"] for a in activities}


def test_dismiss_archives_with_the_reason(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ingest(env, "lost2", sender="Rita Rep <rita@ourco.example>", subject=LOST, body=LOST_BODY)
    [row] = listed(capsys)
    assert (
        main(["review", "dismiss", str(row["id"]), "--reason", "a supplier, not a lead"]) == EX_OK
    )
    assert listed(capsys) == []
    assert main(["review", "dismiss", str(row["id"]), "--reason", "again"]) == EX_DATAERR


def test_what_resolve_refuses_changes_nothing(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ingest(env, "lost3", sender="Rita Rep <rita@ourco.example>", subject=LOST, body=LOST_BODY)
    [row] = listed(capsys)
    assert main(["review", "resolve", str(row["id"]), "--email", "not an address"]) == EX_DATAERR
    assert main(["review", "resolve", "99999", "--email", "jane@acme.example"]) == EX_DATAERR
    assert [r["status"] for r in listed(capsys)] == ["review"]


def test_show_never_prints_control_characters(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = "Hello\x1b[2J\x1b]0;owned\x07 there\n"
    ingest(env, "esc", sender="Rita Rep <rita@ourco.example>", subject=LOST, body=body)
    [row] = listed(capsys)
    assert main(["review", "show", str(row["id"])]) == EX_OK
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "Hello" in out
