"""Form field names, however a site spelled them, mapped onto the fields a lead has.

`map_fields` is pure: it renames and tidies, it does not validate (the reader checks the email
and the phone). It is shared by every way a form reaches us: direct posts, provider webhooks and
form-notification emails.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

# Canonical targets a per-form mapping may name; anything else becomes an `extra` key.
CANONICAL = (
    "email",
    "name",
    "first_name",
    "last_name",
    "company",
    "title",
    "phone",
    "message",
    "subject",
    "country",
    "page_url",
)
IGNORE = "ignore"  # a mapping target that drops the field (tokens, consent boilerplate, …)

# Well-known spellings, compared with everything but letters and digits removed, so
# "E-mail", "your-email" (Contact Form 7), "Email Address" and "email_address" all match.
_ALIASES: dict[str, tuple[str, ...]] = {
    "email": (
        "email",
        "emailaddress",
        "youremail",
        "mail",
        "workemail",
        "businessemail",
        "contactemail",
        "emailaddr",
        "useremail",
        "youremailaddress",
    ),
    "name": ("name", "fullname", "yourname", "contactname", "namefull", "yourfullname"),
    "first_name": ("firstname", "first", "givenname", "fname", "forename", "namefirst"),
    "last_name": ("lastname", "last", "surname", "familyname", "lname", "namelast"),
    "company": (
        "company",
        "companyname",
        "organisation",
        "organization",
        "org",
        "organisationname",
        "organizationname",
        "business",
        "businessname",
        "yourcompany",
        "employer",
    ),
    "title": ("title", "jobtitle", "position", "role", "jobrole", "jobfunction"),
    "phone": (
        "phone",
        "tel",
        "telephone",
        "phonenumber",
        "telephonenumber",
        "mobile",
        "mobilephone",
        "mobilenumber",
        "cell",
        "cellphone",
        "yourphone",
        "yourtel",
        "phoneno",
    ),
    "message": (
        "message",
        "comments",
        "comment",
        "yourmessage",
        "enquiry",
        "inquiry",
        "details",
        "question",
        "questions",
        "body",
        "notes",
        "description",
        "howcanwehelp",
        "howcanwehelpyou",
        "request",
        "text",
    ),
    "subject": ("subject", "yoursubject", "topic"),
    "country": ("country", "countrycode", "yourcountry"),
    "page_url": (
        "pageurl",
        "page",
        "pageuri",
        "sourceurl",
        "landingpage",
        "formurl",
        "referrerurl",
        "hspageurl",
        "siteurl",
    ),
}
ALIASES: dict[str, str] = {alias: target for target, names in _ALIASES.items() for alias in names}

# Machinery, not answers: captcha tokens, CSRF tokens, form-routing fields.
_NOISE = frozenset(
    {
        "grecaptcharesponse",
        "hcaptcharesponse",
        "cfturnstileresponse",
        "csrfmiddlewaretoken",
        "token",
        "csrftoken",
        "authenticitytoken",
        "formname",
        "botfield",
        "next",
        "redirect",
        "honeypot",
    }
)
_BRACKETED = re.compile(r"^[\w-]*\[([^\[\]]+)\]$")  # PHP/Rails style: contact[email]
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")
# C0 and C1 controls but tab and line breaks: a visitor's ESC, BEL or backspace would reach an
# admin's terminal (`leadbot leads show`) as control sequences. NUL too: PostgreSQL refuses it.
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")

SINGLE_LINE_LIMIT = 200  # the Lead columns' width
EMAIL_LIMIT = 320
VALUE_LIMIT = 20_000  # a message; longer text is cut, never refused
KEY_LIMIT = 64
EXTRA_LIMIT = 100  # fields kept per submission; a form with more is a bot or a survey


@dataclass(frozen=True)
class MappedForm:
    """One submission's answers under our names; what we could not place is in `extra`."""

    email: str | None = None
    name: str | None = None  # the full name, or first + last when only those were given
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    title: str | None = None
    phone: str | None = None  # as typed; the reader normalises it to E.164
    message: str | None = None
    subject: str | None = None
    country: str | None = None
    page_url: str | None = None
    utm: dict[str, str] = field(default_factory=dict)  # utm_source, utm_campaign, …
    extra: dict[str, str] = field(default_factory=dict)  # snake_case key -> value


def squash(name: str) -> str:
    """A field name reduced to letters and digits, for alias lookup."""
    name = name.strip().lower()
    inner = _BRACKETED.match(name)
    if inner:
        name = inner.group(1)
    return _NOT_ALNUM.sub("", name)


def snake(name: str) -> str:
    """A field name as a stable snake_case key for `extra` and for scoring rules."""
    name = name.strip().lower()
    inner = _BRACKETED.match(name)
    if inner:
        name = inner.group(1)
    return _NOT_ALNUM.sub("_", name).strip("_")[:KEY_LIMIT]


def single_line(value: str, limit: int = SINGLE_LINE_LIMIT) -> str:
    # CR/LF in a name or company would let one field forge lines in a log or a Slack card.
    return " ".join(_CONTROLS.sub("", value).split())[:limit]


def _as_text(value: str | list[str], *, multiline: bool) -> str:
    parts = [value] if isinstance(value, str) else [str(v) for v in value]
    parts = [_CONTROLS.sub("", p).strip() for p in parts if p is not None and str(p).strip()]
    text = ("\n" if multiline else ", ").join(parts)
    return text.replace("\r\n", "\n").replace("\r", "\n")[:VALUE_LIMIT]


def map_fields(
    data: Mapping[str, str | list[str]], *, mapping: Mapping[str, str] | None = None
) -> MappedForm:
    """Map submitted fields by per-form `mapping` first (field name -> target), then aliases.

    A mapping target is one of CANONICAL, `utm_<x>`, `ignore`, or any other name, which keeps
    the field in `extra` under that name. The first non-empty value wins for a target; a later
    one with the same meaning is kept in `extra` rather than lost.
    """
    explicit = {k.strip().lower(): v.strip() for k, v in (mapping or {}).items()}
    found: dict[str, str] = {}
    utm: dict[str, str] = {}
    extra: dict[str, str] = {}
    for raw_key, raw_value in data.items():
        key = str(raw_key)
        target = explicit.get(key.strip().lower())
        if target is None:
            squashed = squash(key)
            snaked = snake(key)
            if snaked.startswith("utm_") and len(snaked) > 4:
                target = snaked
            elif squashed in ALIASES:
                target = ALIASES[squashed]
            elif squashed in _NOISE or snaked.startswith("_wpcf7") or not squashed:
                continue
            else:
                target = snaked
        if target == IGNORE or not target:
            continue
        multiline = target == "message" or target not in CANONICAL
        value = _as_text(raw_value, multiline=multiline)
        if not value:
            continue
        if target.startswith("utm_"):
            utm.setdefault(target[:KEY_LIMIT], single_line(value))
        elif target in CANONICAL and target not in found:
            limit = EMAIL_LIMIT if target == "email" else SINGLE_LINE_LIMIT
            found[target] = value if target == "message" else single_line(value, limit)
            if target == "page_url":
                found[target] = single_line(value, 2000)
        elif len(extra) < EXTRA_LIMIT:
            extra_key = snake(target) if target in CANONICAL else target[:KEY_LIMIT]
            if extra_key in found or extra_key in extra:
                extra_key = snake(key) or extra_key
            extra.setdefault(extra_key, value)
    name = found.get("name")
    if not name:
        joined = " ".join(p for p in (found.get("first_name"), found.get("last_name")) if p)
        name = joined or None
    return MappedForm(
        email=found.get("email"),
        name=name,
        first_name=found.get("first_name"),
        last_name=found.get("last_name"),
        company=found.get("company"),
        title=found.get("title"),
        phone=found.get("phone"),
        message=found.get("message"),
        subject=found.get("subject"),
        country=found.get("country"),
        page_url=found.get("page_url"),
        utm=utm,
        extra=extra,
    )
