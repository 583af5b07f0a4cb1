"""Signature fields: the name, title, company and phone a person signs with, in the shapes
directories and mail clients give them."""

from __future__ import annotations

from datetime import UTC, datetime

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
