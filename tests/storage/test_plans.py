"""PostgreSQL plans a batch's reads for the values at hand, not once for all (storage.db)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from storage import batch
from storage.batch import Item
from storage.db import Store
from storage.models import Lead

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _item(key: str) -> Item:
    return Item(
        email="p@example.com",
        kind="page_visit",
        source="web",
        occurred_at=NOW,
        dedup_key=key,
        profile={},
        detail="",
        data={"subject": None, "text": "", "fields": {}},
        forwarded_by=None,
        fields={},
        raw_id=None,
    )


def _plan(conn: sa.Connection) -> str:
    """The server's plan, in this transaction, of the batch's read of recorded keys as psycopg
    prepared it (EXPLAIN EXECUTE of the prepared statement)."""
    name = conn.execute(
        sa.text(
            "SELECT name FROM pg_prepared_statements"
            " WHERE statement LIKE '%activity.dedup_key = ANY%'"
        )
    ).scalar_one()
    plan = conn.execute(
        sa.text(f"EXPLAIN (FORMAT JSON) EXECUTE {name}('{{key-7,none}}')")
    ).scalar_one()
    return plan if isinstance(plan, str) else json.dumps(plan)


def test_batch_reads_keep_using_the_index_as_the_table_grows(store: Store) -> None:
    """psycopg prepares a statement once it repeats; a generic plan the server made while
    `activity` held a few hundred rows scans the whole table for every batch once it holds
    thousands (never analysed: a new database, autovacuum off). The batch's reads get a plan
    for their values (storage.db.plan_for_values); a statement of its own does not."""
    if store.engine.dialect.name != "postgresql":
        pytest.skip("a PostgreSQL plan cache")
    with store.session() as session:
        lead = Lead(email="p@example.com", domain="example.com")
        session.add(lead)
        session.commit()
        lead_id = lead.id
    add = sa.text(
        "INSERT INTO activity (lead_id, kind, occurred_at, actor, detail, data, source,"
        " dedup_key) SELECT :lead, 'page_visit', :at, 'p@example.com', '', '{}', 'web',"
        " 'key-' || n FROM generate_series(CAST(:first AS integer), CAST(:last AS integer)) AS n"
    )
    items = [_item(f"new-{n}") for n in range(30)]  # a batch's keys, none recorded yet
    keys = [i.dedup_key for i in items]
    with store.engine.connect() as conn:  # one connection: psycopg's prepared statements are its
        conn.execute(add, {"lead": lead_id, "at": NOW, "first": 1, "last": 300})
        conn.commit()
        # Prepared by psycopg at the sixth; the server plans it for these values five times,
        # then weighs a generic plan, made now, and keeps it if it looks no dearer.
        for _ in range(15):  # the statement read_batch sends, outside a batch
            assert batch._recorded_keys(conn, keys) == {}
        conn.execute(add, {"lead": lead_id, "at": NOW, "first": 301, "last": 20000})
        conn.commit()
        assert "Seq Scan" in _plan(conn)  # a plain transaction: the generic plan
        conn.commit()
        with Session(bind=conn) as session:
            snapshot = batch.read_batch(session, [_item("key-7"), *items])
            assert snapshot.seen == {"key-7": lead_id}
            plan = _plan(session.connection())  # in the batch's transaction
    assert "Seq Scan" not in plan
    assert "activity_dedup_key_key" in plan
