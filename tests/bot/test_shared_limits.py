"""Two real `leadbot serve` processes on one database hold one rate limit and refuse one replay."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests.bot.fake_slack import wait_until
from tests.conftest import _empty_pg_database
from tests.serving import free_port, healthy

LEADBOT = Path(sys.executable).with_name("leadbot")
MG_KEY = "mg-shared-signing-key"
FORMS = """
[forms.contact]
rate_per_minute = 0.5
burst = 2
"""
RAW = (
    b"From: Dana <dana@acme-robotics.example>\r\nTo: sales@leads.example.com\r\n"
    b"Subject: Pricing\r\nMessage-ID: <shared-limits@acme.example>\r\n\r\n"
    b"We would like a quote for 40 seats.\r\n"
)


def post(port: int, path: str, body: bytes, content_type: str) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=body,
        headers={"content-type": content_type, "accept": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return int(r.status)
    except urllib.error.HTTPError as e:
        return int(e.code)


def multipart(fields: dict[str, bytes]) -> tuple[bytes, str]:
    boundary = secrets.token_hex(12)
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        + value
        + b"\r\n"
        for name, value in fields.items()
    ]
    return b"".join(
        parts
    ) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


@pytest.mark.skipif(not LEADBOT.exists(), reason="the leadbot script is installed in the venv")
def test_a_rate_limit_and_a_replay_hold_across_two_serve_processes(
    pg_server_url: str, pg_session_db: tuple[str, str], tmp_path: Path
) -> None:
    """On PostgreSQL, where several serve processes are meant to run (SQLite's file takes the
    same statements: tests/ingest/test_intake_batches.py)."""
    db_url = pg_session_db[0]
    _empty_pg_database(pg_server_url, db_url, pg_session_db[1])
    forms = tmp_path / "forms.toml"
    forms.write_text(FORMS)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LEADBOT_", "SLACK_"))} | {
        "LEADBOT_DATABASE_URL": db_url,
        "LEADBOT_INBOX_DOMAINS": "leads.example.com",
        "LEADBOT_FORMS": str(forms),
        "LEADBOT_MAILGUN_SIGNING_KEY": MG_KEY,
        "LEADBOT_RESCORE_INTERVAL_MINUTES": "0",
    }
    ports = [free_port() for _ in range(2)]
    procs = [
        subprocess.Popen(
            [str(LEADBOT), "serve", "--smtp-port", str(free_port()), "--http-port", str(port)],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for port in ports
    ]
    a, b = ports
    try:
        for proc, port in zip(procs, ports, strict=True):
            wait_until(lambda: healthy(port) or proc.poll() is not None, timeout=90, interval=0.2)  # noqa: B023
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        form = "application/x-www-form-urlencoded"

        def submit(port: int, n: int) -> int:
            body = urlencode({"email": f"person{n}@acme{n}.example", "message": "Pricing?"})
            return post(port, "/forms/contact", body.encode(), form)

        # The burst of two is spent on A; B, which has seen nothing, refuses the third.
        assert [submit(a, 1), submit(a, 2)] == [201, 201]
        assert submit(b, 3) == 429
        assert submit(a, 4) == 429

        # A Mailgun post accepted by B is a replay when it reaches A (and B again).
        ts, token = str(int(time.time())), secrets.token_hex(25)
        signature = hmac.new(MG_KEY.encode(), (ts + token).encode(), hashlib.sha256).hexdigest()
        body, media = multipart(
            {
                "timestamp": ts.encode(),
                "token": token.encode(),
                "signature": signature.encode(),
                "body-mime": RAW,
            }
        )
        assert post(b, "/inbound/mailgun", body, media) == 200
        assert post(a, "/inbound/mailgun", body, media) == 403
        assert post(b, "/inbound/mailgun", body, media) == 403
    finally:
        outs = []
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            out, _ = proc.communicate(timeout=60)
            outs.append(out)
    for proc, out in zip(procs, outs, strict=True):
        assert proc.returncode == 0, out
        assert "Traceback" not in out, out
