"""PostgreSQL plans the batch reads for the values at hand, not once for all (storage.db)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from storage.batch import _recorded_keys
from storage.db import Store
from storage.models import Lead


def test_batch_reads_keep_using_the_index_as_the_table_grows(store: Store) -> None:
    """psycopg prepares a statement on the server once it repeats; a generic plan chosen while
    `activity` was empty would scan the whole table for every batch once it holds thousands."""
    if store.engine.dialect.name != "postgresql":
        pytest.skip("a PostgreSQL plan cache")
    with store.session() as session:
        lead = Lead(email="p@example.com", domain="example.com")
        session.add(lead)
        session.commit()
        lead_id = lead.id
    with store.transaction() as conn:
        add = sa.text(
            "INSERT INTO activity (lead_id, kind, occurred_at, actor, detail, data, source,"
            " dedup_key) SELECT :lead, 'page_visit', :at, 'p@example.com', '', '{}', 'web',"
            " 'key-' || n FROM generate_series(CAST(:first AS integer), CAST(:last AS integer)) AS n"
        )
        at = datetime(2026, 1, 1, tzinfo=UTC)
        conn.execute(add, {"lead": lead_id, "at": at, "first": 1, "last": 300})
        keys = [f"new-{n}" for n in range(30)]  # a batch's keys, none recorded yet
        # Prepared by psycopg at the sixth; the server plans it for these values five times, then
        # weighs a generic plan, made now, and keeps it if it looks no dearer.
        for _ in range(15):
            assert _recorded_keys(conn, keys) == {}
        conn.execute(add, {"lead": lead_id, "at": at, "first": 301, "last": 20000})
        assert _recorded_keys(conn, ["key-7", "none"]) == {"key-7": lead_id}
        name = conn.execute(
            sa.text(
                "SELECT name FROM pg_prepared_statements"
                " WHERE statement LIKE '%activity.dedup_key = ANY%'"
            )
        ).scalar_one()
        plan = conn.execute(
            sa.text(f"EXPLAIN (FORMAT JSON) EXECUTE {name}('{{key-7,none}}')")
        ).scalar_one()
    text = plan if isinstance(plan, str) else json.dumps(plan)
    assert "Seq Scan" not in text
    assert "activity_dedup_key_key" in text
