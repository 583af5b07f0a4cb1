"""The SMTP receiver with a real aiosmtpd server and a real smtplib client, on both backends."""

from __future__ import annotations

import smtplib
import socket
from collections.abc import Iterator
from email.message import EmailMessage

import pytest
from sqlalchemy import select

from bot.runtime import Runtime, build_runtime
from ingest.smtp import InboxHandler, SMTPServerThread
from storage.db import Store
from storage.leads import activities_of, get_lead
from storage.models import Lead, OutboxMessage, RawInput
from tests.conftest import make_settings

MAX_BYTES = 200_000


def inquiry(
    sender: str = "Jane Doe <jane@acme-robotics.example>",
    *,
    subject: str = "Pricing for 50 seats",
    body: str = "Hi,\n\nCould you send pricing and a quote for 50 seats? We have budget this quarter"
    " and would like a demo next week.\n\nBest regards,\nJane Doe\nVP Engineering\nAcme Robotics\n",
    msgid: str = "<q1@acme-robotics.example>",
    **headers: str,
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "leads@leads.example.com"
    msg["Subject"] = subject
    msg["Message-ID"] = msgid
    msg["Date"] = "Mon, 02 Nov 2026 09:00:00 +0000"
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg


@pytest.fixture
def smtp(runtime: Runtime) -> Iterator[SMTPServerThread]:
    handler = InboxHandler(runtime.pipeline, inbox_domains={"leads.example.com"})
    server = SMTPServerThread(handler, max_message_bytes=MAX_BYTES).start()
    yield server
    server.stop()


def send(
    server: SMTPServerThread, msg: EmailMessage | bytes, *, to: str = "leads@leads.example.com"
) -> None:
    with smtplib.SMTP("127.0.0.1", server.port, timeout=30) as client:
        if isinstance(msg, bytes):
            client.sendmail("sender@acme-robotics.example", [to], msg)
        else:
            client.send_message(msg, to_addrs=[to])


def test_accepted_message_becomes_a_scored_lead(smtp: SMTPServerThread, store: Store) -> None:
    send(smtp, inquiry())
    with store.session() as s:  # committed before the 250, whatever parsing is doing
        assert len(list(s.scalars(select(RawInput)))) == 1
    smtp.drain()
    with store.session() as s:
        lead = get_lead(s, email="jane@acme-robotics.example")
        assert lead.name == "Jane Doe"
        assert lead.score > 0 and lead.source == "email"
        raw = s.scalars(select(RawInput)).one()
        assert raw.status == "processed" and raw.lead_id == lead.id
        assert raw.envelope["rcpt_to"] == ["leads@leads.example.com"]


def test_other_domains_are_refused_never_relayed(smtp: SMTPServerThread, store: Store) -> None:
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        send(smtp, inquiry(), to="victim@elsewhere.example")
    code, text = refused.value.recipients["victim@elsewhere.example"]
    assert code == 550 and b"not a LeadBot inbox" in text
    with store.session() as s:
        assert list(s.scalars(select(RawInput))) == []


def test_oversized_message_gets_552(smtp: SMTPServerThread, store: Store) -> None:
    with pytest.raises(smtplib.SMTPException) as err:
        send(smtp, inquiry(body="x" * (MAX_BYTES + 10)))
    assert "552" in str(err.value)
    with store.session() as s:
        assert list(s.scalars(select(RawInput))) == []


def test_input_that_is_not_a_message_gets_554(smtp: SMTPServerThread) -> None:
    with pytest.raises(smtplib.SMTPDataError) as err:
        send(smtp, b"just some words without any header\r\n")
    assert err.value.smtp_code == 554 and b"no header fields" in err.value.smtp_error


def test_same_message_twice_is_one_activity(smtp: SMTPServerThread, store: Store) -> None:
    send(smtp, inquiry())
    send(smtp, inquiry())  # same bytes
    resent = inquiry(subject="Pricing for 50 seats (resent)")  # same Message-ID, other bytes
    send(smtp, resent)
    smtp.drain()
    with store.session() as s:
        lead = get_lead(s, email="jane@acme-robotics.example")
        inquiries = [a for a in activities_of(s, lead.id or 0) if a.kind.startswith("email")]
        assert len(inquiries) == 1
        statuses = sorted(r.status for r in s.scalars(select(RawInput)))
        assert statuses == ["duplicate", "processed"]


def test_auto_replies_and_bulk_are_archived_not_leads(smtp: SMTPServerThread, store: Store) -> None:
    send(
        smtp,
        inquiry(
            subject="Out of Office: back Monday", msgid="<a1@x>", Auto_Submitted="auto-replied"
        ),
    )
    send(
        smtp,
        inquiry(msgid="<n1@x>", List_Id="<news.acme.example>", List_Unsubscribe="<mailto:u@x>"),
    )
    smtp.drain()
    with store.session() as s:
        assert list(s.scalars(select(Lead))) == []
        raws = list(s.scalars(select(RawInput)))
        assert sorted(r.status for r in raws) == ["archived", "archived"]
        assert any("auto_reply" in (r.reason or "") for r in raws)


def test_hot_inquiry_is_announced_through_the_outbox(store: Store) -> None:
    rt = build_runtime(make_settings(store.url, hot_threshold=21), store=store)
    handler = InboxHandler(rt.pipeline, inbox_domains={"leads.example.com"})
    server = SMTPServerThread(handler, max_message_bytes=MAX_BYTES).start()
    try:
        send(server, inquiry())
        server.drain()
    finally:
        server.stop()
    with store.session() as s:
        lead = get_lead(s, email="jane@acme-robotics.example")
        assert (lead.temperature, lead.status) == ("hot", "announced")
        assert [(o.kind, o.lead_id) for o in s.scalars(select(OutboxMessage))] == [
            ("announce", lead.id)
        ]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_store_down_answers_451_so_the_sender_retries(tmp_path: object) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nothing"
    rt = build_runtime(make_settings(url))
    handler = InboxHandler(rt.pipeline, inbox_domains={"leads.example.com"})
    server = SMTPServerThread(handler, max_message_bytes=MAX_BYTES).start()
    try:
        with pytest.raises(smtplib.SMTPDataError) as err:
            send(server, inquiry())
        assert err.value.smtp_code == 451
    finally:
        server.stop()


def test_accepted_but_unprocessed_is_finished_at_start_up(runtime: Runtime, store: Store) -> None:
    """A crash between the 250 and parsing loses nothing: start-up processes pending input."""
    raw_id, new = runtime.pipeline.accept(bytes(inquiry()), channel="smtp")
    assert new
    with store.session() as s:
        assert list(s.scalars(select(Lead))) == []
    assert runtime.pipeline.process_pending() == 1
    with store.session() as s:
        assert get_lead(s, email="jane@acme-robotics.example").id is not None
        raw = s.get(RawInput, raw_id)
        assert raw is not None and raw.status == "processed"
