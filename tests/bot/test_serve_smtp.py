"""`leadbot serve` with the SMTP settings for a network: STARTTLS required, a greeting name,
allowed clients and an LMTP port, as a real process with real smtplib clients."""

from __future__ import annotations

import os
import signal
import smtplib
import subprocess
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.bot.fake_slack import wait_until
from tests.bot.test_serve import leads
from tests.ingest.smtp_helpers import ENHANCED, Wire, make_certificate
from tests.serving import LEADBOT, free_port, start_serve

pytestmark = pytest.mark.skipif(not LEADBOT.exists(), reason="the leadbot script is in the venv")


def serve_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **extra: str) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "LEADBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'leadbot.db'}",
        "LEADBOT_INBOX_DOMAINS": "leads.example.com",
        "LEADBOT_INGEST_WORKERS": "1",
        "LEADBOT_RESCORE_INTERVAL_MINUTES": "0",
        **extra,
    }
    monkeypatch.chdir(tmp_path)  # the in-process `leads list` reads the same settings
    for key in list(os.environ):
        if key.startswith(("LEADBOT_", "SLACK_")):
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def message(n: int) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = f"Buyer {n} <buyer{n}@acme{n}.example>"
    msg["To"] = "sales@leads.example.com"
    msg["Subject"] = "Pricing for 40 seats"
    msg["Message-ID"] = f"<tls-{n}@acme.example>"
    msg.set_content("We need a quote for 40 seats and a demo next week.\n\nJo\nCTO\n")
    return msg


def test_serve_with_required_tls_allowed_clients_and_lmtp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    certificate = make_certificate(tmp_path)
    smtp_port, lmtp_port, http_port = free_port(), free_port(), free_port()
    env = serve_env(
        tmp_path,
        monkeypatch,
        LEADBOT_SMTP_TLS_CERT=str(certificate.cert),
        LEADBOT_SMTP_TLS_KEY=str(certificate.key),
        LEADBOT_SMTP_REQUIRE_TLS="true",
        LEADBOT_SMTP_HOSTNAME="mx.leads.example.com",
        LEADBOT_SMTP_ALLOWED_CLIENTS="127.0.0.1/32,::1",
        LEADBOT_LMTP_PORT=str(lmtp_port),
    )
    proc = start_serve(env, tmp_path, smtp_port=smtp_port, http_port=http_port)
    try:
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=30) as client:
            code, name = client.ehlo("client.example.org")
            assert name.splitlines()[0] == b"mx.leads.example.com"
            assert client.has_extn("starttls") and client.has_extn("enhancedstatuscodes")
            code, text = client.docmd("MAIL FROM:<a@example.org>")
            assert (code, text[:6]) == (530, b"5.7.0 ")
            client.starttls(context=certificate.trusting_client())
            assert client.send_message(message(1)) == {}
        with smtplib.LMTP("127.0.0.1", lmtp_port, timeout=30) as lmtp:
            assert lmtp.ehlo("postfix.example.org")[0] == 250  # LHLO
            lmtp.starttls(context=certificate.trusting_client())  # required on both listeners
            lmtp.ehlo("postfix.example.org")
            lmtp.mail("a@example.org")
            lmtp.rcpt("sales@leads.example.com")
            lmtp.rcpt("info@leads.example.com")
            first = lmtp.data(bytes(message(2)))
            second = lmtp.getreply()
            assert [first[0], second[0]] == [250, 250]
            assert ENHANCED.match(second[1].decode())
        outsider = Wire(smtp_port, source="127.0.0.2")
        assert outsider.reply()[0].startswith("554 5.7.1 mx.leads.example.com")
        assert outsider.closed()
        wait_until(lambda: len(leads(capsys)) == 2, timeout=60, interval=0.2)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert f"with STARTTLS, LMTP 127.0.0.1:{lmtp_port}" in out
    assert "Traceback" not in out


def test_serve_with_a_certificate_it_cannot_load_exits_78(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "cert.pem"
    bad.write_text("not a certificate\n")
    env = serve_env(tmp_path, monkeypatch, LEADBOT_SMTP_TLS_CERT=str(bad))
    done = subprocess.run(
        [str(LEADBOT), "serve", "--smtp-port", str(free_port()), "--http-port", str(free_port())],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 78, done.stderr
    assert "configuration error: LEADBOT_SMTP_TLS_CERT" in done.stderr
    assert "Traceback" not in done.stderr
