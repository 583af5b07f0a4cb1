"""IMAP polling against a real Dovecot: commit first, then move; IDLE, polling, reconnects."""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlmodel import select

from bot.runtime import Runtime, build_runtime
from ingest.imap import ImapPoller, ImapTarget, parse_imap_url
from storage.db import Store
from storage.errors import ConfigError
from storage.models import Lead, RawInput
from tests.conftest import DATA, make_settings
from tests.ingest.dovecot import PASSWORD, USER, Dovecot, dovecot_or_skip, free_port

RAW = (DATA / "inbound" / "inquiry-latin1.eml").read_bytes()
PROCESSED = "LeadBot.Processed"  # "LeadBot/Processed" in Dovecot's Maildir delimiter


def message(n: int, *, sender: str = "buyer{n}@prospect{n}.example") -> bytes:
    who = sender.format(n=n)
    return (
        f"From: Buyer {n} <{who}>\r\nTo: leads@leads.example.com\r\n"
        f"Subject: Quote request {n}\r\nMessage-ID: <imap-{n}@prospect.example>\r\n"
        f"Date: Wed, 5 Mar 2025 10:00:00 +0000\r\n\r\nPlease send a quote for {n} seats.\r\n"
    ).encode()


@pytest.fixture(scope="module")
def dovecot_binary() -> str:
    return dovecot_or_skip()


@pytest.fixture
def dovecot(dovecot_binary: str) -> Iterator[Dovecot]:
    server = Dovecot(dovecot_binary)
    server.start()
    try:
        yield server
    finally:
        server.remove()


def wait_until(check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


class Running:
    def __init__(self, poller: ImapPoller) -> None:
        self.poller = poller
        self.stop = threading.Event()
        self.thread = threading.Thread(target=poller.run, args=(self.stop,), daemon=True)

    def __enter__(self) -> ImapPoller:
        self.thread.start()
        return self.poller

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(10)
        assert not self.thread.is_alive()


def poller_for(runtime: Runtime, server: Dovecot, **options: object) -> ImapPoller:
    defaults: dict[str, object] = {"poll_seconds": 0.3, "backoff_initial": 0.1, "backoff_max": 0.5}
    return ImapPoller(runtime.pipeline, parse_imap_url(server.url), **(defaults | options))  # type: ignore[arg-type]


def raws(store: Store) -> list[RawInput]:
    with store.session() as s:
        return list(s.exec(select(RawInput).order_by(RawInput.id)))  # type: ignore[arg-type]


def leads(store: Store) -> list[str]:
    with store.session() as s:
        return sorted(lead.email for lead in s.exec(select(Lead)))


@pytest.mark.parametrize("use_idle", [True, False], ids=["idle", "poll"])
def test_messages_are_committed_then_moved(
    runtime: Runtime, store: Store, dovecot: Dovecot, use_idle: bool
) -> None:
    dovecot.append(RAW)
    # With IDLE only the server's EXISTS can wake the poller in time: the poll interval is long.
    wait_s = 30.0 if use_idle else 0.3
    poller = poller_for(runtime, dovecot, use_idle=use_idle, idle_seconds=30, poll_seconds=wait_s)
    with Running(poller):
        wait_until(lambda: len(dovecot.uids(PROCESSED)) == 1)
        assert dovecot.uids("INBOX") == []
        # new mail while the poller waits (IDLE wakes it at once; polling within 0.3 s)
        started = time.monotonic()
        dovecot.append(message(1))
        dovecot.append(message(2))
        wait_until(lambda: len(dovecot.uids(PROCESSED)) == 3)
        assert time.monotonic() - started < 3
        wait_until(lambda: len(leads(store)) == 3)
        assert poller.accepted == 3
    rows = raws(store)
    assert [r.channel for r in rows] == ["imap"] * 3
    assert rows[0].content.replace(b"\r\n", b"\n") == RAW.replace(b"\r\n", b"\n")
    assert rows[0].envelope["imap_mailbox"] == "INBOX"
    assert all("pass" not in str(r.envelope).lower() for r in rows)
    assert leads(store) == [
        "buyer1@prospect1.example",
        "buyer2@prospect2.example",
        "dana@acme-robotics.example",
    ]


def test_copy_delete_expunge_when_move_is_not_used(sqlite_url: str, dovecot: Dovecot) -> None:
    store = Store(sqlite_url)
    runtime = build_runtime(make_settings(sqlite_url), store=store)
    for n in range(3):
        dovecot.append(message(n))
    with Running(poller_for(runtime, dovecot, use_move=False, use_idle=False)):
        wait_until(lambda: len(dovecot.uids(PROCESSED)) == 3)
    assert dovecot.uids("INBOX") == []
    assert len(raws(store)) == 3
    store.dispose()


def test_store_down_leaves_mail_on_the_server_until_it_is_back(
    tmp_path: Path, dovecot: Dovecot, caplog: pytest.LogCaptureFixture
) -> None:
    dovecot.append(message(7))
    down_url = f"sqlite:///{tmp_path / 'missing' / 'leadbot.db'}"
    down = build_runtime(make_settings(down_url), store=Store(down_url))
    caplog.set_level(logging.WARNING, logger="leadbot.imap")
    with Running(poller_for(down, dovecot)):
        wait_until(lambda: "store unavailable" in caplog.text)
    # The poller has stopped and its thread is joined: nothing more can happen to the message.
    assert len(dovecot.uids("INBOX")) == 1  # not moved: nothing was committed
    assert dovecot.uids(PROCESSED) == []
    (tmp_path / "missing").mkdir()
    from storage.migrate import upgrade

    up_store = Store(down_url)
    upgrade(up_store)
    up = build_runtime(make_settings(down_url), store=up_store)
    with Running(poller_for(up, dovecot)):
        wait_until(lambda: len(dovecot.uids(PROCESSED)) == 1)
    assert [r.channel for r in raws(up_store)] == ["imap"]
    assert PASSWORD not in caplog.text
    up_store.dispose()


def test_redelivered_message_is_one_activity(
    runtime: Runtime, store: Store, dovecot: Dovecot
) -> None:
    # A crash after the commit but before the move fetches the message again on restart.
    dovecot.append(message(3))
    dovecot.append(message(3))  # same bytes
    with Running(poller_for(runtime, dovecot, use_idle=False)):
        wait_until(lambda: len(dovecot.uids(PROCESSED)) == 2)
    assert len(raws(store)) == 1
    assert leads(store) == ["buyer3@prospect3.example"]


def test_reconnects_when_the_server_goes_away(
    sqlite_url: str, dovecot: Dovecot, caplog: pytest.LogCaptureFixture
) -> None:
    store = Store(sqlite_url)
    runtime = build_runtime(make_settings(sqlite_url), store=store)
    caplog.set_level(logging.INFO, logger="leadbot.imap")
    with Running(poller_for(runtime, dovecot, idle_seconds=30)):
        dovecot.append(message(1))
        wait_until(lambda: len(dovecot.uids(PROCESSED)) == 1)
        dovecot.stop()
        wait_until(lambda: "reconnecting" in caplog.text)
        dovecot.start()
        dovecot.append(message(2))
        wait_until(lambda: len(dovecot.uids(PROCESSED)) == 2)
    assert len(raws(store)) == 2
    assert PASSWORD not in caplog.text
    store.dispose()


def test_oversized_and_unusable_messages_are_set_aside(sqlite_url: str, dovecot: Dovecot) -> None:
    store = Store(sqlite_url)
    runtime = build_runtime(make_settings(sqlite_url), store=store)
    dovecot.append(b"just words, not a message: no header at all\r\n")
    dovecot.append(message(4) + b"x" * 5000 + b"\r\n")
    dovecot.append(message(5))
    with Running(poller_for(runtime, dovecot, max_message_bytes=4000, use_idle=False)):
        wait_until(lambda: len(dovecot.uids("LeadBot.Rejected")) == 2)
        wait_until(lambda: len(dovecot.uids(PROCESSED)) == 1)
    assert dovecot.uids("INBOX") == []
    assert len(raws(store)) == 1
    store.dispose()


def test_wrong_password_is_retried_and_never_logged(
    sqlite_url: str, dovecot: Dovecot, caplog: pytest.LogCaptureFixture
) -> None:
    store = Store(sqlite_url)
    runtime = build_runtime(make_settings(sqlite_url), store=store)
    target = ImapTarget(
        "127.0.0.1", dovecot.port, USER, "not-the-password", tls=False, starttls="no"
    )
    caplog.set_level(logging.INFO, logger="leadbot.imap")
    poller = ImapPoller(runtime.pipeline, target, backoff_initial=0.05, backoff_max=0.1)
    with Running(poller):
        wait_until(lambda: caplog.text.count("reconnecting") >= 2)
    assert "not-the-password" not in caplog.text and "not-the-password" not in repr(target)
    store.dispose()


def test_parse_imap_url() -> None:
    t = parse_imap_url("imaps://sales%40ourco.example:s%3Acret@imap.ourco.example/Leads%20In")
    assert (t.host, t.port, t.user, t.password, t.mailbox, t.tls) == (
        "imap.ourco.example",
        993,
        "sales@ourco.example",
        "s:cret",
        "Leads In",
        True,
    )
    assert "s:cret" not in repr(t) and "s:cret" not in t.describe()
    local = parse_imap_url("imap://u:p@127.0.0.1:1143?starttls=required")
    assert (local.port, local.mailbox, local.tls, local.starttls) == (
        1143,
        "INBOX",
        False,
        "required",
    )
    for bad in ("pop3://u:p@h/", "imaps://host/INBOX", "imap://u:p@h/?starttls=maybe"):
        with pytest.raises(ConfigError):
            parse_imap_url(bad)


def test_starttls_required_but_not_offered(sqlite_url: str, dovecot: Dovecot) -> None:
    store = Store(sqlite_url)
    runtime = build_runtime(make_settings(sqlite_url), store=store)
    url = dovecot.url.replace("starttls=no", "starttls=required")
    poller = ImapPoller(runtime.pipeline, parse_imap_url(url))
    with pytest.raises(Exception, match="STARTTLS"):
        poller.connect()
    assert free_port() != dovecot.port
    store.dispose()


def test_starttls_and_imaps_against_a_real_tls_server(sqlite_url: str, dovecot_binary: str) -> None:
    server = Dovecot(dovecot_binary, tls=True)
    server.start()
    store = Store(sqlite_url)
    runtime = build_runtime(make_settings(sqlite_url), store=store)
    trusted = ssl.create_default_context(cafile=str(server.cert))
    secret = quote(PASSWORD, safe="")
    starttls = server.url.replace("starttls=no", "starttls=required")
    imaps = f"imaps://{USER}:{secret}@127.0.0.1:{server.imaps_port}/INBOX"
    try:
        for n, url in enumerate((starttls, imaps)):
            # A certificate nobody vouches for is refused before the password is sent.
            untrusted = ImapPoller(runtime.pipeline, parse_imap_url(url))
            with pytest.raises(ssl.SSLCertVerificationError):
                untrusted.connect()
            server.append(message(n))
            poller = ImapPoller(
                runtime.pipeline,
                parse_imap_url(url),
                ssl_context=trusted,
                poll_seconds=0.3,
                backoff_initial=0.1,
                backoff_max=0.5,
            )
            with Running(poller):
                wait_until(lambda n=n: len(server.uids(PROCESSED)) == n + 1)  # type: ignore[misc]
        wait_until(lambda: len(leads(store)) == 2)
        assert "auth failed" not in server.log().lower()
    finally:
        server.remove()
        store.dispose()


def test_folder_names_in_any_script(sqlite_url: str, dovecot: Dovecot) -> None:
    """Folder names travel in modified UTF-7 (RFC 3501 5.1.3): a German or Russian mailbox works."""
    from imapclient import imap_utf7

    store = Store(sqlite_url)
    runtime = build_runtime(make_settings(sqlite_url), store=store)
    inbox = "Anfragen für Vertrieb"
    conn = dovecot.client()
    try:
        assert conn.create(f'"{imap_utf7.encode(inbox).decode()}"')[0] == "OK"
    finally:
        conn.logout()
    dovecot.append(message(8), mailbox=f'"{imap_utf7.encode(inbox).decode()}"')
    url = dovecot.url.replace("/INBOX", "/" + quote(inbox))
    poller = ImapPoller(
        runtime.pipeline,
        parse_imap_url(url),
        processed_folder="LeadBot/Обработано",
        use_idle=False,
        poll_seconds=0.3,
    )
    done = imap_utf7.encode("LeadBot.Обработано").decode()
    with Running(poller):
        wait_until(lambda: len(dovecot.uids(done)) == 1)
    assert dovecot.uids(imap_utf7.encode(inbox).decode()) == []
    assert leads(store) == ["buyer8@prospect8.example"]
    store.dispose()
