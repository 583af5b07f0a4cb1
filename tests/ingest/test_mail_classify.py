"""Auto-replies, bounces and bulk mail are never leads; company and country from domains."""

# ruff: noqa: RUF001 - samples in Cyrillic on purpose

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


def test_reader_and_scoring_agree_on_webmail() -> None:
    """An ISP's or a regional provider's mailbox names no employer, and scores as webmail."""
    from scoring.conditions import Vocabulary, classify_domain

    vocab = Vocabulary({}, frozenset(), frozenset())
    for domain in ("yahoo.com.mx", "msa.hinet.net", "cox.net", "docomo.ne.jp", "web.de"):
        result = verdict(f"From: Ken Mori <ken@{domain}>\nSubject: Pricing")
        assert isinstance(result, Inquiry)
        assert result.company is None, domain
        assert classify_domain(domain, vocab) == "webmail", domain
    assert company_from_domain("facebook.com") == "Facebook"


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


def mime(headers: str, parts: str) -> Inquiry | NotALead:
    return verdict(
        headers + '\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b"', parts
    )


DSN = (
    "Reporting-MTA: dns; mx.acme.example\n\nFinal-Recipient: rfc822; bob@acme.example\n"
    "Action: failed\nStatus: 5.1.1\n"
)


@pytest.mark.parametrize(
    ("headers", "body", "kind"),
    [
        # Structure: RFC 5321 null reverse-path, SNS headers of any name, list fields beyond List-Id.
        ("From: j@acme.example\nReturn-Path: <>\nSubject: Re: Pricing", "x", "bounce"),
        ("From: j@acme.example\nEnvelope-From: <>\nSubject: hi", "x", "bounce"),
        ("From: SES <no-reply@sns.amazonaws.com>\nx-amz-sns-message-id: 1\nSubject: AWS Notification Message",
         '{"notificationType": "Bounce"}', "bounce"),
        ("From: neko-admin@lists.example\nList-Subscribe: <mailto:s@lists.example>", "x", "bulk"),
        # An SMS gateway's postmaster answering with a "Re:" subject.
        ("From: post_master@vtext.example\nSubject: Re:Test message",
         "Error: Invalid user address\n550 - Requested action not taken: no such user here", "bounce"),
        # Text told apart by its sender and shape, in several languages.
        ("From: no-reply@x1.dion.example\nSubject: メールエラー通知",
         "送信先のメールボックスが一杯のため、送信できませんでした。\n<kiji@x1.dion.example>", "bounce"),
        ("From: Symantec_AntiVirus_for_SMTP_Gateways@csri.example\nSubject: Delivery failure notification",
         "Your message could not be delivered to the following recipients:\nbob@prev.example", "bounce"),
        ("From: imss@kviv.example\nSubject: Mail could not be delivered",
         "****** Message from InterScan Messaging Security Suite ******\n\n"
         "The following mail could not be delivered.\nUnable to deliver message to <isam@kviv.example>",
         "bounce"),
        ("From: ops.gateway@socgen.example\nSubject: RE: Your message to sales : non remis",
         "*****\nVotre message n'a pas pu etre delivre a\nduke@ald.example\n*****\n"
         "Your message could not be delivered to\nduke@ald.example\n", "bounce"),
        ("From: Kim <kim@mx.example>\nSubject: Warning: message delayed 24 hours",
         "This message was created automatically by mail delivery software.\n"
         "A message that you sent has not yet been delivered to one or more of its recipients.\n"
         "  bob@acme.example\n", "bounce"),
        ("From: info@mail.example\nSubject: =?UTF-8?B?0JLQsNGI0LUg0YHQvtC+0LHRidC10L3QuNC1?=",
         "Это письмо создано автоматически сервером Mail.Ru, отвечать на него не нужно.\n"
         "К сожалению, Ваше письмо не может быть доставлено: bob@mail.example", "bounce"),
        # Complaints a mailbox provider sends outside ARF (Microsoft JMRP).
        ("From: staff@hotmail.example\nSubject: complaint about message from 192.0.2.1", "", "bounce"),
        # List software, an absence notice without headers, a challenge-response filter.
        ("From: neko-admin@example.org\nSubject: You are not member (neko ML)",
         "You are not a member of this mailing list <neko@example.org>.", "bulk"),
        ("From: a.b@example.lv\nSubject: Arpus biroja atrasanas automatiska atbilde: quote",
         "Thank you for your email.\n\nI am out of office and will be back on Tuesday 9:00.", "auto_reply"),
        ("From: u@bluebottle.example\nSubject: RE: Pricing",
         "This account is protected by Bluebottle. Please click on the following link to have your "
         "address added to the recipient's allowed list and to ensure delivery of your email.\n\n"
         "http://www.bluebottle.example/verification/1234", "auto_reply"),
    ],
)  # fmt: skip
def test_machine_mail_told_by_sender_shape_and_text(headers: str, body: str, kind: str) -> None:
    result = verdict(headers, body)
    assert isinstance(result, NotALead), result
    assert result.kind == kind, result.reason


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ("From: Tom <tom@acme.example>\nSubject: Undeliverable parcel", "The parcel is undeliverable. Please call me."),
        ("From: Tom <tom@acme.example>\nSubject: Delivery failure", "Your truck could not reach our farm, rebook?"),
        ("From: Tom <tom@acme.example>\nSubject: Undelivered email",
         "My email to sales@rep.example could not be delivered. Please send a quote for 40 units."),
        ("From: Tom <tom@acme.example>\nSubject: Your sales address bounces",
         "Delivery to the following recipient failed permanently:\n\n  sales@rep.example\n\n"
         "That is what I got. Can you fix it? We need a quote for 40 units."),
        ("From: Jane <jane@acme.example>\nSubject: Out of office until Monday - please send quote to Anna",
         "I'm travelling until Monday. Please send the quote to anna@acme.example."),
        ("From: Jane <jane@acme.example>\nSubject: Question about autoreply settings",
         "I'm away next week; can your product set an auto-reply for my team? Quote for 20 seats."),
        ("From: Jane <jane@acme.example>\nSubject: Re: Automatic reply: Pricing\nIn-Reply-To: <a@b>",
         "Got your auto-reply. When is Mark back? I am out of the office myself next week."),
        ("From: System Administrator <it@acme.example>\nSubject: Licence renewal quote",
         "Please send a renewal quote for 120 seats."),
        ("From: 5551234567@vtext.example\nSubject: Re: Test message\nIn-Reply-To: <a@b>",
         "Yes please send the quote for 3 units to jo@example.net"),
        ("From: Shop <noreply@shop.example>\nReply-To: Lucy <lucy@park.example>\nSubject: New message",
         "Lucy wrote: my earlier email could not be delivered, so I use your form. Quote 3 weeks."),
    ],
)  # fmt: skip
def test_people_who_write_like_a_notice_stay_leads(headers: str, body: str) -> None:
    result = verdict(headers, body)
    assert isinstance(result, Inquiry), result


def test_a_bounce_forwarded_as_an_attachment_with_a_request_stays_a_lead() -> None:
    bounce = (
        "--b\nContent-Type: text/plain\n\nSee the bounce: please send pricing for 40 units of X200.\n"
        "--b\nContent-Type: message/rfc822\n\nFrom: MAILER-DAEMON@mx.acme.example\n"
        "Subject: Undelivered Mail\nContent-Type: multipart/report; report-type=delivery-status;"
        ' boundary="c"\n\n--c\nContent-Type: text/plain\n\nfailed\n--c\n'
        "Content-Type: message/delivery-status\n\n" + DSN + "--c--\n--b--"
    )
    result = mime("From: Tom <tom@acme.example>\nSubject: Fwd: Undelivered Mail", bounce)
    assert isinstance(result, Inquiry), result
    assert result.email == "tom@acme.example"


def test_a_bounce_passed_on_without_a_word_waits_for_review() -> None:
    body = (
        "Forward the message.\n\nBegin forwarded message:\n\n"
        "> From: Mail Delivery Subsystem <MAILER-DAEMON>\n> Subject: Returned mail\n>\n"
        "> ----- The following addresses had permanent fatal errors -----\n> <bob@acme.example>\n"
    )
    result = verdict(
        "From: Tom <tom@acme.example>\nSubject: Fwd: Returned mail: see transcript", body
    )
    assert isinstance(result, NotALead) and result.kind == "review", result


def test_a_reps_forward_of_a_bounce_never_makes_the_daemon_a_lead() -> None:
    body = (
        "FYI\n\n---------- Forwarded message ---------\n"
        "From: Mail Delivery System <MAILER-DAEMON@mx.acme.example>\n"
        "Date: Fri, 2 Jan 2026 at 10:00\nSubject: Undelivered Mail Returned to Sender\n"
        "To: <rita@ourco.com>\n\nYour message could not be delivered to bob@acme.example.\n"
    )
    result = verdict("From: Rita <rita@ourco.com>\nSubject: Fwd: Undelivered Mail", body)
    assert isinstance(result, NotALead), result


@pytest.mark.parametrize(
    ("domain", "company"),
    [
        ("mit.edu", "MIT"),
        ("ibm.com", "IBM"),
        ("acme.com", "Acme"),
        ("acme-corp.co.uk", "Acme Corp"),
    ],
)
def test_a_short_domain_label_is_an_acronym(domain: str, company: str) -> None:
    assert company_from_domain(domain) == company
