"""storage.batch on its own: what it reads, how it checks rows prepared on a snapshot, what it
writes, and when it gives up. The rows here are prepared by hand, without scoring: storage writes
whatever rows it is given, and knows nothing of how it was made."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from storage import batch
from storage.batch import Item, ItemResult, Prepared, Snapshot
from storage.db import Store
from storage.errors import StoreConflict, StoreUnavailable
from storage.models import Activity, Lead, LeadRow

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def item(email: str, key: str, *, name: str | None = None) -> Item:
    return Item(
        email=email,
        kind="email_inquiry",
        source="email",
        occurred_at=NOW,
        dedup_key=key,
        profile={"name": name, "company": None, "title": None, "phone": None, "country": None},
        detail="Hello",
        data={"subject": "Hello", "text": "Hello", "fields": {}},
        forwarded_by=None,
        fields={},
        raw_id=None,  # type: ignore[arg-type]
    )


def plain_prepare(items: list[Item], calls: list[Snapshot]):  # type: ignore[no-untyped-def]
    """Each item applied to its lead, no score, nobody announced: the least a preparation can be."""

    def prepare(snapshot: Snapshot) -> Prepared:
        calls.append(snapshot)
        leads, new, activities, results = snapshot.leads, [], [], []
        recorded = dict(snapshot.seen)
        for it in items:
            if it.dedup_key in recorded:
                results.append(ItemResult(recorded[it.dedup_key], duplicate=True))
                continue
            lead = leads.get(it.email)
            if lead is None:
                lead = leads[it.email] = batch.new_lead(
                    it.email, it, placeholder=-1 - len(new), now=NOW
                )
                new.append(lead)
            recorded[it.dedup_key] = lead.id
            activities.append(batch.apply_item(lead, it, now=NOW)[0])
            results.append(ItemResult(lead.id, duplicate=False))
        known = [x for x in leads.values() if x.id > 0]
        return Prepared(snapshot, known + new, activities, [], [], results)

    return prepare


def count(store: Store, model: type) -> int:
    with store.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_a_batch_is_written_as_prepared_and_the_same_key_twice_is_one_activity(
    store: Store,
) -> None:
    items = [
        item("ann@acme.example", "msgid:1", name="Ann"),
        item("ann@acme.example", "msgid:1"),
        item("bob@acme.example", "msgid:2"),
    ]
    calls: list[Snapshot] = []
    with store.session() as session:
        results = batch.record_batch(session, items, prepare=plain_prepare(items, calls), now=NOW)
    assert [r.duplicate for r in results] == [False, True, False]
    assert results[0].lead_id == results[1].lead_id != results[2].lead_id
    assert len(calls) == 1
    assert (count(store, Lead), count(store, Activity)) == (2, 2)
    with store.session() as session:
        ann = session.scalar(select(Lead).where(Lead.email == "ann@acme.example"))
        assert ann is not None and ann.name == "Ann" and ann.last_activity_at == NOW


def test_rows_prepared_on_a_stale_snapshot_are_prepared_again_inside_the_transaction(
    store: Store,
) -> None:
    items = [item("cat@acme.example", "msgid:3")]
    calls: list[Snapshot] = []
    prepare = plain_prepare(items, calls)
    with store.reading() as session:
        prepared = prepare(batch.read_batch(session, items))
    assert prepared.leads[0].id < 0  # prepared as a new person
    with store.session() as session:  # another writer creates her meanwhile
        batch.record_batch(
            session,
            [item("cat@acme.example", "msgid:other")],
            prepare=plain_prepare([item("cat@acme.example", "msgid:other")], []),
            now=NOW,
        )
    with store.session() as session:
        [result] = batch.record_batch(session, items, prepare=prepare, now=NOW, prepared=prepared)
    assert len(calls) == 2  # the snapshot's, then one inside the transaction
    assert calls[1].rows  # the second read saw the lead the other writer made
    assert count(store, Lead) == 1 and count(store, Activity) == 2
    assert result.lead_id == calls[1].rows["cat@acme.example"]["id"]


def test_a_batch_that_keeps_losing_the_race_is_a_temporary_failure(store: Store) -> None:
    with store.session() as session:
        batch.record_batch(
            session,
            [item("dan@acme.example", "msgid:4")],
            prepare=plain_prepare([item("dan@acme.example", "msgid:4")], []),
            now=NOW,
        )
    items = [item("dan@acme.example", "msgid:5")]
    attempts: list[Snapshot] = []

    def blind(snapshot: Snapshot) -> Prepared:  # makes dan new whatever the database says
        attempts.append(snapshot)
        return plain_prepare(items, [])(
            Snapshot(snapshot.seen, snapshot.rows, snapshot.marks, {}, {})
        )

    with pytest.raises(StoreConflict) as raised, store.session() as session:
        batch.record_batch(session, items, prepare=blind, now=NOW)
    assert isinstance(raised.value, StoreUnavailable)  # receivers answer "retry later"
    assert len(attempts) == batch.ATTEMPTS
    assert count(store, Activity) == 1  # nothing of the lost batch was written


def test_lead_rows_track_only_what_changed() -> None:
    row = LeadRow({name: None for name in LeadRow.COLUMNS} | {"id": 7, "score": 1.0})
    row.score = 1.0
    assert row.changed == set()
    row.score, row.name = 2.0, "Eve"
    assert row.changed == {"score", "name"}
    with pytest.raises(AttributeError, match="no column"):
        _ = row.owner  # a Lead column the intake never reads
    assert set(LeadRow.COLUMNS) <= set(Lead.model_fields)


def announcing_prepare(items: list[Item], calls: list[Snapshot]):  # type: ignore[no-untyped-def]
    """plain_prepare, with every lead of the batch to be announced."""
    plain = plain_prepare(items, calls)

    def prepare(snapshot: Snapshot) -> Prepared:
        p = plain(snapshot)
        hot = list(dict.fromkeys(r.lead_id for r in p.results if not r.duplicate))
        results = [ItemResult(r.lead_id, r.duplicate, announced=not r.duplicate) for r in p.results]
        return Prepared(p.read, p.leads, p.activities, p.changes, hot, results)

    return prepare


def test_a_new_lead_to_announce_is_inserted_announced_and_a_known_one_updated(
    store: Store,
) -> None:
    """The same rows either way (status, time, activity, card), but a lead the batch creates
    costs no UPDATE after its INSERT; a lead that was there is announced by the guarded UPDATE."""
    import sqlalchemy as sa

    from storage.models import OutboxMessage

    with store.session() as session:  # Bob is there already, nurturing
        batch.record_batch(
            session, [item("bob@acme.example", "msgid:0")],
            prepare=plain_prepare([item("bob@acme.example", "msgid:0")], []), now=NOW,
        )  # fmt: skip
    items = [item("ann@acme.example", "msgid:1"), item("bob@acme.example", "msgid:2")]
    statements: list[tuple[str, list[object]]] = []

    def seen(conn, cursor, statement, parameters, *args):  # type: ignore[no-untyped-def]
        values = parameters.values() if isinstance(parameters, dict) else parameters
        statements.append((" ".join(statement.split()), list(values)))

    sa.event.listen(store.engine, "before_cursor_execute", seen)
    try:
        with store.session() as session:
            results = batch.record_batch(
                session, items, prepare=announcing_prepare(items, []), now=NOW
            )
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", seen)
    assert [r.announced for r in results] == [True, True]
    ann, bob = results[0].lead_id, results[1].lead_id
    updated = [
        v for s, values in statements if s.startswith("UPDATE lead SET status") for v in values
    ]
    assert bob in updated  # known: the guarded UPDATE
    assert ann not in updated  # new: inserted announced, nothing to update
    with store.session() as session:
        for r in results:
            lead = session.get(Lead, r.lead_id)
            assert lead is not None
            assert (lead.status, lead.announced_at, lead.owner) == ("announced", NOW, None)
            kinds = session.scalars(
                select(Activity.kind).where(Activity.lead_id == r.lead_id)  # type: ignore[arg-type]
            ).all()
            assert kinds.count("announced") == 1
            cards = session.scalars(
                select(OutboxMessage.kind).where(OutboxMessage.lead_id == r.lead_id)  # type: ignore[arg-type]
            ).all()
            assert cards == ["announce"]


def test_insert_ignore_quiet_counts_only_the_new_rows(store: Store) -> None:
    """Both drivers sum the rows of an executemany: what the batch's staleness check relies on."""
    from storage.db import insert_ignore_quiet, table

    rows = [
        {"lead_id": 0, "kind": "note", "occurred_at": NOW, "actor": "a", "detail": "",
         "data": {}, "source": "", "raw_id": None, "dedup_key": key}
        for key in ("k1", "k2", "k1")
    ]  # fmt: skip
    with store.session() as session:
        lead = batch.new_lead(
            "c@acme.example", item("c@acme.example", "x"), placeholder=-1, now=NOW
        )
        values = {n: getattr(lead, n) for n in LeadRow.COLUMNS if n != "id"}
        session.connection().execute(table(Lead).insert().values(**values, created_at=NOW))
        lead_id = session.scalar(select(Lead.id))  # type: ignore[call-overload]
        rows = [{**r, "lead_id": lead_id} for r in rows]
        assert insert_ignore_quiet(session, table(Activity), rows, "dedup_key") == 2
        assert insert_ignore_quiet(session, table(Activity), rows[:1], "dedup_key") == 0
        assert insert_ignore_quiet(session, table(Activity), [], "dedup_key") == 0
