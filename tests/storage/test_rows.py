"""storage.db's writes of many rows and `among`: on PostgreSQL one statement over a JSON
parameter instead of the driver's executemany, and `= ANY(array)` instead of an IN list; the
rows stored must be exactly those the executemany stores, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from storage import db
from storage.db import Store, among, insert_ignore_quiet, insert_rows, table, update_rows
from storage.models import Activity, Lead, LeadStatus

NOW = datetime(2026, 12, 1, 10, 0, 0, 123456, tzinfo=UTC)
NAIVE = datetime(2026, 11, 30, 8, 30, 0, 654321)  # UTCDateTime reads a naive time as UTC
LEAD = table(Lead)
ACTIVITY = table(Activity)


def lead_values(email: str, n: int) -> dict[str, Any]:
    return {
        "email": email,
        "domain": "acme.example",
        "name": None if n == 0 else f"Ann {n} \u00e9\"'\\,{{}}",  # quotes, braces, backslash
        "source": "web:www",
        "latest_source": "web:www",
        "first_touch": None if n == 0 else {"channel": "web", "n": n, "list": [1, None]},
        "latest_touch": None,
        "status": LeadStatus.NURTURING if n != 2 else "announced",
        "temperature": "cold",
        "score": 0.1 + n / 3,
        "fit_score": 0.0,
        "engagement_score": -1.5,
        "reasons": [] if n == 0 else [{"rule": "r", "points": 1.25}],
        "product_scores": {},
        "fields": {"utm_campaign": "spring", "nested": {"a": [1, 2]}},
        "edited_fields": ["name"] if n == 1 else [],
        "created_at": NOW,
        "updated_at": NAIVE if n == 1 else NOW,
        "last_activity_at": None if n == 0 else NOW,
    }


def stored(conn: sa.Connection, t: sa.Table, where: Any, skip: set[str]) -> list[tuple[Any, ...]]:
    """Every column but `skip` of the rows, in id order, as the database has it (text, and
    whether it is NULL: a JSON null and a NULL are different values)."""
    names = [c.name for c in t.c if c.name not in skip]
    cols = []
    for name in names:
        cols += [sa.cast(t.c[name], sa.Text), t.c[name].is_(None)]
    return [tuple(r) for r in conn.execute(sa.select(*cols).where(where).order_by(t.c.id))]


def by_executemany(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db, "ROWS_FROM", 10**9)


def test_the_one_statement_stores_what_the_executemany_stores(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    with store.transaction() as conn:
        one = [lead_values(f"one{n}@acme.example", n) for n in range(3)]
        assert insert_ignore_quiet(conn, LEAD, [*one, dict(one[0])], "email") == 3
        with monkeypatch.context() as m:
            by_executemany(m)
            many = [lead_values(f"many{n}@acme.example", n) for n in range(3)]
            assert insert_ignore_quiet(conn, LEAD, [*many, dict(many[0])], "email") == 3
        skip = {"id", "email"}
        got_one = stored(conn, LEAD, LEAD.c.email.like("one%"), skip)
        got_many = stored(conn, LEAD, LEAD.c.email.like("many%"), skip)
        assert got_one == got_many
        assert insert_ignore_quiet(conn, LEAD, one[1:], "email") == 0  # all there already

        ids = {e: i for e, i in conn.execute(sa.select(LEAD.c.email, LEAD.c.id))}
        # Columns left out get the model's defaults, row by row, as an executemany gives them.
        acts = [
            {"lead_id": ids["one0@acme.example"], "kind": "page_visit", "dedup_key": f"k{n}"}
            for n in range(3)
        ]
        insert_rows(conn, ACTIVITY, acts)
        with monkeypatch.context() as m:
            by_executemany(m)
            insert_rows(conn, ACTIVITY, [{**a, "dedup_key": f"m{a['dedup_key']}"} for a in acts])
        skip = {"id", "dedup_key", "occurred_at"}
        got = stored(conn, ACTIVITY, ACTIVITY.c.dedup_key.like("k%"), skip)
        assert got == stored(conn, ACTIVITY, ACTIVITY.c.dedup_key.like("mk%"), skip)
        assert got[0][: 2 * 3] == (
            str(ids["one0@acme.example"]),
            False,
            "page_visit",
            False,
            "system",
            False,
        )
        assert None not in conn.execute(sa.select(ACTIVITY.c.occurred_at)).scalars().all()

        def changes(prefix: str) -> list[dict[str, Any]]:
            return [
                {"id": ids[f"{prefix}{n}@acme.example"], "first_touch": touch, "score": score,
                 "last_activity_at": when}
                for n, touch, score, when in (
                    (2, None, 7.25, NAIVE), (0, {"page": "/pricing"}, -3.0, None)
                )
            ]  # fmt: skip

        names = ("first_touch", "last_activity_at", "score")
        update_rows(conn, LEAD, changes("one"), names)
        with monkeypatch.context() as m:
            by_executemany(m)
            update_rows(conn, LEAD, changes("many"), names)
        skip = {"id", "email"}
        assert stored(conn, LEAD, LEAD.c.email.like("one%"), skip) == stored(
            conn, LEAD, LEAD.c.email.like("many%"), skip
        )
        assert conn.execute(
            sa.select(LEAD.c.score).where(LEAD.c.email == "one2@acme.example")
        ).scalar_one() == pytest.approx(7.25)


def test_postgresql_writes_many_rows_in_one_statement_of_one_text(
    store: Store,
) -> None:
    if store.dialect != "postgresql":
        pytest.skip("SQLite keeps the driver's executemany")
    sent: list[tuple[str, bool]] = []

    def seen(_c: Any, _cur: Any, statement: str, _p: Any, _ctx: Any, many: bool) -> None:
        sent.append((statement, many))

    event.listen(store.engine, "before_cursor_execute", seen)
    try:
        with store.transaction() as conn:
            for count in (3, 30):
                rows = [lead_values(f"n{count}-{i}@acme.example", i % 3) for i in range(count)]
                assert insert_ignore_quiet(conn, LEAD, rows, "email") == count
    finally:
        event.remove(store.engine, "before_cursor_execute", seen)
    inserts = [(s, many) for s, many in sent if s.startswith("INSERT")]
    assert len(inserts) == 2 and inserts[0] == inserts[1]  # one statement each, the same text
    assert not inserts[0][1] and "json_to_recordset" in inserts[0][0]


def test_a_value_json_cannot_carry_goes_by_the_executemany(store: Store) -> None:
    if store.dialect != "postgresql":
        pytest.skip("SQLite stores no NaN (and keeps the executemany anyway)")
    rows = [lead_values(f"nan{n}@acme.example", n) for n in range(2)]
    rows[1]["score"] = float("nan")  # no JSON number: the rows go as before
    with store.transaction() as conn:
        assert insert_ignore_quiet(conn, LEAD, rows, "email") == 2
        scores = conn.execute(
            sa.select(LEAD.c.score).where(LEAD.c.email.like("nan%")).order_by(LEAD.c.id)
        ).scalars()
        first, second = list(scores)
        assert first == pytest.approx(0.1) and second != second  # NaN


def test_among_reads_the_same_rows_as_an_in_list(store: Store) -> None:
    with store.transaction() as conn:
        rows = [lead_values(f"a{n}@acme.example", n % 3) for n in range(5)]
        insert_ignore_quiet(conn, LEAD, rows, "email")
        wanted = [f"a{n}@acme.example" for n in (0, 3, 9)] + [f"x{n}" for n in range(600)]

        def emails(where: Any) -> list[str]:
            stmt = sa.select(LEAD.c.email).where(where).order_by(LEAD.c.email)
            return list(conn.execute(stmt).scalars())

        dialect = conn.dialect.name
        assert emails(among(dialect, LEAD.c.email, wanted)) == emails(LEAD.c.email.in_(wanted))
        assert emails(among(dialect, LEAD.c.email, wanted)) == [
            "a0@acme.example",
            "a3@acme.example",
        ]
        assert emails(among(dialect, LEAD.c.email, wanted, negate=True)) == [
            "a1@acme.example", "a2@acme.example", "a4@acme.example"
        ]  # fmt: skip
        assert emails(among(dialect, LEAD.c.email, [])) == []
