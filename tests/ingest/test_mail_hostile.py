"""Hostile and broken input: every case is read (or refused) quickly, cleanly and safely."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from ingest.inquiry import Inquiry, NotALead
from ingest.mail import read_email
from ingest.mail.addresses import NAME_LIMIT, parse_single
from ingest.mail.html import html_to_text
from ingest.mail.text import unflow
from storage.errors import AddressError
from tests.ingest.mail_samples import INTERNAL, message, raw

NOW = datetime(2026, 11, 3, tzinfo=UTC)


def lead(data: bytes) -> Inquiry:
    result = read_email(data, internal_domains=INTERNAL, received_at=NOW)
    assert isinstance(result, Inquiry), result
    return result


def test_encoded_word_header_injection_keeps_the_address_and_strips_the_newline() -> None:
    result = lead(
        raw(
            "From: =?utf-8?q?x=0D=0ABcc:_evil@x?= <jane@acme.example>\nTo: leads@ourco.com\n"
            "Subject: =?utf-8?q?hi=0D=0ABcc:_evil@x?=\nMessage-ID: <inj@x>\n\nQuote please.\n"
        )
    )
    assert result.email == "jane@acme.example"
    assert result.name == "x Bcc: evil@x" and result.subject == "hi Bcc: evil@x"


def test_slack_mentions_in_a_display_name_are_kept_as_text_without_controls() -> None:
    quoted = lead(message("Hello\n", sender='"<@U123> <!channel> @everyone" <jane@acme.example>'))
    assert quoted.name == "<@U123> <!channel> @everyone"
    encoded = "=?utf-8?b?PCFjaGFubmVsPgkHG1szMW0gSmFuZQ==?="  # "<!channel>\t\a\x1b[31m Jane"
    result = lead(message("Hello\n", sender=f"{encoded} <jane@acme.example>"))
    assert result.name == "<!channel> [31m Jane"


def test_nul_and_control_bytes_never_reach_the_text() -> None:
    result = lead(message(b"Hello\rquote please.\x00 and\x1b[2J NUL\x07\n"))
    assert result.text == "Hello\nquote please. and[2J NUL"


def test_meta_charset_decodes_html_without_a_mime_charset() -> None:
    html = "<html><head><meta http-equiv='Content-Type' content='text/html; charset=windows-1251'>"
    body = html.encode() + "<p>Привет, прошу цену.</p></html>".encode("cp1251")
    assert lead(message(body, ctype="text/html")).text == "Привет, прошу цену."


def test_mime_charset_wins_over_a_contradicting_meta() -> None:
    body = "<meta charset='windows-1251'><p>Привет, прошу цену.</p>".encode()
    assert lead(message(body, ctype="text/html; charset=utf-8")).text == "Привет, прошу цену."


def test_javascript_links_and_scripts_leave_only_text() -> None:
    html = '<p>Click <a href="javascript:alert(1)">here</a><script>evil()</script> please</p>'
    assert lead(message(html, ctype="text/html; charset=utf-8")).text == "Click here please"


def test_mailto_link_shows_its_address_when_the_text_does_not() -> None:
    assert html_to_text('<a href="mailto:jane%40acme.example?subject=x">Jane</a>') == (
        "Jane <jane@acme.example>"
    )
    assert html_to_text('<a href="mailto:jane@acme.example">jane@acme.example</a>') == (
        "jane@acme.example"
    )
    assert html_to_text('<a href="mailto:javascript:alert(1)">x</a>') == "x"


def test_format_flowed_joins_soft_breaks_but_not_the_signature_separator() -> None:
    text = "Hello \nworld\n> quoted \n> more\n-- \nsig"
    assert unflow(text, delsp=False) == "Hello world\n> quoted more\n-- \nsig"
    assert unflow("abc \ndef", delsp=True) == "abcdef"


@pytest.mark.parametrize("charset", ["utf-7", "unicode-1-1-utf-7"])
def test_utf7_parts_decode_without_smuggling_markup(charset: str) -> None:
    result = lead(message("Hello +AMk-t+AOk- quote\n", ctype=f"text/plain; charset={charset}"))
    assert result.text == "Hello Été quote"


def nested(levels: int) -> bytes:
    head = "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b0\n\n"
    parts = "".join(
        f"--b{i}\nContent-Type: multipart/mixed; boundary=b{i + 1}\n\n" for i in range(levels)
    )
    tail = "".join(f"--b{i}--\n" for i in range(levels, -1, -1))
    body = f"--b{levels}\nContent-Type: text/plain\n\nDeep quote please\n"
    return raw(f"From: Jane <jane@acme.example>\nSubject: deep\n{head}{parts}{body}{tail}")


HOSTILE = {
    "1000-received": raw(
        "".join(
            f"Received: from h{i}.example by mx.example; Mon, 2 Nov 2026\n" for i in range(1000)
        )
        + "From: Jane <jane@acme.example>\nSubject: hi\n\nQuote please\n"
    ),
    "2mb-single-line-subject": raw(
        "From: Jane <jane@acme.example>\nSubject: " + "A" * 2_000_000 + "\n\nQuote please\n"
    ),
    "100-nested-multiparts": nested(100),
    "boundary-never-closes": raw(
        "From: Jane <jane@acme.example>\nSubject: open\nMIME-Version: 1.0\n"
        "Content-Type: multipart/mixed; boundary=never\n\n--never\nContent-Type: text/plain\n\n"
        "Quote please\n"
    ),
    "base64-with-garbage": message(
        b"UXVvdGUgcGxlYXNl!!!@@@###not base64\x00\n", cte="base64", ctype="text/plain"
    ),
    "10000-nested-html-tags": message(
        "<div>" * 10_000 + "Quote please" + "</div>" * 10_000, ctype="text/html; charset=utf-8"
    ),
    "bare-lf-and-bare-cr": b"From: Jane <jane@acme.example>\rSubject: x\n\nQuote\rplease\n",
}


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_input_is_read_quickly(name: str) -> None:
    started = time.perf_counter()
    result = read_email(HOSTILE[name], internal_domains=INTERNAL, received_at=NOW)
    assert time.perf_counter() - started < 5
    assert isinstance(result, Inquiry | NotALead)
    if isinstance(result, Inquiry):
        assert result.email in ("jane@acme.example", "jane@acme-corp.example")
        assert "\x00" not in result.text and len(result.subject or "") <= 500


def test_a_very_long_display_name_is_cut_not_the_address() -> None:
    found = parse_single('"' + "A" * 3000 + '" <jane@acme.example>', header="from")
    assert found.email == "jane@acme.example" and len(found.name or "") <= NAME_LIMIT


def test_a_from_of_nested_comments_is_refused_not_an_internal_error() -> None:
    with pytest.raises(AddressError, match="nested too deeply"):
        parse_single("(" * 5000 + "x@y.example", header="from")
