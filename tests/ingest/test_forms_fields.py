"""map_fields, the form config parser and the pure reader helpers: no database, no HTTP."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ingest.forms import map_fields
from ingest.forms.config import parse_forms
from ingest.forms.limits import RateLimiter
from ingest.forms.reader import check_email, check_phone, parse_body
from storage.errors import ConfigError, FieldError, ParseError


@pytest.mark.parametrize(
    "key", ["email", "E-mail", "your-email", "Email Address", "email_address", "contact[email]"]
)
def test_email_aliases(key: str) -> None:
    assert map_fields({key: " ann@example.com "}).email == "ann@example.com"


def test_name_company_phone_message_and_first_last() -> None:
    mapped = map_fields(
        {
            "First Name": "Ann",
            "last-name": "Lee",
            "Organisation": "Acme Ltd",
            "tel": "+44 20 7946 0958",
            "comments": "line one\r\nline two",
            "Job Title": "CTO",
        }
    )
    assert mapped.name == "Ann Lee" and mapped.first_name == "Ann" and mapped.last_name == "Lee"
    assert mapped.company == "Acme Ltd" and mapped.title == "CTO"
    assert mapped.phone == "+44 20 7946 0958"
    assert mapped.message == "line one\nline two"


def test_full_name_wins_over_first_and_last() -> None:
    assert map_fields({"full name": "Ann B. Lee", "first": "Ann"}).name == "Ann B. Lee"


def test_utm_page_and_unknown_fields_are_kept() -> None:
    mapped = map_fields(
        {
            "utm_source": "google",
            "UTM Campaign": "spring-sale",
            "page_url": "https://www.example.com/pricing",
            "Company Size": "51-200",
            "g-recaptcha-response": "token",
            "email": "a@b.example",
        }
    )
    assert mapped.utm == {"utm_source": "google", "utm_campaign": "spring-sale"}
    assert mapped.page_url == "https://www.example.com/pricing"
    assert mapped.extra == {"company_size": "51-200"}  # the captcha token is noise, dropped


def test_per_form_mapping_beats_aliases_and_can_ignore_or_rename() -> None:
    mapped = map_fields(
        {"q7": "Initech", "name": "ignored?", "consent": "yes", "hear": "podcast"},
        mapping={"Q7": "company", "consent": "ignore", "hear": "referral", "name": "title"},
    )
    assert mapped.company == "Initech"
    assert mapped.title == "ignored?" and mapped.name is None
    assert mapped.extra == {"referral": "podcast"}


def test_second_field_with_the_same_meaning_is_kept_not_lost() -> None:
    mapped = map_fields({"email": "a@b.example", "Email Address": "c@d.example"})
    assert mapped.email == "a@b.example"
    assert mapped.extra == {"email_address": "c@d.example"}


def test_lists_join_and_newlines_never_reach_single_line_fields() -> None:
    mapped = map_fields(
        {"name": "Ann\r\nBcc: evil", "interests": ["a", "", "b"], "email": ["x@y.z"]}
    )
    assert mapped.name == "Ann Bcc: evil"
    assert mapped.extra["interests"] == "a\nb"
    assert mapped.email == "x@y.z"


def test_check_email_and_phone() -> None:
    assert check_email("Ann@Example.COM") == "ann@example.com"
    with pytest.raises(FieldError) as missing:
        check_email("")
    assert missing.value.field == "email" and str(missing.value) == "missing email"
    with pytest.raises(FieldError, match="invalid email"):
        check_email("alice@example.org)<bob@example.org>")
    assert check_phone("+44 20 7946 0958", country=None) == ("+442079460958", "GB")
    assert check_phone("030 901820", country="DE") == ("+4930901820", "DE")
    assert check_phone("12", country=None) == (None, None)


def test_parse_body_encodings() -> None:
    assert parse_body(b"a=1&b=x%20y&b=z", "application/x-www-form-urlencoded") == {
        "a": "1",
        "b": ["x y", "z"],
    }
    assert parse_body(b'{"a": 1}', "application/json; charset=utf-8") == {"a": 1}
    multipart = (
        b'--XX\r\nContent-Disposition: form-data; name="email"\r\n\r\nann@example.com\r\n'
        b'--XX\r\nContent-Disposition: form-data; name="cv"; filename="cv.pdf"\r\n'
        b"Content-Type: application/pdf\r\n\r\n%PDF-1.4\r\n--XX--\r\n"
    )
    assert parse_body(multipart, "multipart/form-data; boundary=XX") == {
        "email": "ann@example.com",
        "cv": "cv.pdf (8 bytes)",
    }
    with pytest.raises(ParseError, match="not valid JSON"):
        parse_body(b"{", "application/json")
    with pytest.raises(ParseError, match="object"):
        parse_body(b"[1]", "application/json")


def test_forms_config_parses_and_refuses_mistakes() -> None:
    config = parse_forms(
        """
        [defaults]
        rate_per_minute = 5
        [forms.pricing]
        thank_you_url = "https://www.example.com/thanks"
        allowed_origins = ["https://www.example.com/"]
        required = ["email", "company"]
        mapping = { q1 = "company" }
        """
    )
    pricing = config.get("pricing")
    assert pricing is not None and pricing.configured and pricing.rate_per_minute == 5
    assert pricing.origin_allowed("https://www.example.com")
    assert not pricing.origin_allowed("https://evil.example")
    other = config.get("other")
    assert other is not None and not other.configured and other.origin_allowed("https://x.example")
    assert config.get("../etc") is None
    assert parse_forms("strict = true").get("other") is None
    with pytest.raises(ConfigError, match="unknown settings"):
        parse_forms("[forms.a]\nthanks = 'x'")
    with pytest.raises(ConfigError, match="provider"):
        parse_forms("[forms.a]\nprovider = 'wufoo'")


def test_rate_limiter_refills_over_time() -> None:
    now = [1000.0]
    limiter = RateLimiter(rate_per_minute=60, burst=2, clock=lambda: now[0])
    assert limiter.take("1.2.3.4") == 0 and limiter.take("1.2.3.4") == 0
    assert limiter.take("1.2.3.4") == pytest.approx(1.0)
    assert limiter.take("5.6.7.8") == 0  # another client has its own bucket
    now[0] += 1.0
    assert limiter.take("1.2.3.4") == 0


def test_touch_is_recorded_from_source_and_fields() -> None:
    from storage.leads import make_touch

    when = datetime(2025, 3, 1, tzinfo=UTC)
    touch = make_touch("webhook:typeform", {"_form": "demo", "utm_campaign": "x"}, when)
    assert touch["channel"] == "webhook" and touch["provider"] == "typeform"
    assert touch["form"] == "demo" and touch["utm_campaign"] == "x"
    assert make_touch("email", {}, when)["channel"] == "email"
