"""Bodies: charsets, HTML, hostile sizes, quotes and signatures removed, signature details."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import compat32

import pytest

from ingest.inquiry import Inquiry
from ingest.mail import read_email
from ingest.mail.body import TEXT_LIMIT, extract_body
from ingest.mail.html import html_to_text

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def lead(raw: bytes, **kwargs: object) -> Inquiry:
    result = read_email(raw, received_at=NOW, **kwargs)  # type: ignore[arg-type]
    assert isinstance(result, Inquiry), result
    return result


def mime(content_type: str, body: bytes, cte: str = "8bit", sender: str = "j@acme.com") -> bytes:
    head = f"From: {sender}\nSubject: t\nMIME-Version: 1.0\nContent-Type: {content_type}\n"
    return head.encode() + f"Content-Transfer-Encoding: {cte}\n\n".encode() + body


def test_unknown_charset_falls_back_without_losing_the_message() -> None:
    raw = mime('text/plain; charset="x-unknown"', "Grüße aus Köln".encode())
    assert lead(raw).text == "Grüße aus Köln"


def test_wrong_charset_latin1_bytes_declared_utf8() -> None:
    raw = mime("text/plain; charset=utf-8", "Crème brûlée, s'il vous plaît".encode("latin-1"))
    assert lead(raw).text == "Crème brûlée, s'il vous plaît"


@pytest.mark.parametrize(
    ("charset", "cte"),
    [("utf-8", "base64"), ("iso-8859-1", "quoted-printable"), ("windows-1251", "8bit"),
     ("koi8-r", "base64"), ("shift_jis", "base64"), ("gb2312", "base64")],
)  # fmt: skip
def test_charsets_and_transfer_encodings(charset: str, cte: str) -> None:
    text = {"windows-1251": "Привет, мир", "koi8-r": "Привет, мир", "shift_jis": "見積もり",
            "gb2312": "报价单"}.get(charset, "Grüße aus Köln")  # fmt: skip
    msg = EmailMessage()
    msg["From"] = "j@acme.com"
    msg.set_content(text, charset=charset, cte=cte)
    assert lead(msg.as_bytes()).text == text


def test_ks_c_5601_alias() -> None:
    assert lead(mime("text/plain; charset=ks_c_5601-1987", "안녕하세요".encode("cp949"))).text == (
        "안녕하세요"
    )


def test_html_only_mail_drops_script_and_style() -> None:
    html = (
        "<html><head><title>T</title><style>body{color:red}</style></head><body>"
        "<script>alert('x')</script><p>We need <b>200</b> licences.</p><p>Thanks</p></body></html>"
    )
    text = lead(mime("text/html; charset=utf-8", html.encode())).text
    assert text == "We need 200 licences."
    assert "alert" not in text and "color" not in text


def test_plain_part_preferred_over_html() -> None:
    msg = EmailMessage()
    msg["From"] = "j@acme.com"
    msg.set_content("plain words")
    msg.add_alternative("<p>html words</p>", subtype="html")
    assert lead(msg.as_bytes()).text == "plain words"


@pytest.mark.parametrize(
    "html",
    [
        "<div>" * 50_000 + "deep" + "</div>" * 50_000,
        "<p>" + "<a href='x'" * 5000,
        "<<<<>>>>" * 10_000 + "<p>text</p>",
        "<table>" + "<tr><td>a</td><td>b</td></tr>" * 20_000 + "</table>",
        "<svg><script>alert(1)</script></svg><img src=x onerror=alert(1)>ok",
    ],
    ids=["deep", "unclosed", "brackets", "big-table", "svg-script"],
)
def test_hostile_html_is_safe(html: str) -> None:
    text = html_to_text(html)
    assert isinstance(text, str)
    assert "alert" not in text


def test_huge_text_body_is_capped() -> None:
    msg = EmailMessage()
    msg["From"] = "j@acme.com"
    msg.set_content("quote please " * 400_000)  # ~5 MB
    text = lead(msg.as_bytes()).text
    assert 0 < len(text) <= TEXT_LIMIT


def test_ten_thousand_parts_finish_and_are_capped() -> None:
    boundary = "b0und"
    parts = b"".join(
        f"--{boundary}\nContent-Type: text/plain\n\npart {i}\n".encode() for i in range(10_000)
    )
    raw = mime(f'multipart/mixed; boundary="{boundary}"', parts + f"--{boundary}--\n".encode())
    result = lead(raw, max_parts=100)
    assert result.fields["parts_truncated"] == "100"
    assert result.text.startswith("part 0")


def test_content_type_with_thousands_of_parameters() -> None:
    params = "; ".join(f"p{i}=v{i}" for i in range(8000))
    raw = mime(f"text/plain; {params}; charset=utf-8", b"hello")
    assert lead(raw).text == "hello"


REPLY = """Yes, Tuesday works. Please send the contract.

On Mon, Feb 24, 2025 at 10:00 AM Rita Rep <rita@ourco.com> wrote:
> Would Tuesday work for a call?
> Rita
"""


@pytest.mark.parametrize(
    "attribution",
    [
        "On Mon, Feb 24, 2025 at 10:00 AM Rita Rep <rita@ourco.com> wrote:",
        "On Mon, Feb 24, 2025 at 10:00 AM Rita Rep <\nrita@ourco.com> wrote:",
        "Am 24.02.2025 um 10:00 schrieb Rita Rep <rita@ourco.com>:",
        "Le lun. 24 févr. 2025 à 10:00, Rita Rep <rita@ourco.com> a écrit :",
        "El lun, 24 feb 2025 a las 10:00, Rita Rep (<rita@ourco.com>) escribió:",
        "Il giorno lun 24 feb 2025 alle ore 10:00 Rita Rep <rita@ourco.com> ha scritto:",
        "Em seg., 24 de fev. de 2025 às 10:00, Rita Rep <rita@ourco.com> escreveu:",
        "-----Original Message-----\nFrom: Rita Rep\nSent: Monday\nTo: Jane\nSubject: Call",
        "From: Rita Rep <rita@ourco.com>\nSent: Monday\nTo: Jane\nSubject: Call",
        "Von: Rita Rep <rita@ourco.com>\nGesendet: Montag\nAn: Jane\nBetreff: Call",
        # Outlook Express quoting a newsgroup post, its message id on the line or below it.
        "Rita Rep <rita@ourco.com> wrote in message news:abc123@news.ourco.com...",
        '"Rita Rep" <rita@ourco.com> schreef in bericht\nnews:SCj19.44903@twister.example.com...',
        # A help desk's marker over its own mail, in any of its languages.
        "##- Please type your reply above this line -##",
        "> reply ABOVE THIS LINE",
        "## Bitte geben Sie Ihre Antwort oberhalb dieser Zeile ein ##",
    ],
)
def test_reply_quotes_are_removed(attribution: str) -> None:
    body = f"Yes, Tuesday works.\n\n{attribution}\nWould Tuesday work for a call?\n> Rita\n"
    assert body_text(body) == "Yes, Tuesday works."


def body_text(body: str) -> str:
    """The lead's text of a reply from j@acme.com with `body` (quotes and signature cut)."""
    msg = EmailMessage()
    msg["From"] = "j@acme.com"
    msg["Subject"] = "Re: Call"
    msg.set_content(body)
    return lead(msg.as_bytes()).text


def test_a_pipe_marked_quote_below_an_attribution_is_removed() -> None:
    # Older Gmail (zh, ja) wrote "2013/7/20 Name <addr>" and marked the quote with "|".
    body = (
        "Tuesday works for us.\n\n\n2013/7/20 Rita Rep <rita@ourco.com>\n\n"
        "| Would Tuesday work for a call?\n|\n| Rita\n"
    )
    assert body_text(body) == "Tuesday works for us."


def test_a_table_is_not_a_pipe_quote() -> None:
    body = "Prices as of 2024-05-01 from <rita@ourco.com>\n| Seats | 40 |\n| Plan | Pro |\n"
    assert "| Seats | 40 |" in body_text(body)


def test_the_mark_gmail_add_ons_leave_is_dropped() -> None:
    assert body_text("Please send the contract.\n\n\u1427\n") == "Please send the contract."


def test_interleaved_quote_lines_are_dropped() -> None:
    msg = EmailMessage()
    msg["From"] = "j@acme.com"
    msg.set_content("> Which plan?\nThe enterprise plan.\n> How many seats?\n50 seats.")
    assert lead(msg.as_bytes()).text == "The enterprise plan.\n50 seats."


SIGNED = """Hi,

we are looking for 40 licences for our Munich office.

Best regards,
Jane Doe
Head of Purchasing
Acme Industries GmbH
Tel: +49 89 1234 5678
www.acme-industries.de
"""


def test_signature_gives_title_company_and_phone() -> None:
    msg = EmailMessage()
    msg["From"] = "jane.doe@acme-industries.de"
    msg.set_content(SIGNED)
    result = lead(msg.as_bytes())
    assert result.text == "Hi,\n\nwe are looking for 40 licences for our Munich office."
    assert result.name == "Jane Doe"
    assert result.title == "Head of Purchasing"
    assert result.company == "Acme Industries GmbH"
    assert result.phone == "+498912345678"
    assert result.country == "DE"


@pytest.mark.parametrize(
    "closing",
    ["-- ", "Sent from my iPhone", "Mit freundlichen Grüßen", "Cordialement,", "Saludos,",
     "Cordiali saluti", "Atenciosamente,", "Thanks,"],
)  # fmt: skip
def test_signature_delimiters(closing: str) -> None:
    msg = EmailMessage()
    msg["From"] = "j@acme.fr"
    msg.set_content(f"Please call me back.\n\n{closing}\nJean Martin\n01 42 68 53 00\n")
    result = lead(msg.as_bytes())
    assert result.text == "Please call me back."
    assert result.phone == "+33142685300"
    assert result.country == "FR"


def test_national_phone_uses_cctld_region_and_us_fallback() -> None:
    msg = EmailMessage()
    msg["From"] = "bob@acme.com"
    msg.set_content("Call me.\n\n--\nBob\nPhone: (415) 555-2671\nOrder 12345678, 2024-01-15")
    result = lead(msg.as_bytes())
    assert result.phone == "+14155552671"
    assert result.country == "US"


def test_dates_zip_codes_and_order_numbers_are_not_phones() -> None:
    msg = EmailMessage()
    msg["From"] = "bob@acme.com"
    msg.set_content("Hi\n\n--\nBob\nOrder 4711-2024\nPO Box 90210\n2025-02-24")
    assert lead(msg.as_bytes()).phone is None


def test_fax_is_not_the_phone() -> None:
    msg = EmailMessage()
    msg["From"] = "bob@acme.co.uk"
    msg.set_content("Hi\n\n--\nBob\nFax: 020 7946 0000\nTel: 020 7946 0958")
    assert lead(msg.as_bytes()).phone == "+442079460958"


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ("Thanks!\nJane\n", "Thanks!"),
        ("Thank you.\n", "Thank you."),
        ("Many thanks,\nJane Doe\nCTO, Acme\n", "Many thanks,"),
        ("Vielen Dank!\nJane\n", "Vielen Dank!"),
    ],
)
def test_a_reply_that_is_only_thanks_keeps_its_text(body: str, text: str) -> None:
    raw = (
        "From: Jane Doe <jane@acme.example>\nTo: sales@ourco.com\nSubject: Re: Quote\n"
        "Message-ID: <thanks@acme.example>\n\n"
        f"{body}\nOn Mon, 1 Mar 2025 at 10:00, Sam <sam@ourco.com> wrote:\n> Here is the quote.\n"
    ).encode()
    result = read_email(
        raw, received_at=datetime(2025, 3, 1, tzinfo=UTC), internal_domains=frozenset({"ourco.com"})
    )
    assert isinstance(result, Inquiry), result
    assert result.text == text


def test_the_html_part_is_read_as_text_only_when_asked() -> None:
    """Converting a large HTML alternative costs far more than the plain text it duplicates."""
    msg = EmailMessage()
    msg["From"] = "jane@acme.example"
    msg.set_content("Plain words.\n")
    msg.add_alternative("<p>" + "<b>Rich</b> words. " * 2000 + "</p>", subtype="html")
    body = extract_body(message_from_bytes(bytes(msg), policy=compat32), max_parts=100)
    assert body.best == "Plain words."
    assert "html_text" not in vars(body)  # not converted
    assert body.html_text.startswith("Rich words.")


@pytest.mark.parametrize(
    "header",
    [
        # Outlook.com puts To first; French Outlook starts with "À :" under its rule, a blank
        # line inside; Orange's webmail opens with "Message du :" under a rule of "=".
        "To: email@example.com\nFrom: support@example.com\nCC: email2@example.com\n"
        "Subject: [Support] Re: Example Subject\nDate: Wed, 19 Feb 2014 15:47:31 -0800",
        "________________________________\n\nÀ : josette@kalipsa.example <josette@kalipsa.example>\n"
        "De : josette@hotmail.example <josette@hotmail.example>\n\nObjet : RE: Test\n"
        "Envoyé : mardi 5 novembre 2019 15:30",
        '====\n\nMessage du : 12/12/2016 13:20\nDe : "Questions" <questions@company.example>\n'
        "A : maecenas@somewhere.example\nSujet : vitae porta purus",
        "On Nov 21, 2014,\nat 10:18,\nJohn Doe <john@doe123.example> wrote:",  # Apple Mail, wrapped
    ],
)
def test_a_quote_header_in_its_clients_shape_is_cut(header: str) -> None:
    body = f"Thanks, that works for us.\n\n{header}\n\nThe older message, quoted.\n"
    assert body_text(body) == "Thanks, that works for us."


@pytest.mark.parametrize(
    ("param", "delimiter"),
    [
        ('; boundary="simple\r\n boundary"', "simple boundary"),  # folded inside its quotes
        (
            ';\r\n    boundary="----=_NextPart\r\n _000_0002"',
            "----=_NextPart _000_0002",
        ),  # Outlook 2000
        ('\r\n\tboundary="b1"', "b1"),  # the ";" before it left out
    ],
)
def test_a_boundary_written_loosely_still_splits_the_parts(param: str, delimiter: str) -> None:
    raw = (
        f"From: Jane Doe <jane@acme-corp.example>\r\nSubject: Quote\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: multipart/mixed{param}\r\n\r\n--{delimiter}\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\nPlease quote 40 seats.\r\n"
        f"--{delimiter}\r\nContent-Type: application/pdf\r\n\r\nJVBERi0=\r\n--{delimiter}--\r\n"
    ).encode()
    assert lead(raw).text == "Please quote 40 seats."


def test_a_sentence_about_a_line_is_text() -> None:
    body = "Hi,\nI drew a box above this line and below it.\nCan you print that?"
    assert body_text(body) == body


def test_parts_are_read_in_the_order_they_are_written() -> None:
    # A list's or a gateway's footer part after the alternative body: the body comes first, and
    # the footer's rule never takes the person's words for a signature.
    raw = (
        b"From: Jane Doe <jane@acme-corp.example>\r\nSubject: Quote\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="outer"\r\n\r\n--outer\r\n'
        b'Content-Type: multipart/alternative; boundary="inner"\r\n\r\n--inner\r\n'
        b"Content-Type: text/plain; charset=utf-8\r\n\r\nPlease quote 40 seats.\r\n--inner\r\n"
        b"Content-Type: text/html; charset=utf-8\r\n\r\n<p>Please quote 40 seats.</p>\r\n"
        b"--inner--\r\n--outer\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        b"_______________________________________________\r\nSales mailing list -- sales@lists.acme-corp.example\r\n"
        b"To unsubscribe send an email to sales-leave@lists.acme-corp.example\r\n--outer--\r\n"
    )
    assert lead(raw).text == "Please quote 40 seats."


def test_one_line_quoted_with_a_pipe_then_the_answer_below() -> None:
    # Sylpheed quotes with "|"; one quoted line, a blank line, then the answer (bottom-posted).
    body = (
        "On Mon, 3 May 2021, Rita Rep <rita@ourco.com> wrote:\n"
        "| fs/dquot.c:1328: warning: label 'out' defined but not used\n\nI fixed this one.\n"
    )
    assert body_text(body) == "I fixed this one."
