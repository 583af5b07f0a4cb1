"""Signatures: where they start, and the title, company and phone number they give away."""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers

from ingest.mail.text import clean_line

FIELD_LIMIT = 200
_MAX_SIGNATURE_LINES = 12

_DELIMITER = re.compile(r"^(--|__|—)\s*$")  # RFC 3676 4.3 "-- " after trailing-space trimming
_MOBILE = re.compile(
    r"^\s*(sent from my|sent from (outlook|mail|yahoo)|sent via|sent with|get outlook for|"
    r"von meinem .* gesendet|gesendet von meinem|envoyé de mon|enviado desde mi|inviato da|"
    r"enviado do meu|verzonden vanaf mijn)\b",
    re.IGNORECASE,
)
_VALEDICTION = re.compile(
    r"^\s*(best( wishes| regards)?|kind regards|warm regards|regards|many thanks|thanks|"
    r"thank you|cheers|sincerely|yours sincerely|yours truly|all the best|"
    r"mit freundlichen grüßen|mit freundlichen gruessen|freundliche grüße|viele grüße|"
    r"beste grüße|liebe grüße|mfg|gruß|grüße|cordialement|bien cordialement|bien à vous|"
    r"salutations|meilleures salutations|saludos|saludos cordiales|un saludo|atentamente|"
    r"cordiali saluti|distinti saluti|saluti|un saluto|atenciosamente|cumprimentos|abraços|"
    r"met vriendelijke groet|vriendelijke groeten|med vänliga hälsningar|hälsningar|mvh)"
    r"\s*[,.!]*\s*$",
    re.IGNORECASE,
)
_TITLE = re.compile(
    r"\b(ceo|cto|cfo|coo|cmo|cio|vp|svp|evp|president|founder|co-founder|owner|partner|director|"
    r"head|manager|lead|chief|officer|engineer|developer|architect|consultant|specialist|analyst|"
    r"buyer|purchasing|procurement|sales|marketing|administrator|coordinator|assistant|"
    r"geschäftsführer|geschaftsfuhrer|leiter|leiterin|einkauf|inhaber|vorstand|directeur|"
    r"directrice|responsable|gérant|gerente|jefe|jefa|director[a]?|direttore|responsabile|"
    r"titolare|amministratore|commercialista|diretor|gerente)\b",
    re.IGNORECASE,
)
_COMPANY = re.compile(
    r"\b(inc|llc|l\.l\.c|ltd|limited|gmbh|ag|kg|se|sa|s\.a|sas|sarl|s\.r\.l|srl|spa|s\.p\.a|bv|"
    r"b\.v|nv|co|corp|corporation|company|plc|pty|oy|ab|as|aps|kft|sp\. z o\.o|group|"
    r"holding|technologies|solutions|systems|labs)\b\.?",
    re.IGNORECASE,
)
_PHONE_LABEL = re.compile(
    r"\b(tel|tél|phone|mobile|mob|cell|fon|telefon|telefono|teléfono|telefone|handy|direct|"
    r"office|t|m|p)\b\.?\s*[:.]?\s*[+(\d]",
    re.IGNORECASE,
)
_NAME = re.compile(r"^[^\W\d_][\w.'\u2019-]*( [^\W\d_][\w.'\u2019-]*){0,3}$")
_CONTACT = re.compile(r"@|https?://|www\.|\d{3}")


@dataclass(frozen=True)
class Signature:
    """What a signature block tells about its author."""

    name: str | None = None
    title: str | None = None
    company: str | None = None
    phone: str | None = None  # E.164
    phone_region: str | None = None  # ISO alpha-2 of the phone number's country


def split_signature(text: str) -> tuple[str, list[str]]:
    """(message without signature, signature lines); the valediction itself is dropped."""
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if _DELIMITER.match(line) or _MOBILE.match(line):
            body, sig = lines[:i], lines[i + 1 :]
            return _trim_valediction(body, sig)
    return _trim_valediction(lines, [])


def _trim_valediction(body: list[str], sig: list[str]) -> tuple[str, list[str]]:
    for i in range(len(body) - 1, max(-1, len(body) - _MAX_SIGNATURE_LINES - 1), -1):
        if _VALEDICTION.match(body[i]):
            return "\n".join(body[:i]).strip(), [*body[i + 1 :], *sig]
    return "\n".join(body).strip(), sig


def read_signature(lines: list[str], *, region: str | None, body: str = "") -> Signature:
    """Name, title, company and phone from signature lines (phone also from labelled body lines)."""
    cleaned = (clean_line(x, limit=FIELD_LIMIT) for x in lines[:_MAX_SIGNATURE_LINES])
    clean = [c for c in cleaned if c]
    phone, phone_region = find_phone("\n".join(clean), region=region)
    if phone is None and body:
        labelled = "\n".join(x for x in body.split("\n") if _PHONE_LABEL.search(x))
        phone, phone_region = find_phone(labelled, region=region)
    name = title = company = None
    for i, line in enumerate(clean):
        if _CONTACT.search(line):
            continue
        if title is None and _TITLE.search(line) and len(line) <= 80:
            title = line
            follow = clean[i + 1] if i + 1 < len(clean) else None
            if company is None and follow and not _CONTACT.search(follow) and len(follow) <= 80:
                company = follow
        elif company is None and _COMPANY.search(line) and len(line) <= 80:
            company = line
        elif name is None and i == 0 and _NAME.match(line):
            name = line
    if company is not None and company == title:
        company = None
    return Signature(
        name=name, title=title, company=company, phone=phone, phone_region=phone_region
    )


def find_phone(text: str, *, region: str | None) -> tuple[str | None, str | None]:
    """The first valid phone number as E.164 and its country.

    The sender's ccTLD gives the region for national numbers; without one only international
    (+...) numbers are trusted first, then US as the last resort. Leniency.VALID keeps dates,
    zip codes and order numbers out.
    """
    if not text.strip():
        return None, None
    for attempt in (region, None, "US") if region else (None, "US"):
        matcher = phonenumbers.PhoneNumberMatcher(
            text[:5000], attempt, leniency=phonenumbers.Leniency.VALID, max_tries=50
        )
        for match in matcher:
            if "fax" in text[max(0, match.start - 12) : match.start].lower():
                continue  # a fax number is no way to reach a person
            number = match.number
            formatted = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
            return formatted, phonenumbers.region_code_for_number(number)
    return None, None
