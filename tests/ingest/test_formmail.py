"""Form-notification emails: the visitor becomes the lead, never the website's sender."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlmodel import select
from starlette.testclient import TestClient

from bot.runtime import Runtime, build_runtime
from bot.web import create_app
from ingest.inquiry import Inquiry
from ingest.mail import read_email
from ingest.mail.formmail import detect_form_notification, notification_vendor
from storage.db import Store
from storage.models import Activity, Lead
from tests.conftest import DATA, make_settings

FORMMAIL = DATA / "formmail"
INTERNAL = frozenset({"ourco.example"})
NOW = datetime(2025, 3, 20, tzinfo=UTC)


def read(name: str) -> Inquiry:
    result = read_email((FORMMAIL / name).read_bytes(), internal_domains=INTERNAL, received_at=NOW)
    assert isinstance(result, Inquiry), result
    return result


@pytest.mark.parametrize(
    ("name", "email", "person", "company", "vendor", "says"),
    [
        ("contactform7.eml", "marta.kowalski@baltic-freight.example", "Marta Kowalski", None,
         "contactform7", "120 torque wrenches"),
        ("wpforms.eml", "jonas.berg@fjord-analytics.example", "Jonas Berg", "Fjord Analytics AS",
         "wpforms", "40 analysts"),
        ("gravityforms.eml", "aisha@lagos-solar.example", "Aisha Okafor", "Lagos Solar Ltd",
         "gravityforms", "300 units"),
        ("webflow.eml", "tomas@andes-coffee.example", "Tomás Alvarez", "Andes Coffee Co.",
         "webflow", "storefront"),
        ("squarespace.eml", "lena.fischer@alpen-retreats.example", "Lena Fischer", None,
         "squarespace", "25 employees\nstarting in April"),
        ("wix.eml", "kenji.w@osaka-gardens.example", "Kenji Watanabe", None, "wix",
         "3 office gardens"),
    ],
)  # fmt: skip
def test_each_vendor_default_notification(
    name: str, email: str, person: str, company: str | None, vendor: str, says: str
) -> None:
    inquiry = read(name)
    assert inquiry.email == email
    assert inquiry.name == person
    if company:
        assert inquiry.company == company
    assert inquiry.kind == "form_submission"
    assert inquiry.source == f"email:{vendor}"
    assert says in inquiry.text
    assert inquiry.forwarded_by is None
    assert inquiry.dedup_key.startswith("msgid:")
    # the site's own address is kept as provenance, never as the lead
    assert inquiry.fields["via"] != inquiry.email


def test_phone_and_extra_fields() -> None:
    wix = read("wix.eml")
    assert wix.phone == "+81612345678" and wix.country == "JP"
    gravity = read("gravityforms.eml")
    assert gravity.phone is None and gravity.fields["phone_as_typed"] == "(555) 010-4477"
    squarespace = read("squarespace.eml")
    assert squarespace.subject == "Corporate classes"


def test_a_rep_forwarding_a_notification() -> None:
    inquiry = read("forwarded-contactform7.eml")
    assert inquiry.email == "ines@porto-marine.example"
    assert inquiry.name == "Ines Duarte"
    assert inquiry.forwarded_by == "sam@ourco.example"
    assert inquiry.kind == "form_submission" and "40 marine-grade" in inquiry.text
    assert "via" not in inquiry.fields


def test_an_ordinary_inquiry_is_not_a_form() -> None:
    inquiry = read("plain-inquiry.eml")
    assert inquiry.kind == "email_inquiry" and inquiry.email == "olu@kano-textiles.example"


def test_detector_needs_a_vendor_signal_and_a_visitor_email() -> None:
    text = "Name: Jane Roe\nEmail: jane@roe-industries.example\nMessage: Call me"
    assert detect_form_notification("Hello", "jane@roe-industries.example", text, "") is None
    pairs = detect_form_notification("New Entry: Contact", "noreply@site.example", text, "")
    assert pairs == {
        "Name": "Jane Roe",
        "Email": "jane@roe-industries.example",
        "Message": "Call me",
    }
    # only the site's own address in the body: no visitor, not a lead from this path
    own = "Name: Site\nEmail: noreply@site.example\n"
    assert detect_form_notification("New Entry: Contact", "noreply@site.example", own, "") is None


def test_text_parsing_keeps_multiline_messages_and_urls() -> None:
    text = (
        "Name: Ana Lima\nE-mail: ana@lima-labs.example\nMessage: first line\n"
        "see https://lima-labs.example/specs\nthird line\n\n-- \nThis e-mail was sent from a "
        "contact form on Site (https://site.example)\nLabel: after the footer\n"
    )
    pairs = detect_form_notification('Site "Contact"', "wordpress@site.example", text, "")
    assert pairs is not None
    assert pairs["Message"] == "first line\nsee https://lima-labs.example/specs\nthird line"
    assert "Label" not in pairs


def test_html_scripts_and_huge_tables_are_bounded() -> None:
    rows = "".join(f"<tr><td>Field {i}</td><td>value {i}</td></tr>" for i in range(500))
    html = (
        "<script>var Email='x@evil.example'</script><table>"
        "<tr><td>Email</td><td>buyer@real.example</td></tr>" + rows + "</table>"
    )
    pairs = detect_form_notification(
        "New form submission on Shop", "no-reply@webflow.com", "", html
    )
    assert pairs is not None and pairs["Email"] == "buyer@real.example"
    assert len(pairs) <= 60


def test_vendor_names() -> None:
    assert notification_vendor("New submission from Contact", "wordpress@a.example", "", "") == (
        "gravityforms"
    )
    assert notification_vendor('Site "Contact"', "wordpress@a.example", "", "") == "contactform7"
    assert notification_vendor("Website enquiry form", "no-reply@a.example", "", "") == "form"
    assert notification_vendor("Lunch?", "bob@a.example", "see you", "") is None


def test_forwarded_notification_through_the_inbound_webhook(store: Store) -> None:
    """End to end: SendGrid raw post -> pipeline -> the visitor's lead with a form activity."""
    settings = make_settings(store.url, sendgrid_secret="k")
    runtime: Runtime = build_runtime(settings, store=store)
    raw = (FORMMAIL / "squarespace.eml").read_bytes()
    with TestClient(create_app(runtime)) as client:
        r = client.post("/inbound/sendgrid?key=k", files={"email": (None, raw)})
    assert r.status_code == 200, r.text
    with store.session() as s:
        leads = list(s.exec(select(Lead)))
        activities = list(s.exec(select(Activity).where(Activity.kind == "form_submission")))
    assert [lead.email for lead in leads] == ["lena.fischer@alpen-retreats.example"]
    assert leads[0].source == "email:squarespace"
    assert len(activities) == 1
