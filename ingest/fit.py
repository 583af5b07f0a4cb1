"""An inquiry made to fit the store before it is recorded, the same on SQLite and PostgreSQL.

Readers produce what the input said; the columns have lengths and character rules that
PostgreSQL enforces and SQLite ignores (a Message-ID of 400 characters against
`dedup_key varchar(300)`, a non-geographic phone number's region "001" against
`country varchar(2)`, a NUL in a name). Each value is checked against the column it goes to:
free text is cut, a value whose meaning a cut would change (a phone number, a country code) is
dropped, and a deduplication key that does not fit is replaced by its digest, which keeps it
unique and the same on every retry.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from typing import Any

from storage.batch import Item
from storage.columns import fit, fit_json, limit, storable
from storage.models import Activity, Lead

_LEAD: Any = Lead.__table__.c  # type: ignore[attr-defined]
_ACTIVITY: Any = Activity.__table__.c  # type: ignore[attr-defined]
_COUNTRY = re.compile(r"[A-Z]{2}")  # ISO 3166-1 alpha-2; phonenumbers says "001" or "ZZ" too
_WHOLE = frozenset({"phone", "country"})  # cut short, these would say something else


def fit_item(item: Item) -> Item:
    """`item` with every value fit to its column (see the module docstring)."""
    profile: dict[str, str | None] = {}
    for name, value in item.profile.items():
        profile[name] = _profile_value(name, value)
    return replace(
        item,
        email=fit(_LEAD.email, item.email),
        kind=fit(_ACTIVITY.kind, item.kind),
        source=fit(_ACTIVITY.source, item.source),
        dedup_key=dedup_key(item.dedup_key),
        profile=profile,
        detail=fit(_ACTIVITY.detail, item.detail),
        data=fit_json(item.data),
        forwarded_by=fit(_LEAD.forwarded_by, item.forwarded_by) if item.forwarded_by else None,
        fields=fit_json(item.fields),
    )


def _profile_value(name: str, value: str | None) -> str | None:
    if value is None:
        return None
    column = _LEAD[name]
    fitted = fit(column, value)
    if name in _WHOLE and fitted != value:
        return None
    if name == "country" and (not _COUNTRY.fullmatch(fitted) or fitted == "ZZ"):
        return None
    return fitted or None


def dedup_key(key: str) -> str:
    """The key as it is when it fits `activity.dedup_key`, else `<kind>~sha256:<digest>`."""
    n = limit(_ACTIVITY.dedup_key)
    if storable(key) == key and (n is None or len(key) <= n):
        return key
    kind = key.split(":", 1)[0][:20]
    return f"{kind}~sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
