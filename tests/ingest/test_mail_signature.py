"""Signature fields: the name, title, company and phone a person signs with, in the shapes
directories and mail clients give them."""

# ruff: noqa: RUF001 - German, French, Japanese and Russian signatures on purpose

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage

import pytest

from ingest.inquiry import Inquiry
from ingest.mail import read_email
from ingest.mail.signature import read_signature


@pytest.mark.parametrize(
    ("lines", "name", "title", "company"),
    [
        (["Doe, Jane", "Senior Counsel", "Enron Corp."], "Jane Doe", "Senior Counsel", "Enron Corp."),
        (["Smith, John A.", "Account Executive", "Northwind Traders Inc."], "John A. Smith",
         "Account Executive", "Northwind Traders Inc."),
        (["Kay Mann", "Attorney", "Enron North America Corp."], "Kay Mann", "Attorney",
         "Enron North America Corp."),
        (["Mary Major", "Research Scientist | Contoso Ltd"], "Mary Major", "Research Scientist",
         "Contoso Ltd"),
        (["Jane Doe", "CEO", "Acme Robotics Inc."], "Jane Doe", "CEO", "Acme Robotics Inc."),
        (["Kate Symes", "Trading Support", "Enron Corp."], "Kate Symes", "Trading Support",
         "Enron Corp."),
    ],
)  # fmt: skip
def test_signature_fields(lines: list[str], name: str, title: str, company: str) -> None:
    found = read_signature(lines, region="US")
    assert (found.name, found.title, found.company) == (name, title, company)


def test_a_company_line_is_not_taken_for_a_last_first_name() -> None:
    assert read_signature(["Acme, Inc."], region="US").name is None


def test_a_sender_without_display_name_gets_the_signature_name_and_title() -> None:
    raw = (
        b"From: jdoe@enron-example.com\nTo: sales@ourco.com\nSubject: Licences\n"
        b"Message-ID: <sig1@enron-example.com>\n\n"
        b"Please send a quote for 20 licences.\n\nRegards,\nDoe, Jane\nSenior Counsel\n"
        b"Enron Corp.\n"
    )
    result = read_email(raw, received_at=datetime(2025, 3, 1, tzinfo=UTC))
    assert isinstance(result, Inquiry)
    assert (result.name, result.title, result.company) == (
        "Jane Doe",
        "Senior Counsel",
        "Enron Corp.",
    )


def _read(sender: str, body: str) -> Inquiry:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "sales@ourco.example"
    msg["Subject"] = "Inquiry"
    msg.set_content(body)
    result = read_email(msg.as_bytes(), received_at=datetime(2026, 1, 5, tzinfo=UTC))
    assert isinstance(result, Inquiry)
    return result


@pytest.mark.parametrize(
    ("sender", "body", "fields"),
    [
        ("m.mustermann@mustermann-maschinenbau.de",
         "Bitte senden Sie uns ein Angebot.\n\nMit freundlichen Grüßen\n\nMax Mustermann\n"
         "Leiter Einkauf\nMustermann Maschinenbau GmbH\nHauptstraße 5, 10115 Berlin\n"
         "Tel.: +49 30 1234567\nFax: +49 30 1234568",
         ("Max Mustermann", "Leiter Einkauf", "Mustermann Maschinenbau GmbH", "+49301234567")),
        ("jean.dupont@sgl-logistique.fr",
         "Merci de nous adresser un devis.\n\nCordialement,\n\nJean DUPONT\nDirecteur Commercial\n"
         "Société Générale de Logistique SAS\n12 rue de la Paix\n75002 Paris\nTél : 01 42 68 53 00",
         ("Jean DUPONT", "Directeur Commercial", "Société Générale de Logistique SAS",
          "+33142685300")),
        ("yamada@sample.co.jp",
         "見積もりをお願いします。\n\nよろしくお願いいたします。\n\n山田 太郎\n"
         "株式会社サンプル 営業部 部長\nTEL: 03-1234-5678",
         ("山田 太郎", "部長", "株式会社サンプル", "+81312345678")),
        ("ivan@stroy.ru",
         "Пришлите коммерческое предложение.\n\nС уважением,\nИван Петров\n"
         "Директор по закупкам\nООО «Строй»\nТел.: +7 495 123-45-67",
         ("Иван Петров", "Директор по закупкам", "ООО «Строй»", "+74951234567")),
        # No display name: the address tells which line is the name; the phone is not the fax.
        ("pat.smith@bigco.com",
         "Need a quote.\n\nPat Smith\nSenior Buyer\nBigCo Industries, Inc.\n"
         "212-555-7788 (fax)\nMobile: 917 555 1234",
         ("Pat Smith", "Senior Buyer", "BigCo Industries, Inc.", "+19175551234")),
        # Last, First, a title and the company on one line, the employer abbreviating the domain.
        ('"Doe, Jane" <jane.doe@utexas.edu>',
         "Could you send pricing?\n\nThanks,\nJane\n\nJane Doe\nSenior Lecturer\n"
         "Department of Finance\nUniversity of Texas at Austin\nVoice: (512) 471-5853",
         ("Jane Doe", "Senior Lecturer", "University of Texas at Austin", "+15124715853")),
        # A university signature in two columns, and a list of organisations after the title.
        ("jdoe@cs.utexas.edu",
         "I think the answer is no.\n\n-- \nJohn Doe                          jdoe@cs.utexas.edu\n"
         "Dept. of Computer Sciences        (512) 471-9583\nUniversity of Texas at Austin",
         ("John Doe", None, "University of Texas at Austin", "+15124719583")),
        ("mary@cmu.edu",
         "Thanks for the pointers.\n\n--\nMary Jones, Research Associate, Robotics Institute, "
         "Carnegie Mellon University\nmary@cmu.edu  412-268-3818",
         ("Mary Jones", "Research Associate", "Carnegie Mellon University", "+14122683818")),
        ('"Frank Levy" <franklevy@fairair.com>',
         "Let's talk.\n\n****\nFrank Levy\nCEO, FairAir\n415-378-4942 cell\n****",
         ("Frank Levy", "CEO", "FairAir", "+14153784942")),
    ],
)  # fmt: skip
def test_signature_shapes(sender: str, body: str, fields: tuple[str | None, ...]) -> None:
    found = _read(sender, body)
    assert (found.name, found.title, found.company, found.phone) == fields


@pytest.mark.parametrize(
    "body",
    [
        "The meeting is at:\n\nHilton Hotel\n1600 Main Street\nHouston, TX 77002",
        "We need:\n\nRed Widgets\nBlue Widgets\nGreen Widgets",
        "Please call John Lee at 415-555-2671 about the order.\n\nThanks",
        "Hello,\nThis is a test\n\nSo there.\n\nMe.",
        "Thanks,\nThe Acme Team",
        "Best wishes,\nDinna",
    ],
)
def test_text_that_is_no_signature_gives_no_fields(body: str) -> None:
    found = _read("jsmith@x-corp.com", body)
    assert (found.name, found.title, found.phone) == (None, None, None)
    assert found.company == "X Corp"  # the domain's, nothing from the text


def test_a_bold_signature_as_gmail_writes_it_in_plain_text() -> None:
    body = (
        "Could you send us a quote?\n\n*Richard Lindhout* | *Eigenaar*\n"
        "*Bel mij +31 6 22 22 22 22*\n\n*KVK      50000000*\n"
    )
    lead = _read("Richard Lindhout <richard@webridge.nl>", body)
    assert lead.text == "Could you send us a quote?"
    assert (lead.name, lead.title, lead.phone) == ("Richard Lindhout", "Eigenaar", "+31622222222")


def test_a_mailing_lists_footer_is_no_part_of_the_text() -> None:
    body = (
        "Is there a bulk delete in the API?\n\n"
        "_______________________________________________\nriak-users mailing list\n"
        "riak-users@lists.basho.com\n"
        "http://lists.basho.com/mailman/listinfo/riak-users_lists.basho.com\n"
    )
    assert _read("Sam Lee <sam@acme-corp.com>", body).text == "Is there a bulk delete in the API?"


@pytest.mark.parametrize(
    ("body", "text"),
    [
        (":+1:\n\n-Abhishek Kona\n", ":+1:"),
        ("Sounds good, send the contract.\n\n— Sam\n", "Sounds good, send the contract."),
        # Lists stay whole: an item, the one item under a colon, a word that is not the author.
        ("We need:\n- Analytics\n- Reporting\n", "We need:\n- Analytics\n- Reporting"),
        ("Two modules:\n\n-Advanced Analytics\n", "Two modules:\n\n-Advanced Analytics"),
        ("Which plan covers it?\n\n-Pricing\n", "Which plan covers it?\n\n-Pricing"),
        ("Our list:\n- Analytics\n\n- Reporting Suite\n", "Our list:\n- Analytics\n\n- Reporting Suite"),
        # The author's own name signs off however written (talon's bruteforce cases).
        ("Hey!\n-sam\n", "Hey!"),
        ("Hey!\n\n- sam\n", "Hey!"),
        ("Hey man! How r u?\n---\nSam\n", "Hey man! How r u?"),
    ],
)  # fmt: skip
def test_a_name_after_a_dash_signs_off(body: str, text: str) -> None:
    assert _read("Sam Lee <sam@acme-corp.com>", body).text == text


@pytest.mark.parametrize(
    ("body", "phone"),
    [
        ("We need 40 seats. Please call me at +49 30 1234567 tomorrow.\n\nThanks\nJan", "+49301234567"),
        ("We need 40 seats. You can reach me on 020 7946 0958.\n\nRegards,\nJan Novak", "+442079460958"),
        ("Nous voulons 40 licences. Mon numéro : +33 1 42 68 53 00", "+33142685300"),
        # A time, an order number or a price near the words is no number to call.
        ("Our budget is 50000. Call me at 10:30 tomorrow.", None),
        ("Order 4561237 was paid; call me when it ships.", None),
    ],
)  # fmt: skip
def test_a_number_given_in_the_text_is_the_phone(body: str, phone: str | None) -> None:
    assert _read("Jan Novak <jan@acme.co.uk>", body).phone == phone


@pytest.mark.parametrize(
    ("body", "text", "phone"),
    [
        ("We need 40 seats.\n\n+44 20 7946 0958\n", "We need 40 seats.", "+442079460958"),
        ("We need 40 seats.\n\ngngr\n020 7946 0958\n", "We need 40 seats.", "+442079460958"),
        ("We need 40 seats.\n\nMobile: 07911 123456\n", "We need 40 seats.", "+447911123456"),
        # A number that is no phone there stays text: an order number, a date.
        ("Our order number:\n\n4500012345\n", "Our order number:\n\n4500012345", None),
        ("Delivered on:\n\n2024-05-01\n", "Delivered on:\n\n2024-05-01", None),
    ],
)  # fmt: skip
def test_a_phone_number_ending_the_message_is_the_senders(
    body: str, text: str, phone: str | None
) -> None:
    lead = _read("Jan Novak <jan@acme.co.uk>", body)
    assert (lead.text, lead.phone) == (text, phone)


NOTICE = (
    "This message is for the named person's use only. It may contain confidential,\n"
    "proprietary or legally privileged information. If you are not the intended recipient,\n"
    "please delete it and notify the sender."
)


@pytest.mark.parametrize(
    "between",
    ["_" * 60 + "\n", "CONFIDENTIALITY NOTICE:\n", "*** Disclaimer ***\n", ""],
)
def test_a_notice_right_under_the_signature_leaves_the_signature(between: str) -> None:
    # No blank line between the signature and the notice: one paragraph, cut where it opens.
    body = (
        "Could you send us a quote for 40 seats?\n\nLuis Rivera\nDirector de Compras\nEndesa\n"
        f"Tel.: +34 915 668 615\n{between}{NOTICE}\n"
    )
    lead = _read("lrivera@endesa.es", body)
    assert lead.text == "Could you send us a quote for 40 seats?"
    assert (lead.name, lead.title, lead.phone) == (
        "Luis Rivera",
        "Director de Compras",
        "+34915668615",
    )


def test_a_notice_in_its_own_paragraph_goes_whole() -> None:
    # Its first line is long: nothing of it is mistaken for the text above a notice.
    body = f"Could you send us a quote?\n\nJane Doe\nAcme Corp\n+1 212 555 0142\n\n{NOTICE}\n"
    lead = _read("Jane Doe <jane@acme-corp.com>", body)
    assert lead.text == "Could you send us a quote?" and lead.phone == "+12125550142"


@pytest.mark.parametrize(
    "footer",
    [
        "Gesendet von Outlook für Android<https://aka.ms/AAb9ysg>",
        "Von Outlook für iOS gesendet<https://aka.ms/o0ukef>",
        "Envoyé à partir de Outlook pour iOS<https://aka.ms/o0ukef>",
        "Sent from TypeApp<http://www.typeapp.com/r?b=2621>",
        "Sent from Mail<https://go.microsoft.com/fwlink/?LinkId=550986> for Windows 10",
        "Verzonden vanuit Outlook voor iOS",
        "Sendt fra Outlook for Android",
        "Skickat från Outlook för Android",
        "Отправлено из мобильной Почты Mail.ru",
        "Sent from BlueMail",
    ],
)
def test_a_mail_apps_footer_in_any_language_is_no_part_of_the_text(footer: str) -> None:
    lead = _read("Pat Customer <pat@contoso.example>", f"Please quote 20 units.\n\n{footer}\n")
    assert lead.text == "Please quote 20 units."


def test_a_sentence_that_starts_like_an_apps_footer_is_text() -> None:
    body = "Hi,\nSent from our Berlin office yesterday\nwe need 40 seats.\nCan you quote?\n"
    assert _read("Pat Customer <pat@contoso.example>", body).text == body.strip()


def test_two_dashes_before_the_authors_name_sign_off() -> None:
    lead = _read("daniel@acme-corp.com", "Please quote 40 seats.\n\n--Daniel\n")
    assert lead.text == "Please quote 40 seats."


@pytest.mark.parametrize(
    "footer",
    [
        # A webmail's advertisement under a long rule, after a closing without umlauts.
        "Viele Gruesse\n\n" + "_" * 58 + "\nMit WEB.DE FreePhone mit hoechster Qualitaet ab 0 "
        "Ct./Min.\nweltweit telefonieren! http://freephone.web.de/?mc=021201",
        # Mailman 3's footer.
        "_" * 47 + "\nUSRP-users mailing list -- usrp-users@lists.ettus.example\n"
        "To unsubscribe send an email to usrp-users-leave@lists.ettus.example",
    ],
)
def test_a_footer_under_a_rule_is_no_part_of_the_text(footer: str) -> None:
    body = f"Please quote 40 seats.\n\n{footer}\n"
    assert _read("Oetzi <oetzi@web.de>", body).text == "Please quote 40 seats."


@pytest.mark.parametrize(
    "closing",
    ["A plus", "À bientôt", "Freundliche Grüsse", "LG", "Bis bald", "Un abrazo", "Groetjes"],
)
def test_casual_and_swiss_closings_open_the_signature(closing: str) -> None:
    # The sender's name is not the signed one: the closing alone says where the signature starts.
    body = f"Please quote 40 seats.\n\n{closing}\nJosette Fortish\nKalipsa SAS\n+33 2 92 89 02 55\n"
    lead = _read("Pat Customer <pat@contoso.example>", body)
    assert lead.text == "Please quote 40 seats." and lead.phone == "+33292890255"


@pytest.mark.parametrize("label", ["Internet", "Website", "Homepage", "Webseite", "URL"])
def test_a_web_address_label_is_never_the_company(label: str) -> None:
    body = (
        "Please quote 40 seats.\n\nErik Heinz\n+49 3641 2328165\n"
        f"{label}: http://www.supracon.com/\n"
    )
    assert _read("Erik Heinz <erik.heinz@supracon.com>", body).company == "Supracon"


def test_netease_mail_masters_footer_is_no_part_of_the_text() -> None:
    lead = _read("王盼 <ruoyilei@126.com>", "Please quote 40 seats.\n\n签名由 网易邮箱大师 定制\n")
    assert (lead.text, lead.company) == ("Please quote 40 seats.", None)
