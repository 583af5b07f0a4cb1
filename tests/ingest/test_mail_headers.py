"""Senders and headers: ambiguous addresses refused, decoding, dates, dedup keys, kind."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from ingest.inquiry import Inquiry, NotALead
from ingest.mail import read_email
from storage.errors import ParseError

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def raw_mail(headers: str, body: str = "Hello, please send a quote.") -> bytes:
    return (headers.strip("\n") + "\n\n" + body + "\n").encode("utf-8")


def lead(raw: bytes, **kwargs: object) -> Inquiry:
    result = read_email(raw, received_at=NOW, **kwargs)  # type: ignore[arg-type]
    assert isinstance(result, Inquiry), result
    return result


def test_plain_inquiry() -> None:
    result = lead(raw_mail("From: Jane Doe <Jane.Doe@Acme.com>\nSubject: Pricing"))
    assert result.email == "jane.doe@acme.com"
    assert result.name == "Jane Doe"
    assert result.kind == "email_inquiry"
    assert result.source == "email"
    assert result.subject == "Pricing"
    assert result.text == "Hello, please send a quote."


@pytest.mark.parametrize(
    "from_value",
    [
        "alice@example.org)<bob@example.org>",  # CVE-2023-27043
        "alice@example.org, bob@example.org",
        "Alice <alice@example.org>, Bob <bob@example.org>",
        "alice@example.org <bob@example.org>",  # spoofing display name
        "Doe, Jane <jane@example.org>",  # unquoted comma: two mailboxes to a parser
        "undisclosed-recipients:;",
        "not an address",
        "jane@localhost",
        "",
    ],
)
def test_ambiguous_or_unusable_sender_is_refused(from_value: str) -> None:
    with pytest.raises(ParseError):
        read_email(raw_mail(f"From: {from_value}\nSubject: x"), received_at=NOW)


def test_several_from_headers_are_refused() -> None:
    raw = raw_mail("From: a@example.org\nFrom: b@example.org\nSubject: x")
    with pytest.raises(ParseError, match="From"):
        read_email(raw, received_at=NOW)


def test_missing_from_and_non_email_input_are_refused() -> None:
    with pytest.raises(ParseError):
        read_email(raw_mail("Subject: nobody"), received_at=NOW)
    with pytest.raises(ParseError):
        read_email(b"", received_at=NOW)
    with pytest.raises(ParseError):
        read_email(b"\x00\x01\x02 binary junk", received_at=NOW)


def test_rfc2047_display_name_may_hold_a_comma() -> None:
    result = lead(raw_mail("From: =?UTF-8?B?Rm9vLCBCYXI=?= <foo.bar@example.com>"))
    # "Foo, Bar" stays one name (Last, First), read in First Last order.
    assert (result.email, result.name) == ("foo.bar@example.com", "Bar Foo")


def test_rfc2047_newline_is_stripped_from_subject_and_name() -> None:
    raw = raw_mail(
        "From: =?utf-8?q?Jane=0AX-Evil=3A_1?= <jane@acme.com>\n"
        "Subject: =?utf-8?q?Hello=0D=0ABcc=3A_victim@example.org?="
    )
    result = lead(raw)
    assert result.subject == "Hello Bcc: victim@example.org"
    assert result.name == "Jane X-Evil: 1"
    assert "\n" not in (result.subject or "") + (result.name or "")


def test_long_subject_and_control_characters_are_capped() -> None:
    result = lead(raw_mail("From: jane@acme.com\nSubject: " + "\u202eab\x07c " * 400))
    assert result.subject is not None and len(result.subject) <= 500
    assert "\u202e" not in result.subject and "\x07" not in result.subject


def test_raw_8bit_header_is_decoded() -> None:
    raw = "From: Jérôme Dupont <jerome@acme.fr>\nSubject: Devis".encode("latin-1") + b"\n\nx\n"
    result = lead(raw)
    assert result.name == "Jérôme Dupont"


@pytest.mark.parametrize("codec", ["koi8-r", "cp1251"])
def test_raw_8bit_headers_are_read_in_the_charset_the_text_declares(codec: str) -> None:
    # Legacy clients write the headers unencoded in the charset of the text they declare.
    head = "From: Иван Петров <ivan@zavod.ru>\nSubject: Запрос цены на 50 лицензий\n"
    head += f'Content-Type: text/plain; charset="{codec}"'
    raw = head.encode(codec) + b"\n\n" + "Добрый день, пришлите предложение.".encode(codec)
    result = lead(raw)
    assert (result.name, result.subject) == ("Иван Петров", "Запрос цены на 50 лицензий")
    assert result.text == "Добрый день, пришлите предложение."


def test_raw_utf8_headers_stay_utf8_whatever_the_text_declares() -> None:
    head = 'From: Jörg Müller <joerg@acme.de>\nSubject: Grüße\nContent-Type: text/plain; charset="koi8-r"'
    result = lead(head.encode() + b"\n\nHallo\n")
    assert (result.name, result.subject) == ("Jörg Müller", "Grüße")


@pytest.mark.parametrize(
    ("from_value", "name", "email"),
    [
        ("Joe Q. Public <john.q.public@example.com>", "Joe Q. Public", "john.q.public@example.com"),
        ("Dr. A. Smith <a.smith@acme.example>", "Dr. A. Smith", "a.smith@acme.example"),
        ("Sandy M. <sandy@acme.example>", "Sandy M.", "sandy@acme.example"),
        ("Big Bug bb@bug.example", "Big Bug", "bb@bug.example"),
        ("Jane@Acme.example <jane@acme.example>", None, "jane@acme.example"),  # named by itself
        (  # adjacent encoded words are one text: no space between them (RFC 2047 6.2)
            "=?UTF-8?B?TXlTdXJ2ZXk=?= =?UTF-8?B?LmNvbSAmIEM=?= =?UTF-8?B?YXJvbCBBZGE=?="
            " =?UTF-8?B?bXM=?= <carol@mysurvey.example>",
            "MySurvey.com & Carol Adams",
            "carol@mysurvey.example",
        ),
        (
            "=?utf-8?q?J=C3=B6rg?= =?utf-8?q?_M=C3=BCller?= <j@acme.example>",
            "Jörg Müller",
            "j@acme.example",
        ),
    ],
)
def test_obsolete_but_unambiguous_senders_are_read(
    from_value: str, name: str | None, email: str
) -> None:
    result = lead(raw_mail(f"From: {from_value}\nSubject: Quote"))
    assert (result.name, result.email) == (name, email)


@pytest.mark.parametrize("start", [b"\xef\xbb\xbf", b"\r\n\r\n", b"\n"])
def test_a_byte_order_mark_or_blank_lines_before_the_headers_are_ignored(start: bytes) -> None:
    result = lead(start + raw_mail("From: Jane Doe <jane@acme.example>\nSubject: Quote"))
    assert (result.email, result.subject) == ("jane@acme.example", "Quote")


def test_a_truncated_base64_encoded_word_is_read_not_a_crash() -> None:
    # Base64 of a length no encoder writes (a mailer cut the word short): the stdlib raises
    # HeaderParseError for the whole header; each word is decoded on its own instead.
    raw = raw_mail(
        "From: =?UTF-8?B?SGFucyBNw7xsbGVyX?= <hans.mueller@kunde.example>\n"
        "Subject: =?UTF-8?B?QW5mcmFnZSBmw7xyIEFuZ2Vib3RzX?= =?UTF-8?Q?_(dringend)?="
    )
    result = lead(raw)
    assert (result.name, result.subject) == ("Hans Müller", "Anfrage für Angebots (dringend)")


def test_iso_2022_jp_subject() -> None:
    raw = b"From: t@example.jp\nSubject: =?iso-2022-jp?B?GyRCJEckOSRoGyhC?=\n\nbody\n"
    assert lead(raw).subject == "ですよ"


def test_unknown_charset_in_subject_keeps_the_message() -> None:
    raw = b"From: t@example.com\nSubject: =?x-unknown?q?caf=C3=A9?=\n\nbody\n"
    assert lead(raw).subject == "café"


def test_date_header_is_used_when_sane() -> None:
    result = lead(raw_mail("From: j@acme.com\nDate: Mon, 24 Feb 2025 10:00:00 +0100"))
    assert result.occurred_at == datetime(2025, 2, 24, 9, 0, tzinfo=UTC)
    assert result.occurred_at.tzinfo is UTC


@pytest.mark.parametrize(
    "date", ["garbage", "Mon, 24 Feb 2099 10:00:00 +0000", "Thu, 01 Jan 1970 00:00:00 +0000"]
)
def test_bad_or_implausible_date_falls_back_to_received_at(date: str) -> None:
    assert lead(raw_mail(f"From: j@acme.com\nDate: {date}")).occurred_at == NOW


def test_naive_received_at_becomes_utc() -> None:
    naive = datetime(2025, 1, 1, 8, 0)
    result = read_email(raw_mail("From: j@acme.com"), received_at=naive)
    assert isinstance(result, Inquiry)
    assert result.occurred_at == datetime(2025, 1, 1, 8, 0, tzinfo=UTC)
    assert result.occurred_at - NOW < timedelta(0)


def test_dedup_key_from_message_id_or_bytes() -> None:
    with_id = raw_mail("From: j@acme.com\nMessage-ID:  <abc.123@acme.com> ")
    assert lead(with_id).dedup_key == "msgid:abc.123@acme.com"
    without = raw_mail("From: j@acme.com")
    assert lead(without).dedup_key == "sha256:" + hashlib.sha256(without).hexdigest()


@pytest.mark.parametrize(
    "headers",
    [
        "Subject: Re: Pricing",
        "Subject: AW: Preise",
        "Subject: SV: Priser",
        "Subject: RE : Tarifs",
        "Subject: Pricing\nIn-Reply-To: <x@ourco.com>",
        "Subject: Pricing\nReferences: <x@ourco.com>",
    ],
)
def test_replies_are_email_reply(headers: str) -> None:
    assert lead(raw_mail("From: j@acme.com\n" + headers)).kind == "email_reply"


def test_reply_to_of_website_form_notification_is_the_lead() -> None:
    raw = raw_mail(
        'From: "Our Website" <wordpress@ourco.com>\n'
        'Reply-To: "Jane Doe" <jane@acme-corp.com>\n'
        "Subject: New contact form submission\n"
        "X-Mailer: PHPMailer 6.8.1",
        "From: Jane Doe <jane@acme-corp.com>\nSubject: Demo\n\nMessage Body:\nI want a demo.\n\n"
        "-- \nThis e-mail was sent from a contact form on Our Co (https://ourco.com)",
    )
    result = lead(raw, internal_domains=frozenset({"ourco.com"}))
    assert result.email == "jane@acme-corp.com"
    assert result.name == "Jane Doe"
    assert result.forwarded_by is None
    assert "I want a demo." in result.text
    assert "contact form on" not in result.text


def test_reply_to_of_external_noreply_sender_is_the_lead() -> None:
    raw = raw_mail("From: no-reply@formservice.io\nReply-To: jane@acme-corp.com\nSubject: Form")
    assert lead(raw).email == "jane@acme-corp.com"


@pytest.mark.parametrize(
    "sender",
    ["noreply@ogone.example", "Do-Not-Reply@bank.example", "ne-pas-repondre@banque.example",
     "no_reply+orders@shop.example", "nao-responda@loja.example", "notify@twitter.example",
     "notifications@tracker.example", "wordpress@blog.example", "www-data@host.example"],
)  # fmt: skip
def test_no_reply_sender_naming_no_one_is_for_review(sender: str) -> None:
    result = read_email(raw_mail(f"From: {sender}\nSubject: Your order"), received_at=NOW)
    assert isinstance(result, NotALead) and result.kind == "review"


@pytest.mark.parametrize("local", ["admin", "webmaster", "website", "info", "alerton"])
def test_a_mailbox_a_person_may_answer_is_a_lead(local: str) -> None:
    assert lead(raw_mail(f"From: {local}@smallfirm.example\nSubject: Quote")).email.startswith(
        local
    )


def test_a_person_whose_address_only_mentions_reply_is_a_lead() -> None:
    assert lead(raw_mail("From: Noreen Replyson <noreen.reply@acme.example>")).email == (
        "noreen.reply@acme.example"
    )


def test_internal_notification_without_external_reply_to_is_internal() -> None:
    raw = raw_mail("From: wordpress@ourco.com\nReply-To: sales@ourco.com\nSubject: Form")
    result = read_email(raw, received_at=NOW, internal_domains=frozenset({"ourco.com"}))
    assert isinstance(result, NotALead) and result.kind == "internal"


def test_smuggled_header_is_not_trusted() -> None:
    # A bare-LF smuggled "Reply-To" on an ordinary sender must not change the lead.
    raw = raw_mail("From: jane@acme.com\nSubject: hi\nReply-To: attacker@evil.example")
    assert lead(raw).email == "jane@acme.com"


GROUP_HEADERS = (
    "To: sales@acme.com\nSubject: Quote for 40 seats\nList-ID: <sales.acme.com>\n"
    "Precedence: list\nMailing-list: list sales@acme.com; contact sales+owners@acme.com\n"
    "List-Post: <https://groups.google.com/a/acme.com/group/sales/post>, <mailto:sales@acme.com>"
)


def test_a_google_group_as_the_sales_inbox_relays_leads_not_bulk() -> None:
    # The team's own group (List-Id under LEADBOT_INTERNAL_DOMAINS) rewrote the From for DMARC
    # and put the person in Reply-To: the person is the lead, the group is where it came through.
    raw = raw_mail(
        f"From: 'Jane Doe' via Sales <sales@acme.com>\nReply-To: Jane Doe <jane@globex.com>\n"
        f"{GROUP_HEADERS}"
    )
    found = lead(raw, internal_domains=frozenset({"acme.com"}))
    assert (found.email, found.name, found.fields["via"]) == (
        "jane@globex.com",
        "Jane Doe",
        "sales@acme.com",
    )
    kept = lead(
        raw_mail(f"From: Jane Doe <jane@globex.com>\n{GROUP_HEADERS}"),
        internal_domains=frozenset({"acme.com"}),
    )
    assert kept.email == "jane@globex.com"


def test_someone_elses_list_stays_bulk() -> None:
    raw = raw_mail(
        "From: 'Jane Doe' via Users <users@lists.example.org>\nReply-To: jane@globex.com\n"
        "List-ID: <users.lists.example.org>\nPrecedence: list\nSubject: Question"
    )
    result = read_email(raw, received_at=NOW, internal_domains=frozenset({"acme.com"}))
    assert isinstance(result, NotALead) and result.kind == "bulk"


def test_a_person_relayed_by_a_list_is_the_lead() -> None:
    raw = raw_mail(
        "From: Philip Balister via USRP-users <usrp-users@lists.ettus.com>\n"
        "Reply-To: Philip Balister <philip@opensdr.com>\nSubject: Re: x"
    )
    assert (lead(raw).email, lead(raw).name) == ("philip@opensdr.com", "Philip Balister")
