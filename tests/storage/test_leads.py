"""Recording inquiries: one lead per person, one activity per message, empty fields filled only."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from storage.db import Store
from storage.leads import activities_of, add_note, edit_lead, get_lead, notes_of, search_leads
from storage.models import Lead
from storage.raw import RawDraft, store_raws
from tests.reference import record_inquiry

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def record(store: Store, email: str, key: str | None, **profile: str | None) -> bool:
    with store.session() as s:
        rec = record_inquiry(
            s,
            email=email,
            kind="email_inquiry",
            source="email",
            occurred_at=T0,
            dedup_key=key,
            profile=dict(profile),
            now=T0,
        )
        return rec.duplicate


def test_same_person_any_case_is_one_lead_with_two_activities(store: Store) -> None:
    assert not record(store, "Jane@Acme.example", "msgid:<1@x>", name="Jane")
    assert not record(store, "jane@acme.EXAMPLE", "msgid:<2@x>")
    with store.session() as s:
        leads = list(s.scalars(select(Lead)))
        assert [lead.email for lead in leads] == ["jane@acme.example"]
        assert leads[0].domain == "acme.example"
        assert len(activities_of(s, leads[0].id or 0)) == 2


def test_same_message_id_twice_is_one_activity(store: Store) -> None:
    assert not record(store, "jane@acme.example", "msgid:<1@x>")
    assert record(store, "jane@acme.example", "msgid:<1@x>")
    with store.session() as s:
        assert len(activities_of(s, get_lead(s, email="jane@acme.example").id or 0)) == 1


def test_fields_are_filled_when_empty_never_overwritten(store: Store) -> None:
    record(store, "jane@acme.example", "msgid:<1@x>", name="Jane Doe", title=None)
    with store.session() as s:
        lead = get_lead(s, email="jane@acme.example")
        lead.company = "Acme (edited by rep)"
        lead.edited_fields = ["company"]
    record(
        store, "jane@acme.example", "msgid:<2@x>", name="J. Doe", title="CTO", company="ACME Corp"
    )
    with store.session() as s:
        lead = get_lead(s, email="jane@acme.example")
        assert (lead.name, lead.title, lead.company) == ("Jane Doe", "CTO", "Acme (edited by rep)")


def test_concurrent_first_messages_from_one_person_make_one_lead(store: Store) -> None:
    barrier = threading.Barrier(8)

    def go(i: int) -> None:
        barrier.wait()
        record(store, "new@acme.example", f"msgid:<{i}@x>")

    threads = [threading.Thread(target=go, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with store.session() as s:
        lead = get_lead(s, email="new@acme.example")
        assert len(activities_of(s, lead.id or 0)) == 8
        assert len(list(s.scalars(select(Lead)))) == 1


def test_same_bytes_are_stored_once(store: Store) -> None:
    [first] = store_raws(store, [RawDraft(b"From: a@b.example\n\nhi", "email", "smtp")])
    [again] = store_raws(store, [RawDraft(b"From: a@b.example\n\nhi", "email", "pipe")])
    assert first[1] is True and again == (first[0], False)


def test_notes_and_search(store: Store) -> None:
    record(store, "jane@acme.example", "k1", name="Jane Doe", company="Acme Robotics")
    record(store, "bob@other.example", "k2", name="Bob Stone")
    with store.session() as s:
        lead = get_lead(s, email="jane@acme.example")
        add_note(
            s,
            lead_id=lead.id or 0,
            author="U1",
            text="called, wants a demo",
            now=T0 + timedelta(hours=1),
        )
    with store.session() as s:
        assert [n.text for n in notes_of(s, lead.id or 0)] == ["called, wants a demo"]
        assert [x.email for x in search_leads(s, "robotics")] == ["jane@acme.example"]
        assert [x.email for x in search_leads(s, "BOB@other.example")] == ["bob@other.example"]
        assert [x.email for x in search_leads(s, "100%_")] == []


def test_edits_are_recorded_and_marked(store: Store) -> None:
    with store.session() as s:
        rec = record_inquiry(
            s, email="jane@acme.example", kind="email_inquiry", source="email",
            occurred_at=T0, dedup_key="msgid:<e1>", profile={"name": "Jane", "phone": "+4930123"},
            now=T0,
        )  # fmt: skip
        lead_id = rec.lead.id
        assert lead_id is not None
    with store.session() as s:
        lead, changed = edit_lead(
            s, lead_id=lead_id, actor="U1", changes={"name": "Jane Doe", "phone": ""}, now=T0
        )
        assert changed == {
            "name": {"from": "Jane", "to": "Jane Doe"},
            "phone": {"from": "+4930123", "to": None},
        }
        assert lead.edited_fields == ["name", "phone"] and lead.updated_at == T0
        _, nothing = edit_lead(s, lead_id=lead_id, actor="U1", changes={"name": "Jane Doe"})
        assert nothing == {}
        with pytest.raises(ValueError):
            edit_lead(s, lead_id=lead_id, actor="U1", changes={"email": "x@y.example"})
    with store.session() as s:
        # A cleared field stays empty: later mail does not refill what a person emptied.
        record_inquiry(
            s, email="jane@acme.example", kind="email_inquiry", source="email",
            occurred_at=T0, dedup_key="msgid:<e2>", profile={"phone": "+4930999"}, now=T0,
        )  # fmt: skip
        assert get_lead(s, lead_id=lead_id).phone is None
        [edit] = [a for a in activities_of(s, lead_id) if a.kind == "edited"]
        assert edit.actor == "U1" and edit.detail == "name: Jane → Jane Doe, phone: +4930123 → —"
