"""Signature fields (name, title, company, phone) of real people's mail, one case per labelled field.

The messages and their labels are in tests/data/parsing/signatures/*.json (sources and licences in
LICENSES.md): each record has the sender as the From header shows it, the text the person wrote
and, per field, every value that counts as right: the name as signed or as the display name gives
it in First Last order (compared without middle initials and suffixes), each line of a
multi-line organisation, each of the person's phone numbers (a fax never). A field the signature
does not give is not a case. The group is the field and the source ("title/enron").

A miss is a field left empty or filled differently; a harmful miss is a field filled with text
the signature does not give at all (a sentence for a company, a fax or someone else's number for
the phone). The company read from the sender's domain, and the name from the display name, are
the fallbacks every reader has, so a wrong one is a miss, not harm.

Library: talon finds the signature block only, not its fields. Its verdict on a field is right
when the block it finds contains a right value (for the name, also when the display name is one):
the most a field reader built on talon's block could reach, an upper bound for talon.
"""

from __future__ import annotations

import contextlib
import email
import json
import re
import sys
from email.policy import default
from email.utils import parseaddr
from functools import cache
from typing import Any

import phonenumbers

from ingest.inquiry import Inquiry
from ingest.mail import read_email
from ingest.mail.companies import company_from_domain
from storage.errors import ParseError
from tests.corpora import INTERNAL, PARSING, RECEIVED, Case, Outcome, as_message

CATEGORY = "signatures"
LIBRARY = "talon 1.4 (signature block; fields inside it)"
FIELDS = ("name", "title", "company", "phone")
DATA = PARSING / "signatures"
_SUFFIXES = frozenset(
    {"jr", "sr", "ii", "iii", "phd", "ph.d", "cfa", "cpa", "mba", "esq", "dr", "prof"}
)
_EDGES = " \t,.;:|*-\u2013\u2014()[]\"'"


def messages() -> list[dict[str, Any]]:
    """Every labelled message of every source file, in file order, with its source's name."""
    found: list[dict[str, Any]] = []
    for path in sorted(DATA.glob("*.json")):
        for record in json.loads(path.read_text(encoding="utf-8")):
            found.append({**record, "source": path.stem})
    return found


def raw_of(record: dict[str, Any]) -> bytes:
    return as_message(
        record["body"], sender=record["sender"], subject=record.get("subject", "Re: your offer")
    )


def cases() -> list[Case]:
    found: list[Case] = []
    for record in messages():
        raw = raw_of(record)
        for field in FIELDS:
            accepted = record["labels"].get(field)
            if not accepted:
                continue
            found.append(
                Case(
                    name=f"{record['source']}/{record['id']}:{field}",
                    group=f"{field}/{record['source']}",
                    raw=raw,
                    expected={
                        "field": field,
                        "accepted": "\n".join(accepted),
                        "sender": record["sender"],
                    },
                )
            )
    return found


def norm(value: str) -> str:
    return " ".join(value.split()).strip(_EDGES).casefold()


def name_key(value: str) -> str:
    """A name compared without its middle initials and suffixes: "John D. Martin" is John Martin."""
    words = [w.strip(".,") for w in norm(value).replace(",", " ").split()]
    return " ".join(w for w in words if len(w) > 1 and w not in _SUFFIXES)


def is_right(field: str, value: str | None, accepted: list[str]) -> bool:
    if not value:
        return False
    if field == "phone":
        return value in accepted
    if field == "name":
        return name_key(value) in {name_key(a) for a in accepted}
    return norm(value) in {norm(a) for a in accepted}


def _harmful(field: str, value: str, accepted: list[str], sender: str) -> bool:
    """Filled with text no label holds and no fallback gives: a guess from the wrong place."""
    if field == "phone":
        return True  # a fax, a switchboard or someone else's number: a wrong way to reach them
    display, address = parseaddr(sender)
    mine = norm(value)
    if field == "name" and display and (mine == norm(display) or mine in norm(display)):
        return False
    if field == "company" and mine == norm(company_from_domain(address.rpartition("@")[2]) or ""):
        return False
    return not any(mine in norm(a) or norm(a) in mine for a in accepted)


def read(raw: bytes) -> Inquiry | None:
    try:
        result = read_email(raw, internal_domains=INTERNAL, received_at=RECEIVED)
    except ParseError:
        return None
    return result if isinstance(result, Inquiry) else None


@cache
def _read_cached(raw: bytes) -> Inquiry | None:
    return read(raw)  # each message is a case once per field: read it once


def verdict(field: str, inquiry: Inquiry | None, accepted: list[str], sender: str) -> Outcome:
    value = getattr(inquiry, field) if inquiry is not None else None
    if is_right(field, value, accepted):
        return Outcome(right=True)
    if inquiry is None:
        return Outcome(right=False, detail="not read as an inquiry")
    wrong = bool(value) and _harmful(field, value, accepted, sender)
    return Outcome(right=False, wrong=wrong, detail=f"{field}: {value!r}, expected {accepted[0]!r}")


def ours(case: Case) -> Outcome:
    accepted = case.expected["accepted"].split("\n")
    return verdict(
        case.expected["field"], _read_cached(case.raw), accepted, case.expected["sender"]
    )


@cache
def _talon() -> Any:
    """talon's signature extractor, or None when talon is not installed.

    talon 1.4.4 imports `sklearn.externals.joblib` (gone since scikit-learn 0.23) and its pickled
    classifier no longer loads: the shim gives it joblib, and the classifier is trained again from
    the train.data talon ships, the way talon's own `classifier.train` builds it.
    """
    try:
        import joblib  # only the benchmark needs talon and its shims
        import sklearn.externals
    except ImportError:
        return None
    sys.modules.setdefault("sklearn.externals.joblib", joblib)
    sklearn.externals.joblib = joblib  # type: ignore[attr-defined]
    try:
        from talon.signature import EXTRACTOR_DATA, extraction
        from talon.signature.learning import classifier
    except ImportError:
        return None
    model = classifier.init().set_params(random_state=0)  # the same figures on every run
    extraction.EXTRACTOR = classifier.train(model, EXTRACTOR_DATA)
    return extraction


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def library(case: Case) -> Outcome | None:
    extraction = _talon()
    if extraction is None:
        return None
    msg = email.message_from_bytes(case.raw, policy=default)
    body = msg.get_body(preferencelist=("plain",))  # type: ignore[attr-defined]
    text = body.get_content() if body is not None else ""
    sender = case.expected["sender"]
    signature = None
    with contextlib.suppress(Exception):  # talon's own advice: its extract may raise
        _text, signature = extraction.extract(text, sender=sender)
    field = case.expected["field"]
    accepted = case.expected["accepted"].split("\n")
    display = parseaddr(sender)[0]
    if field == "name" and display and norm(display) in {norm(a) for a in accepted}:
        return Outcome(right=True)
    if not signature:
        return Outcome(right=False, detail="no signature block found")
    if field == "phone":
        found = _digits(signature)
        national = [str(phonenumbers.parse(a).national_number) for a in accepted]
        return Outcome(right=any(n in found for n in national))
    block = norm(signature)
    return Outcome(right=any(norm(a) in block for a in accepted))
