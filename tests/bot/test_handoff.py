"""`leadbot ingest -` beside a running `serve`: handed to its receiver only when it writes to the same
database, read in the command itself otherwise; the installed script, a real `serve`, real sockets."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.config import load_settings
from bot.entry import piped_ingest
from bot.handoff import Receiver, hand_over, receiver_of, recipient
from storage.db import Store
from storage.identity import database_fingerprint, database_identity
from storage.models import Lead, RawInput
from tests.bot.fake_slack import wait_until
from tests.serving import LEADBOT, free_port, start_serve

pytestmark = pytest.mark.skipif(not LEADBOT.exists(), reason="the leadbot script is installed")


def inquiry(n: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Jane Doe <jane{n}@acme-robotics.example>"
    msg["To"] = "leads@leads.example.com"
    msg["Subject"] = "Quote for 20 licences"
    msg["Message-ID"] = f"<handoff{n}@acme-robotics.example>"
    msg.set_content("Please send a quote for 20 licences.\n\nJane Doe\nCTO, Acme Robotics\n")
    return msg.as_bytes().replace(b"\r\n", b"\n")  # as a pipe gets it


def environment(db: Path | str, smtp_port: int, **more: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADBOT_")}
    return env | {
        "LEADBOT_DATABASE_URL": db if isinstance(db, str) else f"sqlite:///{db}",
        "LEADBOT_SMTP_PORT": str(smtp_port),
        "LEADBOT_INBOX_DOMAINS": "leads.example.com",
        "LEADBOT_LOG_LEVEL": "INFO",
        **more,
    }


def ingest(env: dict[str, str], cwd: Path, content: bytes) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(LEADBOT), "ingest", "-"],
        input=content.decode(),
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=60,
        check=False,
    )
    return done


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[dict[str, str], str]]:
    db = f"sqlite:///{tmp_path / 'leads.db'}"
    yield from serving(db, tmp_path)


@pytest.fixture
def any_server(db_url: str, tmp_path: Path) -> Iterator[tuple[dict[str, str], str]]:
    """A serve on SQLite, then on PostgreSQL."""
    yield from serving(db_url, tmp_path)


def serving(db: str, tmp_path: Path) -> Iterator[tuple[dict[str, str], str]]:
    smtp_port, http_port = free_port(), free_port()
    env = environment(db, smtp_port)
    proc = start_serve(env, tmp_path, smtp_port=smtp_port, http_port=http_port)
    try:
        yield env, db
    finally:
        proc.terminate()
        print(proc.communicate(timeout=60)[0])  # shown when the test failed


def leads(db: Path | str) -> list[str]:
    store = Store(db if isinstance(db, str) else f"sqlite:///{db}")
    try:
        with store.session() as session:
            return sorted(session.scalars(select(Lead.email)).all())
    finally:
        store.dispose()


def test_a_piped_message_is_handed_to_the_server_on_the_same_database(
    any_server: tuple[dict[str, str], str], tmp_path: Path
) -> None:
    env, db = any_server
    done = ingest(env, tmp_path, inquiry(1))
    assert done.returncode == 0, done.stderr
    assert "stored by the running server (SMTP 127.0.0.1:" in done.stdout
    # Committed before the 250, read by the server's worker at once.
    wait_until(lambda: leads(db) == ["jane1@acme-robotics.example"], timeout=30)
    store = Store(db)
    try:
        with store.session() as session:
            raw = session.scalars(select(RawInput)).one()
            assert raw.channel == "smtp"
            assert raw.envelope["rcpt_to"] == ["leadbot@leads.example.com"]
            assert b"\r\nSubject: Quote for 20 licences\r\n" in raw.content
    finally:
        store.dispose()
    # The same message again is the same input, whoever stores it.
    again = ingest(env, tmp_path, inquiry(1))
    assert again.returncode == 0, again.stderr
    assert leads(db) == ["jane1@acme-robotics.example"]


def test_over_lmtp_when_the_server_has_an_lmtp_port(tmp_path: Path) -> None:
    db = tmp_path / "leads.db"
    smtp_port, http_port, lmtp_port = free_port(), free_port(), free_port()
    env = environment(db, smtp_port, LEADBOT_LMTP_PORT=str(lmtp_port))
    proc = start_serve(env, tmp_path, smtp_port=smtp_port, http_port=http_port)
    try:
        done = ingest(env | {"RECIPIENT": "sales@leads.example.com"}, tmp_path, inquiry(6))
        assert done.returncode == 0, done.stderr
        assert f"stored by the running server (LMTP 127.0.0.1:{lmtp_port})" in done.stdout
        wait_until(lambda: leads(db) == ["jane6@acme-robotics.example"], timeout=30)
    finally:
        proc.terminate()
        proc.communicate(timeout=60)


def test_a_server_on_another_database_never_gets_it(
    server: tuple[dict[str, str], str], tmp_path: Path
) -> None:
    env, served = server
    other = tmp_path / "other.db"
    mine = env | {"LEADBOT_DATABASE_URL": f"sqlite:///{other}"}
    done = ingest(mine, tmp_path, inquiry(2))
    assert done.returncode == 0, done.stderr
    assert "processed (lead #1)" in done.stdout  # read here, into its own database
    assert leads(other) == ["jane2@acme-robotics.example"]
    assert leads(served) == []


def test_without_a_server_the_command_reads_the_message_itself(tmp_path: Path) -> None:
    db = tmp_path / "alone.db"
    done = ingest(environment(db, free_port()), tmp_path, inquiry(3))
    assert done.returncode == 0, done.stderr
    assert "processed (lead #1)" in done.stdout
    assert leads(db) == ["jane3@acme-robotics.example"]


class SilentAfterData(threading.Thread):
    """An SMTP server that says it writes to our database, takes the message and hangs up without
    an answer: the message may be stored, so the command must not read it again itself."""

    def __init__(self, fingerprint: str) -> None:
        super().__init__(daemon=True)
        self.fingerprint = fingerprint
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.received = b""

    def run(self) -> None:
        conn, _ = self.listener.accept()
        with conn, conn.makefile("rb") as lines:
            conn.sendall(b"220 test ESMTP\r\n")
            for line in lines:
                verb = line[:4].upper()
                if verb == b"EHLO":
                    conn.sendall(f"250-test\r\n250 XLEADBOT-STORE {self.fingerprint}\r\n".encode())
                elif verb in (b"MAIL", b"RCPT"):
                    conn.sendall(b"250 OK\r\n")
                elif verb == b"DATA":
                    conn.sendall(b"354 go on\r\n")
                    for body in lines:
                        self.received += body
                        if body == b".\r\n":
                            return  # hang up, no answer


def test_no_answer_after_the_message_went_out_is_a_temporary_failure(tmp_path: Path) -> None:
    db = tmp_path / "leads.db"
    fingerprint = database_fingerprint(f"sqlite:///{db}")
    assert fingerprint is not None
    fake = SilentAfterData(fingerprint)
    fake.start()
    done = ingest(environment(db, fake.port), tmp_path, inquiry(4))
    fake.join(timeout=30)
    assert done.returncode == 75, done.stdout + done.stderr
    assert "no answer after the message was sent" in done.stderr
    assert b"Subject: Quote for 20 licences\r\n" in fake.received
    assert not db.exists()  # and not stored here too


def test_lmtp_is_preferred_and_smtp_only_without_sender_checks(tmp_path: Path) -> None:
    base = {"host": "0.0.0.0", "smtp_port": 2525}
    assert receiver_of(load_settings(**base)) == Receiver("SMTP", "127.0.0.1", 2525)
    assert receiver_of(load_settings(**base, lmtp_port=2424)) == Receiver("LMTP", "127.0.0.1", 2424)
    # With the checks on, the SMTP receiver would take this host for the sender's MTA.
    assert receiver_of(load_settings(**base, trusted_authserv_id="mx.example.com")) is None
    assert receiver_of(load_settings(**base, dns_server="127.0.0.1:53")) is None


def test_the_envelope_recipient_is_the_mail_servers_when_it_is_an_inbox() -> None:
    settings = load_settings(inbox_domains="leads.example.com,b.example")
    assert (
        recipient(settings, {"RECIPIENT": "sales@leads.example.com"}) == "sales@leads.example.com"
    )
    assert recipient(settings, {"RECIPIENT": "boss@elsewhere.example"}) == "leadbot@b.example"
    assert recipient(settings, {"RECIPIENT": "x@leads.example.com\r\nRCPT TO:<a@b>"}) == (
        "leadbot@b.example"
    )
    assert recipient(settings, {}) == "leadbot@b.example"


def test_nothing_listening_is_no_hand_over(tmp_path: Path) -> None:
    settings = load_settings(database_url=f"sqlite:///{tmp_path / 'x.db'}", smtp_port=free_port())
    assert hand_over(inquiry(5), settings) is None


def test_only_a_piped_ingest_is_handed_over() -> None:
    assert piped_ingest(["ingest"]) == (None,)
    assert piped_ingest(["ingest", "-"]) == (None,)
    assert piped_ingest(["-v", "--env-file", "/etc/leadbot.env", "ingest", "-"]) == (
        "/etc/leadbot.env",
    )
    assert piped_ingest(["--env-file=/e", "ingest"]) == ("/e",)
    assert piped_ingest(["ingest", "a.eml"]) is None  # a person wants the outcome of a file
    assert piped_ingest(["ingest", "-", "-"]) is None
    assert piped_ingest(["leads", "list"]) is None
    assert piped_ingest(["--unknown", "ingest"]) is None
    assert piped_ingest(["--env-file"]) is None


def test_a_database_is_named_the_same_however_its_url_is_written(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    assert database_identity(f"sqlite:///{db}") == database_identity(
        f"sqlite+pysqlite:///{db}?timeout=5"
    )
    assert database_identity("x.db", cwd=str(tmp_path)) is None  # not a URL
    assert database_identity("sqlite:///x.db", cwd=str(tmp_path)) == f"sqlite:{db.resolve()}"
    assert database_identity("sqlite://") is None
    assert database_identity("sqlite:///:memory:") is None
    pg = "postgresql+psycopg://postgres:secret@DB.example:5432/leads?sslmode=require"
    assert database_identity(pg) == "postgresql://postgres@db.example:5432/leads"
    assert database_identity("postgresql://postgres@db.example/leads") == database_identity(pg)
    assert "secret" not in (database_fingerprint(pg) or "secret")
    assert database_fingerprint(pg) != database_fingerprint("postgresql://postgres@db.example/x")
