"""Ten written samples sent over real SMTP (aiosmtpd + smtplib) end as the leads they state."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from bot.runtime import build_runtime
from ingest.smtp import InboxHandler, SMTPServerThread
from storage.db import Store
from storage.leads import get_lead
from storage.models import Lead, RawInput
from tests.conftest import make_settings
from tests.ingest import mail_samples_auto, mail_samples_fwd, mail_samples_intl
from tests.ingest.mail_samples import INTERNAL, Sample

BY_ID = {
    s.id: s
    for s in (*mail_samples_intl.SAMPLES, *mail_samples_fwd.SAMPLES, *mail_samples_auto.SAMPLES)
}
LEADS = [
    "outlook-de-html-forward-related-tnef",
    "gmail-fr-reply-quoted",
    "ru-koi8r-base64",
    "zh-gb2312-signature",
    "ja-iso2022jp-signature",
    "eai-smtputf8-address",
    "ru-outlook-forward",
    "outlook-name-only-address-in-signature",
]
NOT_LEADS = ["calendar-accepted-method-reply", "oof-subject-0"]


@pytest.fixture
def smtp(store: Store) -> Iterator[SMTPServerThread]:
    settings = make_settings(store.url, internal_domains=",".join(INTERNAL))
    runtime = build_runtime(settings, store=store)
    handler = InboxHandler(runtime.pipeline, inbox_domains={"leads.example.com"})
    server = SMTPServerThread(handler, max_message_bytes=1_000_000).start()
    yield server
    server.stop()


def send(server: SMTPServerThread, sample: Sample) -> None:
    data = sample.raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    options = ["SMTPUTF8"] if any(b > 127 for b in data.split(b"\r\n\r\n", 1)[0]) else []
    with smtplib.SMTP("127.0.0.1", server.port, timeout=30) as client:
        client.sendmail("sender@example.org", ["leads@leads.example.com"], data, options)


def test_samples_over_smtp_become_the_stated_leads(smtp: SMTPServerThread, store: Store) -> None:
    for sample_id in LEADS + NOT_LEADS:
        send(smtp, BY_ID[sample_id])
    smtp.drain()
    with store.session() as s:
        statuses = {r.status for r in s.scalars(select(RawInput))}
        assert statuses == {"processed", "archived"}, statuses
        assert len(list(s.scalars(select(Lead)))) == len(LEADS)
        for sample_id in LEADS:
            expect = BY_ID[sample_id].expect
            if "email" not in expect:
                continue
            lead = get_lead(s, email=str(expect["email"]))
            for name in ("name", "company", "title", "phone", "forwarded_by"):
                if name in expect:
                    assert getattr(lead, name) == expect[name], (sample_id, name)
