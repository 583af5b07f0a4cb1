"""The character rules of our text columns, checked before a write, the same on every backend.

PostgreSQL enforces `varchar(n)` and refuses NUL in text; SQLite accepts both without a word. A
value from outside that breaks either rule would be stored on one backend and fail on the other
(as a 500, or an input kept as failed forever). Writers fit such values here first.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")  # NUL, and lone surrogates (JSON's "\ud800")


def limit(column: sa.Column[Any] | Any) -> int | None:
    """The length of a `varchar(n)` column; None for unbounded text."""
    return getattr(column.type, "length", None)


def storable(value: str) -> str:
    """`value` as text any database can store: NUL dropped, a lone surrogate (which no encoding
    can write) replaced by U+FFFD."""
    if value.isascii() and "\x00" not in value:
        return value
    return _UNSTORABLE.sub(lambda m: "" if m.group() == "\x00" else "\ufffd", value)


def fit(column: sa.Column[Any] | Any, value: str) -> str:
    """`value` made storable and cut to the column's length."""
    value = storable(value)
    n = limit(column)
    return value if n is None or len(value) <= n else value[:n]


def fit_json(value: Any) -> Any:
    """A JSON value with every string and key storable (our readers nest it shallowly)."""
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, dict):
        return {storable(str(k)): fit_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [fit_json(v) for v in value]
    return value
