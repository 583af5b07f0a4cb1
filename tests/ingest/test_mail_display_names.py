"""A From display name names a person, an organisation, both, or neither (a mailbox's role)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ingest.inquiry import Inquiry
from ingest.mail import read_email
from ingest.mail.names import Shown, read_shown

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("display", "shown"),
    [
        ("Jane Doe", Shown("Jane Doe")),
        ("Doe, Jane", Shown("Jane Doe")),
        ("O'Neil, Mary", Shown("Mary O'Neil")),
        ("Acme GmbH", Shown(None, "Acme GmbH")),
        ("Scheel KG", Shown(None, "Scheel KG")),
        ("Vávra k.s.", Shown(None, "Vávra k.s.")),
        ("Wright and Sons", Shown(None, "Wright and Sons")),
        ("Science and Education Foundation, Bulgaria", Shown(None, "Science and Education Foundation, Bulgaria")),
        ("University of Texas", Shown(None, "University of Texas")),
        ('ФГУП "СибНИА"', Shown(None, 'ФГУП "СибНИА"')),
        ("株式会社山田商事", Shown(None, "株式会社山田商事")),
        ("Jane Doe | Acme GmbH", Shown("Jane Doe", "Acme GmbH")),
        ("Jane Doe, Acme Inc.", Shown("Jane Doe", "Acme Inc.")),
        ("Jane Doe (Stanford University)", Shown("Jane Doe", "Stanford University")),
        ("Doe, Jane (Acme Consulting)", Shown("Jane Doe", "Acme Consulting")),
        ("Jane Doe at Acme Corp", Shown("Jane Doe", "Acme Corp")),
        ("Jane from Acme Team", Shown("Jane")),
        ("Jane Doe - Acme Support", Shown("Jane Doe")),
        ("Finntack Newsletter", Shown(None)),
        ("Customer Support", Shown(None)),
        ("Shop", Shown(None)),
        # A job title or a degree after the comma is no given name.
        ("Sarah Connor, CEO", Shown("Sarah Connor", None, "CEO")),
        ("Sarah Connor, Head of Sales", Shown("Sarah Connor", None, "Head of Sales")),
        ("Jane Doe, PhD", Shown("Jane Doe")),
        ("DOE, JANE", Shown("JANE DOE")),
        ("Doe, Dean", Shown("Dean Doe")),
        # A service relaying a person: the person is the name.
        ("Jane Doe via LinkedIn", Shown("Jane Doe")),
        ("Jane Doe (via Google Docs)", Shown("Jane Doe")),
        ("Doe, Jane via Calendly", Shown("Jane Doe")),
        ("Acme GmbH via Typeform", Shown(None, "Acme GmbH")),
    ],
)  # fmt: skip
def test_display_names(display: str, shown: Shown) -> None:
    assert read_shown(display) == shown


@pytest.mark.parametrize(
    "display",
    # Surnames that are legal forms or organisation words elsewhere, degrees, honorifics.
    ["Lisanne Sas", "Thiago Sales", "Mark Bank", "Laurenz Beier B.A.", "Dr. Pamela Schmiedt",
     "Hr Simon Møller", "Kim Co", "Ana Da Silva", "Jean DUPONT", "Encarnación Company",
     "Maria Via", "Via Verde"],
)  # fmt: skip
def test_people_stay_people(display: str) -> None:
    assert read_shown(display).person is not None and read_shown(display).organisation is None


def inquiry(sender: str, body: str = "Could you send a quote for 20 seats?\n") -> Inquiry:
    raw = f"From: {sender}\nTo: leads@ourco.example\nSubject: Quote\n\n{body}".encode()
    result = read_email(raw, received_at=NOW)
    assert isinstance(result, Inquiry)
    return result


def test_an_organisation_in_the_display_name_is_the_company_not_the_name() -> None:
    lead = inquiry('"Nordwind Logistik GmbH" <info@nordwind.example>')
    assert (lead.name, lead.company) == (None, "Nordwind Logistik GmbH")


def test_the_signature_names_the_person_behind_a_company_display_name() -> None:
    body = "Could you send a quote for 20 seats?\n\nBest regards,\nJane Doe\nHead of Purchasing\n"
    lead = inquiry('"Nordwind Logistik GmbH" <jane.doe@nordwind.example>', body)
    assert lead.name == "Jane Doe" and lead.company == "Nordwind Logistik GmbH"


def test_a_person_and_company_display_name_gives_both() -> None:
    lead = inquiry('"Jane Doe | Nordwind Logistik GmbH" <jane@nordwind.example>')
    assert (lead.name, lead.company) == ("Jane Doe", "Nordwind Logistik GmbH")


def test_a_mailbox_role_is_no_name_and_the_domain_gives_the_company() -> None:
    lead = inquiry('"Nordwind Newsletter" <news@nordwind-logistik.de>')
    assert lead.name is None and lead.company == "Nordwind Logistik"


def test_a_title_in_the_display_name_is_the_title_when_the_signature_has_none() -> None:
    lead = inquiry('"Sarah Connor, Head of Sales" <sarah@cyberdyne-systems.de>')
    assert (lead.name, lead.title) == ("Sarah Connor", "Head of Sales")


@pytest.mark.parametrize(
    ("sender", "name", "company"),
    [
        ("Jonas Sterr - ProxForge <jsterr@proxforge.de>", "Jonas Sterr", "ProxForge"),
        ("Brennan Novak (Twitter) <brennan@twitter.com>", "Brennan Novak", "Twitter"),
        ("Hans Leiter - Acme <hans@acme.de>", "Hans Leiter", "Acme"),
        ("Acme - Sales <sales@acme.de>", None, "Acme"),
    ],
)
def test_the_organisation_the_senders_domain_spells_is_the_company(
    sender: str, name: str | None, company: str
) -> None:
    found = inquiry(sender)
    assert (found.name, found.company) == (name, company)


@pytest.mark.parametrize(
    ("display", "person"),
    [
        ("Clark (US), Kenneth C", "Kenneth C Clark"),
        ("Tillson, Bob (US)", "Bob Tillson"),
        ("Leong, Kirsten - 0551 - MITLL", "Kirsten Leong"),
        ("Jane Doe - Contractor", "Jane Doe"),
        ("Pedro Vieira (Gmail - Geral)", "Pedro Vieira"),
        ("David Taylor (manx.net)", "David Taylor"),
    ],
)
def test_tags_a_directory_adds_to_a_name_are_not_the_name(display: str, person: str) -> None:
    assert read_shown(display).person == person
