"""Undeclared 8-bit text: Cyrillic and Chinese are recognised, Western text stays cp1252."""

# ruff: noqa: RUF001 - Cyrillic and CJK text on purpose

from __future__ import annotations

import pytest

from ingest.mail.text import decode_bytes

RUSSIAN = "Здравствуйте, нам нужно коммерческое предложение на 50 лицензий. С уважением, Иван"
CHINESE = "我们需要五十个许可证的报价，请尽快联系我们。谢谢"
GERMAN = "Grüße aus München, wir möchten ein Angebot für 20 Plätze"


@pytest.mark.parametrize(
    ("text", "codec"),
    [
        (RUSSIAN, "cp1251"),
        (RUSSIAN, "koi8-r"),
        (CHINESE, "gbk"),
        (GERMAN, "cp1252"),
        (GERMAN, "utf-8"),
    ],
)
def test_undeclared_charset_is_guessed(text: str, codec: str) -> None:
    assert decode_bytes(text.encode(codec), None) == text


def test_a_declared_charset_wins_when_it_decodes() -> None:
    assert decode_bytes(GERMAN.encode("latin-1"), "iso-8859-1") == GERMAN


@pytest.mark.parametrize("label", ["iso-8859-1", "windows-1252", "iso-8859-15"])
def test_utf8_under_a_western_label_is_read_as_utf8(label: str) -> None:
    # A template declaring Latin-1 around UTF-8 text: read as Latin-1 it shows "GrÃ¼ÃŸe".
    assert decode_bytes(GERMAN.encode("utf-8"), label) == GERMAN
    assert decode_bytes("DISCOVERÆ CARD".encode(), label) == "DISCOVERÆ CARD"


@pytest.mark.parametrize("label", ["iso-8859-1", "windows-1252"])
def test_real_latin1_under_its_label_stays_latin1(label: str) -> None:
    assert decode_bytes(GERMAN.encode("cp1252"), label) == GERMAN
    assert decode_bytes("café crème, déjà vu".encode("latin-1"), label) == "café crème, déjà vu"


def test_a_declared_utf8_that_does_not_decode_is_still_guessed() -> None:
    assert decode_bytes(RUSSIAN.encode("cp1251"), "utf-8") == RUSSIAN


def test_unicode_line_and_paragraph_separators_are_line_breaks() -> None:
    from ingest.mail.text import normalise_body

    assert normalise_body("Hello\u2028world\u2029Bye\u202f\u205fnow") == "Hello\nworld\n\nBye now"


def test_utf8_with_latin1_pasted_in_reads_each_part_as_written() -> None:
    data = "Atención, señor. ".encode() + GERMAN.encode("latin-1")
    assert decode_bytes(data, "utf-8") == "Atención, señor. " + GERMAN


@pytest.mark.parametrize(
    ("text", "codec"),
    [
        ("日本語のテキストです。よろしくお願いします。", "shift_jis"),
        ("中文文本测试，谢谢。我们需要报价", "gbk"),
        ("한국어 텍스트 테스트입니다", "cp949"),
    ],
)
def test_double_byte_text_under_a_wrong_utf8_label_is_still_guessed(text: str, codec: str) -> None:
    # Their bytes often look like UTF-8 sequences: they are not taken for mixed UTF-8.
    assert decode_bytes(text.encode(codec), "utf-8") == text
