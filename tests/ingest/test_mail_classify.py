"""Auto-replies, bounces and bulk mail are never leads; company and country from domains."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ingest.inquiry import Inquiry, NotALead
from ingest.mail import read_email
from ingest.mail.companies import company_from_domain, country_from_domain, is_webmail

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def verdict(headers: str, body: str = "hello") -> Inquiry | NotALead:
    raw = (headers.strip("\n") + "\n\n" + body + "\n").encode()
    return read_email(raw, received_at=NOW, internal_domains=frozenset({"ourco.com"}))


@pytest.mark.parametrize(
    ("headers", "kind"),
    [
        ("From: j@acme.com\nAuto-Submitted: auto-replied", "auto_reply"),
        ("From: j@acme.com\nAuto-Submitted: auto-generated", "auto_reply"),
        ("From: j@acme.com\nX-Autoreply: yes", "auto_reply"),
        ("From: j@acme.com\nX-Autorespond: yes", "auto_reply"),
        ("From: j@acme.com\nX-Auto-Response-Suppress: OOF", "auto_reply"),
        ("From: j@acme.com\nX-Auto-Response-Suppress: All", "auto_reply"),
        ("From: j@acme.com\nSubject: Out of Office: Re: Pricing", "auto_reply"),
        ("From: j@acme.com\nSubject: Automatic reply: Pricing", "auto_reply"),
        ("From: j@acme.com\nSubject: Abwesenheitsnotiz: Preise", "auto_reply"),
        ("From: j@acme.com\nSubject: Réponse automatique : Tarifs", "auto_reply"),
        ("From: j@acme.com\nSubject: Respuesta automática: Precios", "auto_reply"),
        ("From: j@acme.com\nSubject: Risposta automatica: Prezzi", "auto_reply"),
        ("From: MAILER-DAEMON@mx.acme.com\nSubject: failure", "bounce"),
        ("From: postmaster@acme.com\nSubject: hi", "bounce"),
        ("From: j@acme.com\nSubject: Undeliverable: Pricing", "bounce"),
        ("From: j@acme.com\nSubject: Delivery Status Notification (Failure)", "bounce"),
        ("From: j@acme.com\nContent-Type: multipart/report; report-type=delivery-status;"
         ' boundary="b"', "bounce"),
        ("From: j@acme.com\nContent-Type: message/delivery-status", "bounce"),
        ("From: news@acme.com\nPrecedence: bulk", "bulk"),
        ("From: news@acme.com\nPrecedence: list", "bulk"),
        ("From: news@acme.com\nPrecedence: junk", "bulk"),
        ("From: news@acme.com\nList-Id: <news.acme.com>", "bulk"),
        ("From: news@acme.com\nList-Unsubscribe: <mailto:u@acme.com>", "bulk"),
    ],
)  # fmt: skip
def test_not_leads(headers: str, kind: str) -> None:
    result = verdict(headers)
    assert isinstance(result, NotALead)
    assert result.kind == kind
    assert result.reason


@pytest.mark.parametrize(
    "headers",
    [
        "From: j@acme.com\nAuto-Submitted: no",
        "From: j@acme.com\nSubject: Vacation rental inquiry",
        "From: j@acme.com\nSubject: Re: undeliverable parcel",
        "From: j@acme.com\nX-Mailchimp-Campaign: 1",  # a form plugin header is not a list
        "From: j@acme.com\nX-Auto-Response-Suppress: DR",
    ],
)
def test_ordinary_mail_is_not_misclassified(headers: str) -> None:
    assert isinstance(verdict(headers), Inquiry)


def test_classification_comes_before_sender_validation() -> None:
    result = verdict("From: <>\nSubject: Mail delivery failed: returning message to sender")
    assert isinstance(result, NotALead) and result.kind == "bounce"


@pytest.mark.parametrize(
    ("domain", "company", "country"),
    [
        ("acme-corp.co.uk", "Acme Corp", "GB"),
        ("mail.acme.de", "Acme", "DE"),
        ("startup.io", "Startup", None),
        ("gmail.com", None, None),
        ("yahoo.co.jp", None, "JP"),
        ("gmx.net", None, None),
        ("hotmail.fr", None, "FR"),
        ("proton.me", None, None),
        ("mailinator.com", None, None),
    ],
)
def test_company_and_country_from_domain(
    domain: str, company: str | None, country: str | None
) -> None:
    assert company_from_domain(domain) == company
    assert country_from_domain(domain) == country


def test_webmail_sender_has_no_company() -> None:
    result = verdict("From: Jane <jane.doe@gmail.com>\nSubject: Pricing")
    assert isinstance(result, Inquiry)
    assert result.company is None
    assert is_webmail("googlemail.com")


def test_business_sender_company_falls_back_to_domain() -> None:
    result = verdict("From: Jane <jane@acme-corp.co.uk>\nSubject: Pricing")
    assert isinstance(result, Inquiry)
    assert (result.company, result.country) == ("Acme Corp", "GB")


SNS_JSON = (
    '{"Type": "Notification", "TopicArn": "arn:aws:sns:us-east-1:1:ses-bounces", "Message":'
    ' "{\\"notificationType\\":\\"Bounce\\",\\"bounce\\":{\\"bounceType\\":\\"Permanent\\"}}"}'
)


@pytest.mark.parametrize(
    ("headers", "body", "kind"),
    [
        # Amazon SES bounces and complaints delivered through SNS: JSON bodies, SNS headers.
        ("From: AWS Notifications <no-reply@sns.amazonaws.com>\nSubject: AWS Notification Message\n"
         "x-amz-sns-message-type: Notification\nx-amz-sns-topic-arn: arn:aws:sns:us-east-1:1:b",
         SNS_JSON, "bounce"),
        # An ARF complaint report (RFC 5965) forwarded inside a multipart/mixed.
        ('From: staff@isp.example\nSubject: Complaint about message from 192.0.2.1\n'
         'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b"',
         "--b\nContent-Type: text/plain\n\nThis is an email abuse report.\n--b\n"
         "Content-Type: message/feedback-report\n\nFeedback-Type: abuse\nVersion: 1\n--b--",
         "bounce"),
        # An anti-virus gateway and localised delivery reports, sent as ordinary mail.
        ("From: gateway@mx.acme.example\nSubject: Message could not be delivered", "x", "bounce"),
        ("From: j@acme.example\nSubject: Non remis : Tarifs", "x", "bounce"),
        ("From: j@acme.example\nSubject: Échec de la remise du message", "x", "bounce"),
        ("From: j@acme.example\nSubject: Impossibile recapitare: Prezzi", "x", "bounce"),
        ("From: j@acme.example\nSubject: Onbestelbaar: Prijzen", "x", "bounce"),
        ("From: j@acme.example\nSubject: Недоставленное сообщение", "x", "bounce"),
        ("From: j@docomo.example\nSubject: メール送信エラー", "x", "bounce"),
        ("From: j@acme.example\nSubject: 退信通知", "x", "bounce"),
        # List servers writing about a post.
        ("From: sales-owner@lists.acme.example\nSubject: You are not a member of sales", "x", "bulk"),
        ("From: mailman@lists.acme.example\nSubject: Your message awaits moderator approval", "x",
         "bulk"),
    ],
)  # fmt: skip
def test_machine_mail_of_many_kinds_is_never_a_lead(headers: str, body: str, kind: str) -> None:
    result = verdict(headers, body)
    assert isinstance(result, NotALead), result
    assert result.kind == kind


@pytest.mark.parametrize(
    "subject",
    ["Our order was not delivered - can you quote a replacement?", "Re: Non remis : Tarifs",
     "Owner approval needed for 40 seats", "Delivery options for 40 units"],
)  # fmt: skip
def test_people_writing_about_delivery_stay_leads(subject: str) -> None:
    assert isinstance(verdict(f"From: j@acme.example\nSubject: {subject}"), Inquiry)
