"""`leadbot serve` as an admin runs it: a real process, SMTP in, worker processes, a lead out."""

from __future__ import annotations

import json
import os
import signal
import smtplib
from email.message import EmailMessage
from pathlib import Path

import pytest

from bot.cli import main
from tests.bot.fake_slack import wait_until
from tests.serving import LEADBOT, free_port, start_serve


def leads(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    """`leadbot leads list --json`, in-process: a spawn per poll would cost a second each."""
    capsys.readouterr()
    assert main(["leads", "list", "--json"]) == 0
    found: list[dict[str, object]] = json.loads(capsys.readouterr().out)
    return found


@pytest.mark.skipif(not LEADBOT.exists(), reason="the leadbot script is installed in the venv")
def test_serve_takes_mail_parses_it_in_workers_and_stops_cleanly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    smtp_port, http_port = free_port(), free_port()
    env = {
        **os.environ,
        "LEADBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'leadbot.db'}",
        "LEADBOT_INBOX_DOMAINS": "leads.example.com",
        "LEADBOT_INGEST_WORKERS": "2",
        "LEADBOT_RESCORE_INTERVAL_MINUTES": "0",
        "SLACK_BOT_TOKEN": "",
        "SLACK_SIGNING_SECRET": "",
        "SLACK_APP_TOKEN": "",
        "LEADBOT_IMAP_URL": "",
    }
    env = {k: v for k, v in env.items() if v != ""}
    monkeypatch.chdir(tmp_path)  # the in-process `leads list` reads the same settings
    for key in os.environ.keys() - env.keys():
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    proc = start_serve(env, tmp_path, smtp_port=smtp_port, http_port=http_port)
    try:
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=30) as client:
            for n in range(6):
                msg = EmailMessage()
                msg["From"] = f"Buyer {n} <buyer{n}@acme{n}.example>"
                msg["To"] = "sales@leads.example.com"
                msg["Subject"] = "Pricing for 40 seats"
                msg["Message-ID"] = f"<serve-{n}@acme.example>"
                msg.set_content("We need a quote for 40 seats and a demo next week.\n\nJo\nCTO\n")
                assert client.send_message(msg) == {}
            with pytest.raises(smtplib.SMTPRecipientsRefused) as relay:  # never an open relay
                client.sendmail("a@b.example", ["x@elsewhere.example"], b"Subject: x\r\n\r\nx")
            assert relay.value.recipients["x@elsewhere.example"][0] == 550
        wait_until(lambda: len(leads(capsys)) == 6, timeout=60, interval=0.2)
        found = {str(lead["email"]) for lead in leads(capsys)}
        assert found == {f"buyer{n}@acme{n}.example" for n in range(6)}
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert "shutting down" in out and "Traceback" not in out
