"""SMTP for the internet: STARTTLS with a throwaway certificate, enhanced status codes on every
reply, the greeting name, allowed clients and LMTP, with real smtplib clients."""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.config import Settings
from bot.runtime import Runtime, build_runtime
from bot.serve import client_gate, smtp_options
from ingest.listen import ClientGate, parse_networks
from ingest.smtp import InboxHandler, SMTPServerThread
from ingest.smtp_server import SMTPOptions, server_tls_context, with_enhanced_code
from storage.db import Store
from storage.errors import ConfigError
from storage.leads import get_lead
from storage.models import RawInput
from tests.conftest import make_settings
from tests.ingest.smtp_helpers import (
    ENHANCED,
    INBOX,
    Certificate,
    Wire,
    make_certificate,
    serving,
)
from tests.ingest.test_smtp import free_port, inquiry

HOST = "mx.leads.example.com"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    return make_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def sqlite_runtime(sqlite_url: str) -> Runtime:
    return build_runtime(make_settings(sqlite_url))


def tls_options(certificate: Certificate, **overrides: object) -> SMTPOptions:
    context = server_tls_context(certificate.cert, certificate.key)
    return SMTPOptions(max_message_bytes=200_000, hostname=HOST, tls_context=context, **overrides)  # type: ignore[arg-type]


def raws(store: Store) -> list[RawInput]:
    with store.session() as s:
        return list(s.scalars(select(RawInput)))


# -- STARTTLS ---------------------------------------------------------------------------------


def test_starttls_is_offered_and_mail_goes_over_it(
    certificate: Certificate, runtime: Runtime, store: Store
) -> None:
    with (
        serving(runtime, options=tls_options(certificate)) as server,
        smtplib.SMTP("127.0.0.1", server.port, timeout=10) as client,
    ):
        code, _ = client.ehlo("client.example.org")
        assert code == 250
        assert client.has_extn("starttls") and client.has_extn("enhancedstatuscodes")
        assert not client.has_extn("auth")  # nobody logs in to LeadBot
        code, text = client.starttls(context=certificate.trusting_client())
        assert (code, text[:5]) == (220, b"2.0.0")
        assert client.sock is not None and isinstance(client.sock, ssl.SSLSocket)
        client.ehlo("client.example.org")  # RFC 3207 §4.2: the session starts again
        assert not client.has_extn("starttls") and client.has_extn("enhancedstatuscodes")
        client.send_message(inquiry(), to_addrs=[f"leads@{INBOX}"])
        server.drain()
    assert [r.status for r in raws(store)] == ["processed"]
    with store.session() as s:
        assert get_lead(s, email="jane@acme-robotics.example").name == "Jane Doe"


def test_without_a_certificate_there_is_no_starttls(sqlite_runtime: Runtime) -> None:
    with (
        serving(sqlite_runtime) as server,
        smtplib.SMTP("127.0.0.1", server.port, timeout=10) as client,
    ):
        client.ehlo("client.example.org")
        assert not client.has_extn("starttls") and client.has_extn("enhancedstatuscodes")
        code, text = client.docmd("STARTTLS")
        assert (code, text[:6]) == (454, b"4.7.0 ")


def test_require_tls_answers_530_to_mail_before_starttls(
    certificate: Certificate, sqlite_runtime: Runtime
) -> None:
    options = tls_options(certificate, require_tls=True)
    with (
        serving(sqlite_runtime, options=options) as server,
        smtplib.SMTP("127.0.0.1", server.port, timeout=10) as client,
    ):
        client.ehlo("client.example.org")
        code, text = client.docmd("MAIL FROM:<sender@example.org>")
        assert code == 530 and text.startswith(b"5.7.0 ")
        client.starttls(context=certificate.trusting_client())
        client.ehlo("client.example.org")
        code, text = client.docmd("MAIL FROM:<sender@example.org>")
        assert (code, text) == (250, b"2.1.0 OK")


def test_a_client_that_does_not_trust_the_certificate_fails_and_others_go_on(
    certificate: Certificate, sqlite_runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    with serving(sqlite_runtime, options=tls_options(certificate)) as server:
        with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as doubter:
            doubter.ehlo("client.example.org")
            with pytest.raises(ssl.SSLCertVerificationError):
                doubter.starttls(context=ssl.create_default_context())  # the system's CAs only
        # One that gives up in the middle of the handshake, with bytes that are no TLS at all.
        wire = Wire(server.port)
        wire.reply()
        wire.command("EHLO junk.example.org")
        assert wire.command("STARTTLS")[0].startswith("220 2.0.0")
        wire.send(b"this is not a ClientHello\r\n" * 10)
        assert wire.closed()
        with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as client:  # still serving
            client.starttls(context=certificate.trusting_client())
            client.send_message(inquiry(), to_addrs=[f"leads@{INBOX}"])
        server.drain()
        assert server.gate.total == 0  # every session, failed or not, was released
    assert [r.status for r in raws(sqlite_runtime.store)] == ["processed"]
    assert "Traceback" not in caplog.text
    assert "STARTTLS handshake failed" in caplog.text


def test_a_certificate_that_cannot_be_loaded_is_a_configuration_error(
    tmp_path: Path, certificate: Certificate
) -> None:
    with pytest.raises(ConfigError, match="LEADBOT_SMTP_TLS_CERT"):
        server_tls_context(tmp_path / "missing.pem", None)
    settings = Settings(smtp_tls_cert=certificate.cert, smtp_tls_key=certificate.cert)  # no key
    with pytest.raises(ConfigError):
        smtp_options(settings)
    with pytest.raises(ValueError, match="needs LEADBOT_SMTP_TLS_CERT"):
        Settings(smtp_require_tls=True)


# -- enhanced status codes --------------------------------------------------------------------


def test_every_reply_carries_an_enhanced_status_code(
    certificate: Certificate, sqlite_runtime: Runtime
) -> None:
    """RFC 2034 §3: every 2xx/4xx/5xx but the greeting and the EHLO/HELO answers."""
    with (
        serving(sqlite_runtime, options=tls_options(certificate)) as server,
        smtplib.SMTP("127.0.0.1", server.port, timeout=10) as client,
    ):
        replies = [
            client.docmd("MAIL FROM:<a@example.org>"),  # 503: HELO first
            client.ehlo("client.example.org"),  # exempt, checked apart
            client.docmd("NOOP"),
            client.docmd("HELP"),
            client.docmd("VRFY <x@leads.example.com>"),
            client.docmd("EXPN list"),
            client.docmd("BOGUS"),
            client.docmd("RCPT TO:<a@leads.example.com>"),  # 503: MAIL first
            client.docmd("DATA"),  # 503
            client.docmd("MAIL FROM:<a@example.org> SIZE=999999999"),  # 552
            client.docmd("MAIL FROM:<a@example.org> FOO=1"),  # 555
            client.docmd("MAIL FROM: a@"),  # 553
            client.docmd("MAIL FROM:<a@example.org>"),
            client.docmd("MAIL FROM:<b@example.org>"),  # 503 nested
            client.docmd("RCPT TO:<x@elsewhere.example>"),  # 550 relaying denied
            client.docmd("RCPT TO:<leads@leads.example.com>"),
            client.docmd("DATA extra"),  # 501
            client.docmd("RSET"),
            client.docmd("AUTH PLAIN AGFiYwBkZWY="),
        ]
        ehlo = replies.pop(1)
        assert ehlo[0] == 250 and not ENHANCED.match(ehlo[1].decode())
        for code, text in replies:
            first_line = text.decode().splitlines()[0]
            assert ENHANCED.match(first_line), (code, text)
            assert first_line[0] == str(code)[0], (code, text)
        codes = [code for code, _ in replies]
        assert 552 in codes and 555 in codes and 550 in codes
        assert replies[8][1].startswith(b"5.3.4 ")  # the 552 of the issue read 5.0.0
        code, text = client.docmd("QUIT")
        assert (code, text[:6]) == (221, b"2.0.0 ")


BIG = b"Subject: big\r\n\r\n" + (b"x" * 70 + b"\r\n") * 5000  # 360 kB, over the 200 kB limit


def test_too_much_data_gets_552_5_3_4(sqlite_runtime: Runtime) -> None:
    with (
        serving(sqlite_runtime) as server,
        smtplib.SMTP("127.0.0.1", server.port, timeout=10) as client,
    ):
        client.ehlo("client.example.org")
        client.mail("a@example.org")  # no SIZE=: the limit is found in DATA
        client.rcpt(f"leads@{INBOX}")
        code, text = client.data(BIG)
        assert (code, text[:6]) == (552, b"5.3.4 ")


def test_the_code_rewriter_keeps_what_is_there() -> None:
    assert with_enhanced_code("250 OK") == "250 2.0.0 OK"
    assert with_enhanced_code("250 2.1.5 OK") == "250 2.1.5 OK"
    assert with_enhanced_code("354 End data with <CR><LF>.<CR><LF>").startswith("354 End")
    assert with_enhanced_code("502 5.5.1 Too many") == "502 5.5.1 Too many"
    assert with_enhanced_code("250-mx\r\n250 HELP", keep_2xx=True) == "250-mx\r\n250 HELP"
    assert with_enhanced_code("552 Error: x\r\n552 Error: x") == (
        "552 5.3.4 Error: x\r\n552 5.3.4 Error: x"
    )
    assert with_enhanced_code("599 weird") == "599 5.0.0 weird"


# -- the greeting name and who may connect ----------------------------------------------------


def test_greeting_and_ehlo_name_the_configured_host(sqlite_runtime: Runtime) -> None:
    with (
        serving(sqlite_runtime) as server,
        smtplib.SMTP("127.0.0.1", server.port, timeout=10) as client,
    ):
        code, name = client.ehlo("client.example.org")
        assert (code, name.splitlines()[0]) == (250, HOST.encode())
        wire = Wire(server.port)
        assert wire.reply()[0] == f"220 {HOST} LeadBot ESMTP"
        wire.close()
    assert smtp_options(Settings(smtp_hostname=HOST)).hostname == HOST
    with pytest.raises(ValueError):
        Settings(smtp_hostname="mx.example.com\r\n250 injected")


def test_clients_outside_the_allowed_networks_get_554_at_connect(
    sqlite_runtime: Runtime,
) -> None:
    gate = ClientGate(allowed=parse_networks(["127.0.0.2/32", "2001:db8::/32"]))
    with serving(sqlite_runtime, gate=gate) as server:
        with pytest.raises(smtplib.SMTPConnectError) as err:
            smtplib.SMTP("127.0.0.1", server.port, timeout=10)
        assert err.value.smtp_code == 554 and err.value.smtp_error.startswith(b"5.7.1 ")
        wire = Wire(server.port)
        assert wire.reply()[0].startswith("554 5.7.1")
        assert wire.closed()  # at once: a refused client holds nothing
        with smtplib.SMTP(
            "127.0.0.1", server.port, timeout=10, source_address=("127.0.0.2", 0)
        ) as ok:
            ok.send_message(inquiry(), to_addrs=[f"leads@{INBOX}"])
        server.drain()
        assert gate.total == 0
    assert [r.envelope["peer"] for r in raws(sqlite_runtime.store)] == ["127.0.0.2"]


def test_allowed_clients_come_from_the_settings() -> None:
    settings = Settings(smtp_allowed_clients="10.0.0.0/8, 192.0.2.7,2001:db8::/32")
    gate = client_gate(settings)
    assert [str(n) for n in gate.allowed] == ["10.0.0.0/8", "192.0.2.7/32", "2001:db8::/32"]
    assert gate.admit("10.1.2.3")[1] is None
    assert gate.admit("::ffff:192.0.2.7")[1] is None  # an IPv4 client on a dual-stack socket
    assert gate.admit("192.0.2.8")[1] is not None
    with pytest.raises(ValueError):
        Settings(smtp_allowed_clients="10.0.0.0/33")


# -- LMTP -------------------------------------------------------------------------------------


@pytest.fixture
def lmtp(runtime: Runtime) -> Iterator[SMTPServerThread]:
    with serving(runtime, lmtp=True) as server:
        yield server


def lmtp_transaction(
    client: smtplib.LMTP, rcpts: list[str], data: bytes
) -> list[tuple[int, bytes]]:
    """MAIL, RCPT… DATA, and the replies after DATA: smtplib reads only the first of them."""
    assert client.mail("sender@example.org")[0] == 250
    accepted = [r for r in rcpts if client.rcpt(r)[0] == 250]
    first = client.data(data)
    return [first] + [client.getreply() for _ in accepted[1:]]


def test_lmtp_answers_each_recipient_after_data(lmtp: SMTPServerThread, store: Store) -> None:
    with smtplib.LMTP("127.0.0.1", lmtp.port) as client:
        code, text = client.docmd("EHLO", "client.example.org")  # LMTP knows only LHLO
        assert code == 500 and ENHANCED.match(text.decode())
        code, _ = client.ehlo("postfix.example.org")  # smtplib.LMTP sends LHLO
        assert code == 250 and client.has_extn("enhancedstatuscodes")
        rcpts = [f"leads@{INBOX}", "victim@elsewhere.example", f"sales@{INBOX}"]
        replies = lmtp_transaction(client, rcpts, bytes(inquiry()))
        assert [code for code, _ in replies] == [250, 250]
        assert replies[0][1] == b"2.0.0 <leads@leads.example.com> OK: message accepted"
        assert replies[1][1] == b"2.0.0 <sales@leads.example.com> OK: message accepted"
        assert client.noop()[0] == 250  # in step: no reply left over
    lmtp.drain()
    [raw] = raws(store)  # one message for both recipients, never relayed to the third
    assert raw.status == "processed" and raw.envelope["rcpt_to"] == rcpts[::2]


def test_lmtp_too_much_data_is_refused_for_each_recipient(lmtp: SMTPServerThread) -> None:
    with smtplib.LMTP("127.0.0.1", lmtp.port) as client:
        client.docmd("LHLO", "postfix.example.org")
        rcpts = [f"leads@{INBOX}", f"sales@{INBOX}"]
        replies = lmtp_transaction(client, rcpts, BIG)
        assert [(code, text[:6]) for code, text in replies] == [(552, b"5.3.4 ")] * 2
        assert client.noop()[0] == 250


def test_lmtp_store_down_is_451_for_each_recipient() -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nothing"
    runtime = build_runtime(make_settings(url))
    handler = InboxHandler(runtime.pipeline, inbox_domains={INBOX})
    server = SMTPServerThread(handler, max_message_bytes=200_000, lmtp=True).start()
    try:
        with smtplib.LMTP("127.0.0.1", server.port) as client:
            client.docmd("LHLO", "postfix.example.org")
            replies = lmtp_transaction(client, [f"a@{INBOX}", f"b@{INBOX}"], bytes(inquiry()))
            assert [(code, text[:6]) for code, text in replies] == [(451, b"4.3.0 ")] * 2
    finally:
        server.stop()


def test_lmtp_with_required_tls_takes_lhlo_then_starttls(
    certificate: Certificate, sqlite_runtime: Runtime
) -> None:
    options = tls_options(certificate, require_tls=True)
    with (
        serving(sqlite_runtime, options=options, lmtp=True) as server,
        smtplib.LMTP("127.0.0.1", server.port) as client,
    ):
        assert client.ehlo("postfix.example.org")[0] == 250  # aiosmtpd alone answers LHLO 530
        assert client.has_extn("starttls")
        code, text = client.docmd("MAIL FROM:<a@example.org>")
        assert (code, text[:6]) == (530, b"5.7.0 ")
        client.starttls(context=certificate.trusting_client())
        client.ehlo("postfix.example.org")
        replies = lmtp_transaction(client, [f"leads@{INBOX}"], bytes(inquiry()))
        assert [code for code, _ in replies] == [250]
        server.drain()
