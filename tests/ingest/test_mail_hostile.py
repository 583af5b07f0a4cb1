"""Hostile and broken input: every case is read (or refused) quickly, cleanly and safely."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from ingest.inquiry import Inquiry, NotALead
from ingest.mail import MAX_DEPTH, read_email
from ingest.mail.addresses import ADDRESS_TOKEN, NAME_LIMIT, parse_single
from ingest.mail.html import MAX_TAGS, bounded, html_to_text
from ingest.mail.text import decode_bytes, known_codec, unflow
from storage.errors import AddressError, ParseError
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
    # Unicode's line separator is whitespace to the line patterns but no line break: a run of
    # it under a rule took the reader 10 s (3,000 of them), now they are line breaks.
    "line-separators-under-a-rule": message("Quote please\n-----" + "\u2028" * 3000 + "x\n"),
    "line-separators": message("Quote please\n\n" + "\u2028" * 3000 + "0\n" + "\u2029" * 3000),
    "rare-spaces": message("Quote please\n-----" + "\u202f\u205f\u1680" * 1000 + "x\n"),
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


@pytest.mark.parametrize(
    "value",
    ["a@" * 1000 + " <" + "b@" * 1000 + ">", "a " * 1000 + "b@" * 1000, "x@y " * 1000 + "<x@y>"],
)
def test_a_from_of_many_at_signs_is_refused_quickly(value: str) -> None:
    # A pattern for `name address` backtracked over these for minutes; plain string tests do not.
    started = time.perf_counter()
    with pytest.raises(AddressError):
        parse_single(value, header="from")
    assert time.perf_counter() - started < 5


def rfc822_nested(levels: int) -> bytes:
    inner = b"From: Jane <jane@acme.example>\nSubject: inner\n\nDeep quote please\n"
    head = b"From: Jane <jane@acme.example>\nSubject: deep\nContent-Type: message/rfc822\n\n"
    for _ in range(levels):
        inner = head + inner
    return inner


@pytest.mark.parametrize("levels", [MAX_DEPTH + 1, 1000, 5000])
def test_multiparts_nested_past_the_cap_are_a_parse_error(levels: int) -> None:
    # 1,000 levels exhaust the stdlib parser's recursion; the reason must say what is wrong.
    with pytest.raises(ParseError, match="nested more than"):
        read_email(nested(levels), internal_domains=INTERNAL, received_at=NOW)


@pytest.mark.parametrize("levels", [MAX_DEPTH + 1, 1000])
def test_attached_messages_nested_past_the_cap_are_a_parse_error(levels: int) -> None:
    with pytest.raises(ParseError, match="nested more than"):
        read_email(rfc822_nested(levels), internal_domains=INTERNAL, received_at=NOW)


def test_multiparts_nested_to_the_cap_are_read() -> None:
    assert "Deep quote please" in lead(nested(MAX_DEPTH - 1)).text


# Codecs Python has that are no charset for text: they fail with UnicodeError or ValueError
# (not LookupError) where the stdlib and our readers expected an unknown name at worst.
TRICK_CHARSETS = [
    "undefined", "idna", "punycode", "unicode_escape", "zlib_codec", "base64", "rot13", "hex",
]  # fmt: skip


@pytest.mark.parametrize("charset", [*TRICK_CHARSETS, "utf-8\x00"])
def test_a_body_in_a_codec_that_is_no_charset_is_read_as_text(charset: str) -> None:
    data = message(
        "Caf\xe9 quote for 25 seats\n".encode("latin-1"), ctype=f'text/plain; charset="{charset}"'
    )
    assert "quote for 25 seats" in lead(data).text


@pytest.mark.parametrize("charset", TRICK_CHARSETS)
def test_encoded_words_in_a_codec_that_is_no_charset_are_read(charset: str) -> None:
    data = raw(
        f"From: =?{charset}?b?SmFuZQ==?= <jane@acme.example>\n"
        f"Subject: =?{charset}?q?caf=E9_quote?=\n\nQuote please\n"
    )
    found = lead(data)
    assert found.email == "jane@acme.example" and "Quote please" in found.text


@pytest.mark.parametrize("charset", TRICK_CHARSETS)
def test_a_meta_charset_that_is_no_charset_is_read(charset: str) -> None:
    html = f'<html><head><meta charset="{charset}"></head><body><p>Caf\xe9 quote please</p>'
    data = message(html.encode("latin-1"), ctype="text/html")
    assert "quote please" in lead(data).text


def test_known_codec_names_only_text_charsets() -> None:
    assert [known_codec(c) for c in TRICK_CHARSETS] == [None] * len(TRICK_CHARSETS)
    assert known_codec("utf-7") == "utf-7" and known_codec("Windows-1252") == "cp1252"
    assert decode_bytes(b"caf\xe9", "undefined") == "café"


def test_html_past_the_tag_cap_keeps_its_text_and_parses_a_bounded_head() -> None:
    markup = "<b><i>" * 100_000 + "Quote please for 25 seats"
    head, rest = bounded(markup)
    assert head.count("<") == MAX_TAGS and head + rest == markup
    assert bounded("<p>x</p>") == ("<p>x</p>", "")
    started = time.perf_counter()
    found = lead(message(markup, ctype="text/html; charset=utf-8"))
    assert "Quote please for 25 seats" in found.text
    assert time.perf_counter() - started < 5  # 600 KB of tags took 20 s (two bs4 passes) before


def test_a_tag_strip_over_a_run_of_open_brackets_is_linear() -> None:
    # `<[^>]{0,2000}>` scanned 2,000 characters from each of 500,000 `<`: 2 s for one message.
    started = time.perf_counter()
    text = html_to_text("<" * 500_000 + "<p>Quote please</p>")
    assert "Quote please" in text
    assert time.perf_counter() - started < 2


@pytest.mark.parametrize(
    "text",
    ["Tel: " + "1-" * 100_000, "@" * 100_000 + "a@b.example", "x" * 300_000 + "@", "a.a" * 100_000],
)
def test_address_tokens_are_found_in_linear_time(text: str) -> None:
    # `[^…]+@[^…]+\.[^…]+` backtracked over each run from each start: 49 s for the first.
    started = time.perf_counter()
    assert ADDRESS_TOKEN.findall(text) == (
        ["@" * 100_000 + "a@b.example"] if "b.example" in text else []
    )
    assert time.perf_counter() - started < 1


def test_address_tokens_are_what_the_pattern_finds() -> None:
    text = "Jane <jane@acme.example>, x@y, @a.b, a@.b, a@b., bob@a.b.c; (c@d.e) f@g@h.i"
    assert ADDRESS_TOKEN.findall(text) == ["jane@acme.example", "bob@a.b.c", "c@d.e", "f@g@h.i"]
    assert ADDRESS_TOKEN.sub(" ", "to a@b.co now") == "to   now"
    assert ADDRESS_TOKEN.search("none here") is None


def test_a_signature_of_200kb_in_a_reps_forward_is_read_quickly() -> None:
    data = message(
        "Fwd below\n\nAnn\nTel: " + "1-" * 100_000,
        sender="Rita Rep <rita@ourco.com>",
        subject="Fwd: quote",
    )
    started = time.perf_counter()
    read_email(data, internal_domains=INTERNAL, received_at=NOW)
    assert time.perf_counter() - started < 5  # 49 s before


def test_a_from_the_two_address_parsers_read_differently_is_called_ambiguous() -> None:
    with pytest.raises(AddressError, match="ambiguous"):
        parse_single("Ann <" + "@" * 100_000 + "a@b.example>", header="from")


def test_xhtml_mail_is_read_without_a_warning() -> None:
    """An XML declaration first (XHTML newsletters, some Outlook versions): read as HTML, quietly,
    since `leadbot ingest`'s standard error goes back to the mail server."""
    import warnings

    from ingest.mail.html import html_to_text

    head = '<?xml version="1.0" encoding="utf-8"?>' + "<!-- generated -->" * 30  # no <html> in 500
    markup = head + "<html><body><p>Quote for 40 seats</p></body></html>"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert html_to_text(markup).strip() == "Quote for 40 seats"
