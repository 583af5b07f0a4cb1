"""Real public mail: every shared sample is read or refused cleanly; fixture expectations."""

from __future__ import annotations

import email
from datetime import UTC, datetime
from email.policy import compat32
from pathlib import Path

import pytest

from ingest.inquiry import Inquiry, NotALead
from ingest.mail import read_email
from ingest.mail.headers import first
from storage.errors import ParseError

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
FIXTURES = Path(__file__).resolve().parents[1] / "data" / "emails"
SHARED = Path(__file__).resolve().parents[1] / "data" / "corpus"  # copied from shared/data
SHARED_FILES = (
    sorted(
        p
        for folder in ("emails", "mime_torture")
        for p in (SHARED / folder).rglob("*")
        if p.is_file() and p.suffix != ".md"
    )
    if SHARED.is_dir()
    else []
)


@pytest.mark.skipif(not SHARED.is_dir(), reason=f"shared data set not present at {SHARED}")
@pytest.mark.parametrize("path", SHARED_FILES, ids=lambda p: str(p.relative_to(SHARED)))
def test_every_shared_message_is_read_or_refused_cleanly(path: Path) -> None:
    raw = path.read_bytes()
    for internal in (frozenset(), frozenset({"example.com", "gmail.com"})):
        try:
            result = read_email(raw, received_at=NOW, internal_domains=internal)
        except ParseError as exc:
            assert str(exc)
            continue
        assert isinstance(result, Inquiry | NotALead)
        if isinstance(result, Inquiry):
            assert result.occurred_at.tzinfo is not None
            assert "\n" not in (result.subject or "") + (result.name or "")


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_italian_outlook_forward_gives_the_original_sender() -> None:
    result = read_email(
        fixture("mail_test_7.eml"), received_at=NOW, internal_domains=frozenset({"voidstudicom.it"})
    )
    assert isinstance(result, Inquiry)
    assert result.email == "chiarodiluce@gmail.com"  # "Da: export@agade.info [mailto:…]"
    assert result.forwarded_by == "geronazzo@voidstudicom.it"
    assert result.subject == "Ordine"
    assert result.text.startswith("Buongiorno Mariachiara")
    assert "Inizio messaggio inoltrato" not in result.text
    assert result.fields["forward_note"].startswith("Ciao sere")


def test_italian_outlook_forward_without_internal_domains_is_the_forwarder() -> None:
    result = read_email(fixture("mail_test_7.eml"), received_at=NOW)
    assert isinstance(result, Inquiry)
    assert result.email == "geronazzo@voidstudicom.it"
    assert result.phone == "+390423972429"
    assert result.country == "IT"
    assert result.dedup_key == "msgid:ed264cf8.1d2e138.18e5b8f.29@voidstudicom.it"


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("mail_malformed_2.eml", "bounce"),
        ("bounce_gmail-invalid-address.eml", "bounce"),
        ("mail_test_13.eml", "bulk"),  # the MailChimp newsletter
    ],
)
def test_not_lead_fixtures(name: str, kind: str) -> None:
    result = read_email(fixture(name), received_at=NOW)
    assert isinstance(result, NotALead) and result.kind == kind


@pytest.mark.parametrize("name", ["m0016.eml", "mail_test_19.eml"])
def test_ambiguous_sender_fixtures_are_refused(name: str) -> None:
    with pytest.raises(ParseError):
        read_email(fixture(name), received_at=NOW)


def test_iso_2022_jp_subject_decodes() -> None:
    msg = email.message_from_bytes(fixture("issue116.eml"), policy=compat32)
    subject = first(msg, "subject")
    assert subject is not None and "28.09.2016" in subject and "\ufffd" not in subject
    with pytest.raises(ParseError, match="From"):
        read_email(fixture("issue116.eml"), received_at=NOW)


def test_gb2312_and_rfc2047_comma_names() -> None:
    chinese = read_email(fixture("mail_test_12.eml"), received_at=NOW)
    assert isinstance(chinese, Inquiry) and chinese.name == "张先生"
    assert chinese.subject == "代开各地增值税发票" and chinese.company is None
    comma = read_email(fixture("encoded-header.eml"), received_at=NOW)
    # The comma inside the encoded word is part of one name: "Foo, Bar" (Last, First).
    assert isinstance(comma, Inquiry) and comma.name == "Bar Foo"


def test_rfc822_attachment_forward_fixture() -> None:
    result = read_email(fixture("issue158a.eml"), received_at=NOW)
    assert isinstance(result, Inquiry) and result.email == "example@example.com"


def test_x_mac_cyrillic_and_rfc6532_fixtures() -> None:
    cyrillic = read_email(fixture("issue230.eml"), received_at=NOW)
    assert isinstance(cyrillic, Inquiry) and cyrillic.text
    utf8 = read_email(fixture("rfc6532_utf8_headers.eml"), received_at=NOW)
    assert isinstance(utf8, Inquiry) and utf8.name == "Jöhn Doe" and utf8.subject == "Säying Hello"


@pytest.mark.parametrize("name", ["standard_replies_gmail.eml", "standard_replies_outlook.eml"])
def test_talon_replies_keep_only_the_new_text(name: str) -> None:
    result = read_email(fixture(name), received_at=NOW)
    assert isinstance(result, Inquiry) and result.text == "Hello"


def test_torture_part_is_read() -> None:
    result = read_email(fixture("torture-part.eml"), received_at=NOW)
    assert isinstance(result, Inquiry) and result.name == "Mark Crispin"
