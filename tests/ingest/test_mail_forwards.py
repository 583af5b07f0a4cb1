"""Forwarded inquiries: the original sender becomes the lead, the rep is forwarded_by."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage

import pytest

from ingest.inquiry import Inquiry, NotALead
from ingest.mail import read_email
from ingest.mail.labels import split_run_together
from storage.errors import ParseError

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
INTERNAL = frozenset({"ourco.com"})
ORIGINAL = "Hello, we would like a quote for 500 units.\nCan you deliver by May?"


def forward(body: str, *, html: str | None = None, subject: str = "Fwd: Quote request") -> bytes:
    msg = EmailMessage()
    msg["From"] = "Rita Rep <rita@ourco.com>"
    msg["To"] = "leads@ourco.com"
    msg["Subject"] = subject
    msg["Message-ID"] = "<fwd-1@ourco.com>"
    msg.set_content(body)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    return msg.as_bytes()


def read(raw: bytes) -> Inquiry | NotALead:
    return read_email(raw, internal_domains=INTERNAL, received_at=NOW)


def lead(raw: bytes) -> Inquiry:
    result = read(raw)
    assert isinstance(result, Inquiry), result
    return result


GMAIL = f"""FYI, hot one.

---------- Forwarded message ---------
From: Jane Doe <jane@acme-corp.co.uk>
Date: Mon, Feb 24, 2025 at 10:00 AM
Subject: Quote request
To: <rita@ourco.com>


{ORIGINAL}
"""

OUTLOOK_EN = f"""Please handle.

________________________________
From: Jane Doe <jane@acme-corp.co.uk>
Sent: Monday, February 24, 2025 10:00 AM
To: Rita Rep <rita@ourco.com>
Subject: Quote request

{ORIGINAL}
"""

LOCALISED = {
    "de": ("Von: Jane Doe <jane@acme-corp.co.uk>\nGesendet: Montag, 24. Februar 2025 10:00\n"
           "An: Rita Rep <rita@ourco.com>\nBetreff: Quote request"),
    "fr": ("De : Jane Doe <jane@acme-corp.co.uk>\nEnvoyé : lundi 24 février 2025 10:00\n"
           "À : Rita Rep <rita@ourco.com>\nObjet : Quote request"),
    "es": ("De: Jane Doe <jane@acme-corp.co.uk>\nEnviado el: lunes, 24 de febrero de 2025 10:00\n"
           "Para: Rita Rep <rita@ourco.com>\nAsunto: Quote request"),
    "it": ("Da: Jane Doe <jane@acme-corp.co.uk>\nInviato: lunedì 24 febbraio 2025 10:00\n"
           "A: Rita Rep <rita@ourco.com>\nOggetto: Quote request"),
    "pt": ("De: Jane Doe <jane@acme-corp.co.uk>\nEnviada em: segunda-feira, 24 de fevereiro\n"
           "Para: Rita Rep <rita@ourco.com>\nAssunto: Quote request"),
}  # fmt: skip

APPLE = f"""See below.

Begin forwarded message:

From: Jane Doe <jane@acme-corp.co.uk>
Subject: Quote request
Date: 24 February 2025 at 10:00:00 GMT
To: rita@ourco.com

{ORIGINAL}
"""

THUNDERBIRD = f"""

-------- Forwarded Message --------
Subject: 	Quote request
Date: 	Mon, 24 Feb 2025 10:00:00 +0000
From: 	Jane Doe <jane@acme-corp.co.uk>
To: 	rita@ourco.com

{ORIGINAL}
"""

THUNDERBIRD_ORIGINAL = THUNDERBIRD.replace("Forwarded Message", "Original Message")

YAHOO = f"""

----- Forwarded Message -----
From: Jane Doe <jane@acme-corp.co.uk>
To: rita@ourco.com
Sent: Monday, February 24, 2025, 10:00:00 AM GMT
Subject: Quote request

{ORIGINAL}
"""

ORIGINAL_MESSAGE = f"""
-----Original Message-----
From: "Doe, Jane" [mailto:jane@acme-corp.co.uk]
Sent: Monday, February 24, 2025 10:00 AM
To: Rita Rep
Subject: Quote request

{ORIGINAL}
"""


@pytest.mark.parametrize(
    "body",
    [GMAIL, OUTLOOK_EN, APPLE, THUNDERBIRD, THUNDERBIRD_ORIGINAL, YAHOO, ORIGINAL_MESSAGE],
    ids=["gmail", "outlook", "apple", "thunderbird", "thunderbird-original", "yahoo", "original"],
)
def test_plain_forward_styles_give_the_original_sender(body: str) -> None:
    result = lead(forward(body))
    assert result.email == "jane@acme-corp.co.uk"
    assert result.forwarded_by == "rita@ourco.com"
    assert result.subject == "Quote request"
    assert "500 units" in result.text
    assert "Forwarded" not in result.text and "From:" not in result.text
    assert result.source == "email"
    assert result.kind == "email_inquiry"


def test_forward_keeps_the_reps_note_and_the_original_name() -> None:
    result = lead(forward(GMAIL))
    assert result.fields["forward_note"] == "FYI, hot one."
    assert result.name == "Jane Doe"
    assert result.company == "Acme Corp"
    assert result.country == "GB"


def test_quoted_display_name_with_mailto_is_parsed() -> None:
    result = lead(forward(ORIGINAL_MESSAGE))
    assert result.name == "Doe, Jane"


@pytest.mark.parametrize("lang", sorted(LOCALISED))
def test_localised_outlook_labels(lang: str) -> None:
    body = f"Bitte / please.\n\n{LOCALISED[lang]}\n\n{ORIGINAL}\n"
    result = lead(forward(body, subject="WG: TR: RV: I: Quote request"))
    assert result.email == "jane@acme-corp.co.uk"
    assert result.subject == "Quote request"
    assert result.text.startswith("Hello, we would like")


@pytest.mark.parametrize(
    "from_line",
    [
        "From: jane@acme-corp.co.uk",
        "*From:* Jane <jane@acme-corp.co.uk>",
        "From: Jane <mailto:jane@acme-corp.co.uk>",
    ],
)
def test_from_line_variants(from_line: str) -> None:
    marker = "---------- Forwarded message ---------"
    body = f"{marker}\n{from_line}\nDate: today\nSubject: Hi\n\n{ORIGINAL}"
    assert lead(forward(body)).email == "jane@acme-corp.co.uk"


GMAIL_HTML = """<div dir="ltr">FYI<br><br><div class="gmail_quote"><div dir="ltr"
class="gmail_attr">---------- Forwarded message ---------<br><b>From:</b>
<strong class="gmail_sendername" dir="auto">Jane Doe</strong>
<span dir="auto">&lt;<a href="mailto:jane@acme-corp.co.uk">jane@acme-corp.co.uk</a>&gt;</span><br>
<b>Date:</b> Mon, Feb 24, 2025 at 10:00 AM<br><b>Subject:</b> Quote request<br>
<b>To:</b> &lt;<a href="mailto:rita@ourco.com">rita@ourco.com</a>&gt;<br></div><br><br>
<div dir="ltr"><p>Hello, we would like a quote for 500 units.</p></div></div></div>"""

OUTLOOK_HTML = """<html><head><style>p {color: red}</style></head><body>
<p>Please handle</p><div style="border-top:solid #E1E1E1 1.0pt">
<p><b>From:</b> Jane Doe &lt;jane@acme-corp.co.uk&gt;<br>
<b>Sent:</b> Monday, February 24, 2025 10:00 AM<br><b>To:</b> Rita Rep<br>
<b>Subject:</b> Quote request</p></div><p>Hello, we would like a quote for 500 units.</p>
</body></html>"""


@pytest.mark.parametrize("html", [GMAIL_HTML, OUTLOOK_HTML], ids=["gmail", "outlook"])
def test_html_only_forwards(html: str) -> None:
    msg = EmailMessage()
    msg["From"] = "rita@ourco.com"
    msg["Subject"] = "Fwd: Quote request"
    msg.set_content(html, subtype="html")
    result = lead(msg.as_bytes())
    assert result.email == "jane@acme-corp.co.uk"
    assert "500 units" in result.text
    assert "color" not in result.text


def test_forward_as_rfc822_attachment() -> None:
    inner = EmailMessage()
    inner["From"] = "Jane Doe <jane@acme-corp.co.uk>"
    inner["Subject"] = "Quote request"
    inner.set_content(ORIGINAL)
    outer = EmailMessage()
    outer["From"] = "rita@ourco.com"
    outer["Subject"] = "Fwd: Quote request"
    outer.set_content("See attached inquiry.")
    outer.add_attachment(inner)
    result = lead(outer.as_bytes())
    assert result.email == "jane@acme-corp.co.uk"
    assert result.name == "Jane Doe"
    assert result.forwarded_by == "rita@ourco.com"
    assert result.subject == "Quote request"
    assert "500 units" in result.text
    assert result.fields["forward_note"] == "See attached inquiry."


def test_outlook_forward_with_name_but_no_address_needs_review() -> None:
    body = f"From: Jane Doe\nSent: Monday\nTo: Rita Rep\nSubject: Quote request\n\n{ORIGINAL}"
    result = read(forward(body))
    assert isinstance(result, NotALead)
    assert result.kind == "review"


def test_forward_subject_without_findable_sender_needs_review() -> None:
    result = read(forward("Look at this one, I pasted it:\n\n" + ORIGINAL))
    assert isinstance(result, NotALead) and result.kind == "review"


def test_forward_of_colleague_needs_review_unless_nested_original_is_external() -> None:
    colleague = GMAIL.replace("Jane Doe <jane@acme-corp.co.uk>", "Bob <bob@ourco.com>")
    result = read(forward(colleague))
    assert isinstance(result, NotALead) and result.kind == "review"
    nested = GMAIL.replace(ORIGINAL, GMAIL).replace(
        "Jane Doe <jane@acme-corp.co.uk>", "Bob <bob@ourco.com>", 1
    )
    assert lead(forward(nested)).email == "jane@acme-corp.co.uk"


def test_ambiguous_original_sender_needs_review() -> None:
    body = GMAIL.replace("Jane Doe <jane@acme-corp.co.uk>", "jane@acme-corp.co.uk bob@x.org")
    result = read(forward(body))
    assert isinstance(result, NotALead) and result.kind == "review"


def test_internal_message_that_is_not_a_forward_is_internal() -> None:
    result = read(forward("Lunch at noon?", subject="Lunch"))
    assert isinstance(result, NotALead) and result.kind == "internal"


def test_internal_subdomain_counts_as_internal() -> None:
    raw = forward(GMAIL).replace(b"rita@ourco.com>", b"rita@eu.ourco.com>", 1)
    assert lead(raw).forwarded_by == "rita@eu.ourco.com"


def test_external_forward_is_the_forwarder_lead() -> None:
    raw = forward(GMAIL).replace(b"rita@ourco.com>", b"rita@partner.com>", 1)
    result = lead(raw)
    assert result.email == "rita@partner.com" and result.forwarded_by is None


def _from(address: str, body: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Rita Rep <{address}>"
    msg["To"] = "leads@leads.example.com"
    msg["Subject"] = "Fwd: Quote request"
    msg["Message-ID"] = "<fwd-special@example.com>"
    msg.set_content(body)
    return msg.as_bytes()


@pytest.mark.parametrize(
    "domain", ["corp.local", "acme.lan", "eu.acme.internal", "ad", "dc01.acme.test"]
)
def test_a_rep_on_a_special_use_internal_domain_can_forward(domain: str) -> None:
    """email-validator refuses `.local`, `.test` and friends for mail on the internet; the rep's
    own address is ours, not a lead's, so it is accepted when it is in the internal domains."""
    raw = _from(f"Rita.Rep@{domain.upper()}", GMAIL)
    result = read_email(raw, internal_domains=frozenset({domain}), received_at=NOW)
    assert isinstance(result, Inquiry), result
    assert result.email == "jane@acme-corp.co.uk"
    assert result.forwarded_by == f"rita.rep@{domain}"


def test_a_special_use_domain_outside_ours_is_still_refused() -> None:
    with pytest.raises(ParseError, match="special-use"):
        read_email(_from("rita@corp.local", GMAIL), internal_domains=INTERNAL, received_at=NOW)
    body = GMAIL.replace("jane@acme-corp.co.uk", "jane@customer.local")
    result = read_email(
        _from("rita@corp.local", body), internal_domains=frozenset({"corp.local"}), received_at=NOW
    )
    # The original sender is a lead: a special-use domain is never one, so a person looks at it.
    assert isinstance(result, NotALead) and result.kind == "review", result


YAHOO_ONE_LINE = (
    "FYI, see below.\n\n----- Forwarded Message ----- From: Jane Doe <jane@acme-corp.co.uk> To:"
    " Rita Rep <rita@ourco.com> Sent: Monday, February 24, 2025, 10:00:00 AM GMT Subject: Quote"
    f" request\n{ORIGINAL}\n"
)
NORWEGIAN_ONE_LINE = (
    "-------- Videresendt melding -------- Fra: Jane Doe <jane@acme-corp.co.uk> Dato: 24. feb."
    f" 2025 kl. 10:00 Til: rita@ourco.com Emne: Quote request\n{ORIGINAL}\n"
)
FINNISH = (
    "Lähettäjä: Jane Doe <jane@acme-corp.co.uk>\nLähetetty: maanantai 24. helmikuuta 2025 10.00\n"
    f"Vastaanottaja: rita@ourco.com\nAihe: Quote request\n\n{ORIGINAL}\n"
)
ROMANIAN = (
    "---------- Forwarded message ---------\nDe la: Jane Doe <jane@acme-corp.co.uk>\n"
    f"Dată: luni, 24 feb. 2025\nCătre: rita@ourco.com\nSubiect: Quote request\n\n{ORIGINAL}\n"
)
ESTONIAN = (
    "Saatja: Jane Doe <jane@acme-corp.co.uk>\nSaadetud: 24. veebruar 2025 10:00\n"
    f"Kellele: rita@ourco.com\nTeema: Quote request\n\n{ORIGINAL}\n"
)


@pytest.mark.parametrize("body", [YAHOO_ONE_LINE, NORWEGIAN_ONE_LINE, FINNISH, ROMANIAN, ESTONIAN])
def test_forward_blocks_run_together_or_in_more_languages(body: str) -> None:
    result = lead(forward(body))
    assert result.email == "jane@acme-corp.co.uk"
    assert result.name == "Jane Doe"
    assert result.forwarded_by == "rita@ourco.com"
    assert "500 units" in result.text and "Forwarded" not in result.text


def test_a_sentence_with_colons_is_not_a_header_block() -> None:
    body = "Note: from: the team, to: everyone, subject: pricing is attached.\n"
    assert split_run_together(body) == [body]


OUTLOOK_ATTRIBUTED = (
    'See below.\n\nOn Monday, February 24, 2025, "Jane Doe" <jane@acme-corp.co.uk> wrote:\n'
    "    Hello, we would like a quote for 500 units.\n    Can you deliver by May?\n"
)
QUOTED_ATTRIBUTED = (
    "Please call her.\n\nOn Mon, Feb 24, 2025 at 10:00 AM Jane Doe <jane@acme-corp.co.uk> wrote:\n"
    "> Hello, we would like a quote for 500 units.\n> Can you deliver by May?\n"
)


@pytest.mark.parametrize("body", [OUTLOOK_ATTRIBUTED, QUOTED_ATTRIBUTED])
def test_a_forward_written_as_an_attribution(body: str) -> None:
    result = lead(forward(body))
    assert result.email == "jane@acme-corp.co.uk"
    assert result.forwarded_by == "rita@ourco.com"
    assert result.text.startswith("Hello, we would like a quote for 500 units.")


def test_a_reps_reply_with_an_attribution_is_not_a_forward() -> None:
    result = read(forward(QUOTED_ATTRIBUTED, subject="Re: Quote request"))
    assert isinstance(result, NotALead) and result.kind == "internal", result


# Languages whose labels the reader does not know: the block is found by its shape alone.
UNKNOWN_LABELS = {
    "vi-gmail": (
        "---------- Thư đã chuyển tiếp ----------\nNgười gửi: Jane Doe <jane@acme-corp.co.uk>\n"
        "Ngày: 24 thg 2, 2025 10:00\nTiêu đề: Quote request\nĐến: rita@ourco.com\n"
    ),
    "id-quoted": (
        "> ---------- Pesan terusan ---------\n> Dari: Jane Doe <jane@acme-corp.co.uk>\n"
        "> Tanggal: Sen, 24 Feb 2025 10.00\n> Subjek: Quote request\n> Kepada: <rita@ourco.com>\n>"
    ),
    "lt-outlook-bare": (
        "Nuo: Jane Doe <jane@acme-corp.co.uk>\nIšsiųsta: 2025 m. vasario 24 d. 10:00\n"
        "Kam: Rita Rep <rita@ourco.com>\nTema: Quote request"
    ),
    "sl-apple-intro": (
        "Začetek posredovanega sporočila:\n\nPošiljatelj: Jane Doe <jane@acme-corp.co.uk>\n"
        "Zadeva: Quote request\nDatum: 24. februar 2025 10:00:00 CET\nPrejemnik: rita@ourco.com"
    ),
    "lv-thunderbird-subject-first": (
        "-------- Pārsūtīta ziņa --------\nTēma: \tQuote request\nDatums: \t24.02.2025 10:00\n"
        "Sūtītājs: \tJane Doe <jane@acme-corp.co.uk>\nKam: \trita@ourco.com"
    ),
    "bg-yahoo-one-line": (
        "----- Препратено съобщение ----- Подател: Jane Doe <jane@acme-corp.co.uk>Получател: "
        '"rita@ourco.com" <rita@ourco.com>Изпратено: понеделник, 24 февруари 2025, 10:00:00 CET'
        "Тема: Quote request"
    ),
    "html-table": (
        "-------- Forwarded Message --------\nSubject:\nQuote request\nDate:\n"
        "Mon, 24 Feb 2025 10:00:00 +0100\nFrom:\nJane Doe <jane@acme-corp.co.uk>\nTo:\nrita@ourco.com"
    ),
}


@pytest.mark.parametrize("block", UNKNOWN_LABELS.values(), ids=UNKNOWN_LABELS.keys())
def test_a_header_block_in_an_unknown_language_is_found_by_its_shape(block: str) -> None:
    quote = "> " if block.startswith(">") else ""
    original = "\n".join(quote + line for line in ORIGINAL.split("\n"))
    result = lead(forward(f"FYI\n\n{block}\n\n{original}\n", subject="PRSN: Quote request"))
    assert result.email == "jane@acme-corp.co.uk"
    assert result.name == "Jane Doe"
    assert result.forwarded_by == "rita@ourco.com"
    assert result.text.startswith("Hello, we would like")


@pytest.mark.parametrize(
    "line",
    [
        '\ufeffD. 24/02/2025 10.00 skrev "Jane Doe" <jane@acme-corp.co.uk>:',
        "Jane Doe <jane@acme-corp.co.uk> kirjoitti 24/02/2025 10.00:",
        "V pon., 24. feb. 2025 ob 10:00 je Jane Doe <jane@acme-corp.co.uk> napisala:",
    ],
)
def test_an_attribution_in_any_language_on_a_forward(line: str) -> None:
    body = (
        f"{line}\n\n    Hello, we would like a quote for 500 units.\n    Can you deliver by May?\n"
    )
    result = lead(forward(body, subject="VS: Quote request"))
    assert result.email == "jane@acme-corp.co.uk"
    assert result.text.startswith("Hello, we would like a quote")


SIGNATURE = "Thanks,\nRita\nPhone: +1 212 555 2019\nEmail: rita@ourco.com\nWeb: www.ourco.com"
NOT_FORWARDS = {
    "signature": (f"Lunch at noon?\n\n{SIGNATURE}", "Lunch"),
    "partner-card": ("Met him.\n\nE: bob@partner.com\nT: +1 212 555 2019\nW: partner.com", "Bob"),
    "meeting": (
        "When: Monday, February 24, 2025 10:00-11:00\nWhere: Room 4\n"
        "Organizer: Bob <bob@partner.com>\nAttendees: jane@acme-corp.co.uk; rita@ourco.com",
        "Meeting",
    ),
    "order": (
        "Order: 12345\nCustomer: jane@acme-corp.co.uk\nDate: 2025-02-24\nTotal: 12.50",
        "Order",
    ),
    "colons": ("Note: from: the team, to: all\nContact: bob@partner.com\nTime: 10:00", "Note"),
}


@pytest.mark.parametrize("body,subject", NOT_FORWARDS.values(), ids=NOT_FORWARDS.keys())
def test_a_reps_own_message_with_colons_and_addresses_is_not_a_forward(
    body: str, subject: str
) -> None:
    result = read(forward(body, subject=subject))
    assert isinstance(result, NotALead) and result.kind == "internal", result


NO_SENDER = {
    "to-first": "---------- Forwarded message ---------\nTo: Bob <bob@partner.com>\nDate: Mon, 24 Feb"
    " 2025\nSubject: Hi",
    "delivery-report": "Recipient: jane@acme-corp.co.uk\nDate: 2025-02-24 10:00\nStatus: failed\n"
    "Message-ID: <abc@mx.ourco.com>",
    "cc-before-an-unknown-label": "-----\nKopie: Bob <bob@partner.com>\nQwerty: Jane Doe"
    " <jane@acme-corp.co.uk>\nDatum: 24.2.2025 10:00",
}


@pytest.mark.parametrize("block", NO_SENDER.values(), ids=NO_SENDER.keys())
def test_a_block_whose_first_address_is_not_a_sender_goes_to_review(block: str) -> None:
    result = read(forward(f"See below.\n\n{block}\n\nHello"))
    assert isinstance(result, NotALead) and result.kind == "review", result


def test_labels_glued_to_the_previous_value_are_split() -> None:
    line = (
        "----- Videresendt meddelelse ----- Fra: Jane <jane@acme-corp.co.uk>Til: rita@ourco.com"
        " <rita@ourco.com>Sendt: mandag den 24. februar 2025 10.00.00 CETEmne: Quote request"
    )
    assert split_run_together(line) == [
        "----- Videresendt meddelelse -----",
        "Fra: Jane <jane@acme-corp.co.uk>",
        "Til: rita@ourco.com <rita@ourco.com>",
        "Sendt: mandag den 24. februar 2025 10.00.00 CET",
        "Emne: Quote request",
    ]
    mailto = "From: Jane<mailto:jane@acme-corp.co.uk> <jane@acme-corp.co.uk<mailto:j@x.com>> 10:00"
    assert split_run_together(mailto) == [mailto]


@pytest.mark.parametrize(
    "body",
    [
        # Yandex / Mail.ru: the separator, then a date and the sender instead of a header block.
        '-------- Пересылаемое сообщение --------\n24.02.2025, 10:00, "Jane Doe"'
        " <jane@acme-corp.co.uk>:\n\n",
        # Proton Mail: the separator, then an English attribution.
        "------- Original Message -------\nOn Monday, February 24th, 2025 at 10:00, Jane Doe"
        " <jane@acme-corp.co.uk> wrote:\n\n",
    ],
    ids=["yandex", "proton"],
)
def test_a_separator_above_an_attribution_is_a_forward(body: str) -> None:
    result = lead(forward(f"FYI\n\n{body}{ORIGINAL}\n", subject="Quote request"))
    assert result.email == "jane@acme-corp.co.uk"
    assert result.name == "Jane Doe"
    assert result.text.startswith("Hello, we would like")


def test_an_attribution_under_a_subject_without_re_or_fwd_goes_to_review() -> None:
    result = read(forward(OUTLOOK_ATTRIBUTED, subject="Quote request"))
    assert isinstance(result, NotALead) and result.kind == "review", result


def test_an_attribution_wrapped_over_three_lines() -> None:
    body = (
        "FYI\n\nOn Feb 24, 2025, at 10:00 AM, Jane Doe\n<jane@acme-corp.co.uk>\nwrote:\n\n"
        "> Hello, we would like a quote for 500 units.\n"
    )
    assert lead(forward(body)).email == "jane@acme-corp.co.uk"
