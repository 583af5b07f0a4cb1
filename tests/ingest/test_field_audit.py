"""Field-level audit (issue 15): every change of a lead's field is an activity with the old and
the new value, who and why — filled from later mail, edited by a rep, imported — on both backends.
Inquiries go through the one way they are recorded (ingest.intake.record_batch)."""

from __future__ import annotations

from datetime import UTC, datetime

from ingest.intake import Item, record_batch
from scoring import load_rules
from storage.db import Store
from storage.imports import import_rows
from storage.leads import LIFECYCLE_KINDS, activities_of, edit_lead, get_lead

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def inquiry(key: str, **profile: str) -> Item:
    return Item(
        email="Jane@Acme.example",
        kind="email_inquiry",
        source="email",
        occurred_at=NOW,
        dedup_key=key,
        profile={"name": None, "company": None, "title": None, "phone": None, "country": None}
        | profile,
        detail="Pricing?",
        data={"subject": "Pricing?", "text": "Pricing?", "fields": {}},
        forwarded_by=None,
        fields={},
        raw_id=None,  # type: ignore[arg-type]
    )


def test_every_field_change_is_an_activity_with_old_new_who_and_why(store: Store) -> None:
    scorer = load_rules(hot_threshold=1000)
    with store.session() as s:
        record_batch(s, [inquiry("msgid:<a1>", name="Jane")], scorer=scorer, now=NOW)
    with store.session() as s:
        lead_id = get_lead(s, email="jane@acme.example").id
        assert lead_id is not None
        # The first message's values are the lead's creation, not a change.
        assert "field_changed" not in [a.kind for a in activities_of(s, lead_id)]
        record_batch(s, [inquiry("msgid:<a2>", name="J. Doe", title="CTO")], scorer=scorer, now=NOW)
    with store.session() as s:
        [filled] = [a for a in activities_of(s, lead_id) if a.kind == "field_changed"]
        assert filled.actor == "jane@acme.example"
        assert filled.data["changes"] == {"title": {"from": None, "to": "CTO"}}  # name kept
        assert filled.data["why"] == "filled from a later email inquiry"
        assert filled.detail == "title: — → CTO (filled from a later email inquiry)"
        edit_lead(s, lead_id=lead_id, actor="U1", changes={"title": "VP"}, why="typo", now=NOW)
    with store.session() as s:
        row = {"email": "Jane@acme.example", "title": "Chief", "company": "Acme", "fields.crm": "7"}
        assert import_rows(s, [row], source="crm.csv", now=NOW).updated == 1
    with store.session() as s:
        audit = [
            (a.kind, a.actor, a.data.get("why"), a.data["changes"])
            for a in activities_of(s, lead_id)
            if a.kind in ("field_changed", "edited")
        ]
        assert ("edited", "U1", "typo", {"title": {"from": "CTO", "to": "VP"}}) in audit
        # An import fills what is empty, never what a rep edited (the title stays VP).
        imported = {
            "company": {"from": None, "to": "Acme"},
            "fields.crm": {"from": None, "to": "7"},
        }
        assert ("field_changed", "import", "imported from crm.csv", imported) in audit
        assert get_lead(s, lead_id=lead_id).title == "VP"
    assert "field_changed" in LIFECYCLE_KINDS  # history, not engagement: never scored


def test_a_batch_with_the_same_person_twice_audits_the_second_fill(store: Store) -> None:
    scorer = load_rules(hot_threshold=1000)
    items = [inquiry("msgid:<b1>", name="Jane"), inquiry("msgid:<b2>", phone="+49 30 1234567")]
    with store.session() as s:
        record_batch(s, items, scorer=scorer, now=NOW)
    with store.session() as s:
        lead = get_lead(s, email="jane@acme.example")
        [filled] = [a for a in activities_of(s, lead.id or 0) if a.kind == "field_changed"]
        assert filled.lead_id == lead.id and filled.data["changes"] == {
            "phone": {"from": None, "to": "+49 30 1234567"}
        }
