"""The Postfix recipe of docs/operations.md (deploy/postfix/) in a real Postfix from Debian's
packages: mail sent to Postfix reaches LeadBot over LMTP, over SMTP and through the pipe
transport, and becomes a lead."""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import smtplib
import subprocess
import threading
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.cli import main
from bot.config import Settings
from storage.db import Store
from storage.models import Lead, RawInput
from tests.bot.fake_slack import wait_until
from tests.deploy.postfix import (
    RECIPE,
    Postfix,
    leadbot_for,
    missing,
    transport_line,
)
from tests.serving import LEADBOT, free_port, healthy

PIPE_USER = "nobody"  # stands in for the recipe's `leadbot` user: any user but root and postfix

needs_postfix = pytest.mark.skipif(missing() is not None, reason=missing() or "")


def clean_env() -> dict[str, str]:
    """This process's environment without LeadBot's or Slack's settings: the env file decides."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("LEADBOT_", "SLACK_"))}


def inquiry(n: int) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = f"Dana Whitfield {n} <dana{n}@northwind{n}.example>"
    msg["To"] = "sales@leads.example.com"
    msg["Subject"] = "Pricing for 40 seats"
    msg["Message-ID"] = f"<postfix-{n}@northwind.example>"
    msg.set_content("We need a quote for 40 seats and a demo next week.\n\nDana\nVP Sales\n")
    return msg


def send(postfix: Postfix, msg: EmailMessage) -> None:
    with smtplib.SMTP("127.0.0.1", postfix.port, timeout=30) as client:
        assert client.send_message(msg) == {}


def lead_emails(
    env_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> set[str]:
    """`leadbot --env-file F leads list --json`, in-process (a spawn per poll costs a second)."""
    for key in list(os.environ):
        if key.startswith(("LEADBOT_", "SLACK_")):
            monkeypatch.delenv(key)
    capsys.readouterr()
    assert main(["--env-file", str(env_file), "leads", "list", "--json"]) == 0
    return {str(lead["email"]) for lead in json.loads(capsys.readouterr().out)}


def processes() -> Iterator[tuple[str, list[str]]]:
    """(user, argv) of every process (/proc, as ps reads it)."""
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().decode(errors="replace").split("\0")[:-1]
            owner = pwd.getpwuid(proc.stat().st_uid).pw_name
        except (OSError, KeyError):
            continue  # gone meanwhile, or not a process
        yield owner, argv


def setting(text: str, name: str) -> str:
    m = re.search(rf"^{name}\s*=\s*(\S+)", text, re.M)
    assert m, f"no {name}"
    return m.group(1)


def test_the_size_limit_is_at_or_under_leadbots() -> None:
    limit = int(setting((RECIPE / "main.cf.snippet").read_text(), "message_size_limit"))
    ours = Settings.model_fields["max_message_bytes"].default
    assert 0.9 * ours < limit <= ours  # under, with room for Received: headers and CRLFs


@pytest.fixture
def workspace() -> Iterator[Path]:
    """A folder both Postfix's users and the pipe's user reach (pytest's tmp_path is 0700)."""
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="leadbot-deploy-"))
    root.chmod(0o755)
    (root / "db").mkdir()
    shutil.chown(root / "db", PIPE_USER)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def write_env_file(root: Path, **extra: str) -> Path:
    env_file = root / "leadbot.env"
    lines = {
        "LEADBOT_DATABASE_URL": f"sqlite:///{root / 'db' / 'leadbot.db'}",
        "LEADBOT_INBOX_DOMAINS": "leads.example.com",
        "LEADBOT_INGEST_WORKERS": "1",
        "LEADBOT_RESCORE_INTERVAL_MINUTES": "0",
        **extra,
    }
    env_file.write_text("".join(f"{k}={v}\n" for k, v in lines.items()))
    env_file.chmod(0o644)
    return env_file


def pipe_postfix(leadbot: Path, env_file: Path) -> Postfix:
    """The recipe's pipe transport, run as PIPE_USER with this venv's leadbot and env file."""
    return Postfix(
        transport=transport_line("leadbot:"),
        pipe={
            "/opt/leadbot/.venv/bin/leadbot": str(leadbot),
            "/etc/leadbot/leadbot.env": str(env_file),
            "user=leadbot": f"user={PIPE_USER}",
        },
    )


def ports(smtp: int, http: int) -> list[str]:
    return ["--smtp-port", str(smtp), "--http-port", str(http)]


@needs_postfix
def test_postfix_hands_mail_to_leadbot_serve_over_lmtp_and_over_smtp(
    workspace: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    smtp_port, lmtp_port, http_port = free_port(), free_port(), free_port()
    env_file = write_env_file(
        workspace,
        LEADBOT_LMTP_PORT=str(lmtp_port),
        LEADBOT_SMTP_ALLOWED_CLIENTS="127.0.0.1",  # only the local Postfix, as the recipe says
    )
    serve = subprocess.Popen(
        [str(LEADBOT), "--env-file", str(env_file), "serve", *ports(smtp_port, http_port)],
        env=clean_env(),
        cwd=workspace,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    # One Postfix per line of the recipe's transport file, both in front of the one `serve`.
    over = {
        lmtp_port: Postfix(transport=transport_line("lmtp"), ports={"2424": str(lmtp_port)}),
        smtp_port: Postfix(transport=transport_line("smtp"), ports={"2525": str(smtp_port)}),
    }
    try:
        for postfix in over.values():
            postfix.start(clean_env())
        postfix = over[lmtp_port]
        limit = int(postfix.setting("message_size_limit"))
        with smtplib.SMTP("127.0.0.1", postfix.port, timeout=30) as client:
            client.ehlo("client.example.org")
            assert client.esmtp_features["size"] == str(limit)
            # Postfix itself refuses what LeadBot would: the message never enters its queue.
            assert client.docmd(f"MAIL FROM:<a@example.org> SIZE={limit + 1}") == (
                552,
                b"5.3.4 Message size exceeds fixed limit",
            )
        wait_until(lambda: healthy(http_port) or serve.poll() is not None, timeout=60, interval=0.2)
        assert serve.poll() is None, serve.stdout.read() if serve.stdout else ""
        for n, postfix in enumerate(over.values()):
            send(postfix, inquiry(n))
        for port, postfix in over.items():
            (line,) = postfix.deliveries("sales@leads.example.com")
            assert f"relay=127.0.0.1[127.0.0.1]:{port}," in line, line
            assert "status=sent (250 2." in line, line  # LeadBot's answer, after its commit
        wait_until(
            lambda: (
                lead_emails(env_file, monkeypatch, capsys)
                == {"dana0@northwind0.example", "dana1@northwind1.example"}
            ),
            timeout=30,
            interval=0.3,
        )
    finally:
        for postfix in over.values():
            postfix.stop()
        serve.terminate()
        out, _ = serve.communicate(timeout=60)
    assert serve.returncode == 0, out
    assert "Traceback" not in out


@needs_postfix
def test_postfix_pipes_mail_into_leadbot_ingest_as_its_user_with_its_env_file(
    workspace: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env_file = write_env_file(workspace)
    leadbot = leadbot_for(PIPE_USER, workspace)
    if leadbot is None:
        pytest.skip(f"user {PIPE_USER} can run neither this venv's Python nor Debian's python3")
    postfix = pipe_postfix(leadbot, env_file)
    seen: list[tuple[int, set[str]]] = []  # (processes at once, their users)
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            users = [
                owner for owner, argv in processes() if argv[-3:] == [str(leadbot), "ingest", "-"]
            ]
            if users:
                seen.append((len(users), set(users)))
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    try:
        postfix.start(clean_env())  # nothing of LeadBot's in Postfix's environment either
        watcher.start()
        for n in range(3):
            send(postfix, inquiry(n))
        lines = postfix.deliveries("sales@leads.example.com", 3)
    finally:
        stop.set()
        postfix.stop()
    assert all(
        "relay=leadbot," in x and "status=sent (delivered via leadbot service" in x for x in lines
    ), lines
    assert seen, "no `leadbot ingest` process was seen"
    assert max(count for count, _ in seen) <= 2  # leadbot_destination_concurrency_limit, maxproc
    assert set().union(*(users for _, users in seen)) == {PIPE_USER}
    # The database of the env file, reached from Postfix's queue folder without a .env there.
    assert lead_emails(env_file, monkeypatch, capsys) == {
        f"dana{n}@northwind{n}.example" for n in range(3)
    }


@needs_postfix
def test_beside_a_running_serve_the_pipe_hands_each_message_to_it(workspace: Path) -> None:
    """The same pipe transport with a `serve` on the env file's database: each `leadbot ingest`
    hands its message to the serve's SMTP port (bot/handoff.py), which stores and reads it. The
    pipe's user never opens the database (the serve's own, mode 0600: it could not)."""
    smtp_port, http_port = free_port(), free_port()
    env_file = write_env_file(
        workspace, LEADBOT_SMTP_PORT=str(smtp_port), LEADBOT_HTTP_PORT=str(http_port)
    )
    leadbot = leadbot_for(PIPE_USER, workspace)
    if leadbot is None:
        pytest.skip(f"user {PIPE_USER} can run neither this venv's Python nor Debian's python3")
    serve = subprocess.Popen(
        [str(LEADBOT), "--env-file", str(env_file), "serve"],
        env=clean_env(),
        cwd=workspace,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    postfix = pipe_postfix(leadbot, env_file)
    db = Store(f"sqlite:///{workspace / 'db' / 'leadbot.db'}")
    try:
        wait_until(lambda: healthy(http_port) or serve.poll() is not None, timeout=60, interval=0.2)
        assert serve.poll() is None, serve.stdout.read() if serve.stdout else ""
        postfix.start(clean_env())
        for n in range(3):
            send(postfix, inquiry(10 + n))
        lines = postfix.deliveries("sales@leads.example.com", 3)

        def leads() -> set[str]:
            with db.session() as session:
                return set(session.scalars(select(Lead.email)))

        wanted = {f"dana{n}@northwind{n}.example" for n in range(10, 13)}
        wait_until(lambda: leads() == wanted, timeout=60, interval=0.2)
        with db.session() as session:
            channels = set(session.scalars(select(RawInput.channel)))
    finally:
        postfix.stop()
        db.dispose()
        serve.terminate()
        out, _ = serve.communicate(timeout=60)
    assert all("status=sent (delivered via leadbot service" in x for x in lines), lines
    assert channels == {"smtp"}, out  # every one through the serve's receiver
    assert (workspace / "db" / "leadbot.db").stat().st_mode & 0o077 == 0


def test_ingest_with_a_broken_configuration_asks_the_mta_to_retry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """75, not 78: Postfix bounces EX_CONFIG as 5.3.5 and the lead would be lost."""
    monkeypatch.chdir(tmp_path)
    assert main(["--env-file", str(tmp_path / "missing.env"), "ingest", "-"]) == 75
    assert "missing.env is not a readable file" in capsys.readouterr().err
    assert main(["--env-file", str(tmp_path / "missing.env"), "leads", "list"]) == 78


@needs_postfix
def test_mail_for_a_pipe_without_its_env_file_waits_in_the_queue_until_it_is_there(
    workspace: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    leadbot = leadbot_for(PIPE_USER, workspace)
    if leadbot is None:
        pytest.skip(f"user {PIPE_USER} can run neither this venv's Python nor Debian's python3")
    env_file = workspace / "leadbot.env"  # not written yet: the admin forgot it
    postfix = pipe_postfix(leadbot, env_file)
    try:
        postfix.start(clean_env())
        send(postfix, inquiry(7))
        (deferred,) = postfix.deliveries("sales@leads.example.com", status="deferred")[:1]
        assert "dsn=4.3.0" in deferred and "is not a readable file" in deferred, deferred
        write_env_file(workspace)
        # Postfix retries within its 1-2 s backoff; a flush makes sure its queue manager looks at
        # the deferred queue now even on a loaded machine (seen once: no retry for 40 s).
        postfix.postconf_run("postqueue", "-c", str(postfix.etc), "-f")
        (sent,) = postfix.deliveries("sales@leads.example.com", status="sent")
    finally:
        postfix.stop()
    assert "delivered via leadbot service" in sent
    assert "bounced" not in postfix.log()
    assert lead_emails(env_file, monkeypatch, capsys) == {"dana7@northwind7.example"}
