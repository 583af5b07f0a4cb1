"""storage.db.read_json: JSON columns read from PostgreSQL by orjson, exactly as `json.loads`
reads them (what orjson reads differently goes to `json.loads`); and times read back in UTC."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from storage.db import Store, read_json, table
from storage.models import Activity, Lead

SAMPLES = [
    '{"a": 1, "b": [1, 2.5, null, true, false], "c": {"d": "\u00e9\\u00e9\\n"}}',
    "[]",
    "{}",
    "null",
    '"text"',
    "0.1",
    "-0.0",
    "1e-7",
    "9223372036854775807",  # 19 digits: json.loads reads it
    "922337203685477580",  # 18 digits: orjson reads it exactly
    "12345678901234567890123",  # orjson would make a float of it
    '{"ids": [1, 22, 333], "big": -12345678901234567890, "s": "123456789012345678901"}',
    '{"n": 18446744073709551616}',
    "1e400",  # infinity for json.loads, an error for orjson
    "NaN",
    '["-Infinity", -Infinity]',
    '"\\ud800"',  # an unpaired surrogate
    '{"a": 1, "a": 2}',
]


@pytest.mark.parametrize("text", SAMPLES)
def test_read_json_is_json_loads(text: str) -> None:
    expected = json.loads(text)
    for given in (text.encode(), memoryview(text.encode()), text):
        got = read_json(given)
        assert repr(got) == repr(expected)  # repr: 1 and 1.0, -0.0 and 0.0, nan all told apart
        assert type(got) is type(expected)


def test_bad_json_still_fails() -> None:
    with pytest.raises(ValueError):
        read_json(b'{"a": ')


def test_postgresql_reads_json_columns_and_utc_times(pg_server_url: str, store: Store) -> None:
    if store.engine.dialect.name != "postgresql":
        pytest.skip("the PostgreSQL engine's reader")
    assert store.engine.dialect._json_deserializer is read_json  # type: ignore[attr-defined]
    at = datetime(2026, 12, 1, 10, 0, 0, 123456, tzinfo=timezone(timedelta(hours=5)))
    data = {"big": 12345678901234567890123, "f": 0.1, "s": "\u00e9", "list": [None, 1]}
    with store.engine.begin() as conn:
        lead_id = conn.execute(
            sa.insert(table(Lead)).values(email="ann@acme.example", domain="acme.example")
            .returning(table(Lead).c.id)
        ).scalar_one()  # fmt: skip
        conn.execute(
            sa.insert(table(Activity)).values(
                lead_id=lead_id, kind="page_visit", occurred_at=at, dedup_key="k1", data=data
            )
        )
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(table(Activity).c.data, table(Activity).c.occurred_at)).one()
        assert conn.exec_driver_sql("SHOW TimeZone").scalar() == "UTC"
    assert row.data == data and repr(row.data["big"]) == "12345678901234567890123"
    assert row.occurred_at == at and row.occurred_at.tzinfo is UTC
