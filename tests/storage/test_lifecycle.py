"""The lifecycle on SQLite and PostgreSQL: transitions, permissions, races settled by the database."""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from storage import lifecycle
from storage.db import Store
from storage.errors import TransitionRefused
from storage.leads import activities_of, get_lead
from storage.models import Lead, OutboxMessage
from tests.reference import record_inquiry

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def new_lead(store: Store, email: str = "jane@acme.example", *, status: str = "nurturing") -> int:
    with store.session() as s:
        rec = record_inquiry(
            s,
            email=email,
            kind="email_inquiry",
            source="email",
            occurred_at=T0,
            dedup_key=f"msgid:<{email}>",
            profile={"name": "Jane Doe"},
            now=T0,
        )
        rec.lead.status = status
        assert rec.lead.id is not None
        return rec.lead.id


def announced_lead(store: Store, email: str = "jane@acme.example") -> int:
    lead_id = new_lead(store, email)
    with store.session() as s:
        lifecycle.announce(s, lead_id=lead_id, now=T0)
    return lead_id


def test_announce_writes_the_outbox_in_the_same_transaction(store: Store) -> None:
    lead_id = announced_lead(store)
    with store.session() as s:
        lead = get_lead(s, lead_id=lead_id)
        assert lead.status == "announced" and lead.announced_at == T0
        outbox = list(s.scalars(select(OutboxMessage)))
        assert [(o.kind, o.lead_id) for o in outbox] == [("announce", lead_id)]
        assert [a.kind for a in activities_of(s, lead_id)] == ["email_inquiry", "announced"]


def test_announce_twice_is_refused(store: Store) -> None:
    lead_id = announced_lead(store)
    with pytest.raises(TransitionRefused), store.session() as s:
        lifecycle.announce(s, lead_id=lead_id)


def _announcement_rows(store: Store, lead_id: int) -> tuple[object, ...]:
    with store.session() as s:
        lead = get_lead(s, lead_id=lead_id)
        [act] = [a for a in activities_of(s, lead_id) if a.kind == "announced"]
        [box] = list(s.scalars(select(OutboxMessage).where(OutboxMessage.lead_id == lead_id)))
        return (
            lead.status,
            lead.announced_at,
            lead.updated_at,
            lead.owner,
            act.occurred_at,
            act.actor,
            act.detail,
            act.data,
            act.source,
            box.kind,
            box.payload,
            box.status,
            box.attempts,
            box.next_attempt_at,
            box.dedup_key.removeprefix(f"announce:{lead_id}:"),
        )


def test_announce_many_writes_the_same_rows_as_announce_one_by_one(store: Store) -> None:
    one = announced_lead(store, "one@acme.example")
    many = [new_lead(store, f"p{n}@acme.example") for n in range(3)]
    gone = new_lead(store, "gone@acme.example", status="claimed")  # moved on meanwhile
    with store.session() as s:
        done = lifecycle.announce_many(
            s, lead_ids=[many[2], gone, many[0], many[1], many[0]], now=T0
        )
        assert get_lead(s, lead_id=many[1]).status == "announced"  # the session sees it
    assert done == [many[2], many[0], many[1]]
    expected = _announcement_rows(store, one)
    for lead_id in many:
        assert _announcement_rows(store, lead_id) == expected
    with store.session() as s:
        assert get_lead(s, lead_id=gone).status == "claimed"
        assert [a.kind for a in activities_of(s, gone)] == ["email_inquiry"]
        assert lifecycle.announce_many(s, lead_ids=many, now=T0) == []  # announced already
        assert lifecycle.announce_many(s, lead_ids=[], now=T0) == []
        assert len(list(s.scalars(select(OutboxMessage)))) == 4


def test_full_path_claim_then_won(store: Store) -> None:
    lead_id = announced_lead(store)
    with store.session() as s:
        lifecycle.claim(s, lead_id=lead_id, user="U1", now=T0 + timedelta(minutes=3))
    with store.session() as s:
        lead = lifecycle.win(
            s, lead_id=lead_id, actor="U1", reason="signed", now=T0 + timedelta(days=2)
        )
        assert (lead.status, lead.owner, lead.status_reason) == ("won", "U1", "signed")
        kinds = [(a.kind, a.actor) for a in activities_of(s, lead_id)]
    assert kinds[-2:] == [("claimed", "U1"), ("won", "U1")]


def test_only_owner_or_manager_may_close_or_nurture(store: Store) -> None:
    lead_id = announced_lead(store)
    with store.session() as s:
        lifecycle.claim(s, lead_id=lead_id, user="U1")
    with pytest.raises(TransitionRefused) as refused, store.session() as s:
        lifecycle.lose(s, lead_id=lead_id, actor="U2", reason="no budget")
    assert refused.value.owner == "U1"
    with pytest.raises(TransitionRefused), store.session() as s:
        lifecycle.nurture(s, lead_id=lead_id, actor="U2", reason="later")
    with store.session() as s:
        lead = lifecycle.lose(s, lead_id=lead_id, actor="UBOSS", reason="no budget", manager=True)
    assert lead.status == "lost"


def test_reasons_are_required_for_nurture_and_lost(store: Store) -> None:
    lead_id = announced_lead(store)
    with pytest.raises(TransitionRefused, match="reason"), store.session() as s:
        lifecycle.nurture(s, lead_id=lead_id, actor="U1", reason="  ")
    with store.session() as s:
        lifecycle.claim(s, lead_id=lead_id, user="U1")
    with pytest.raises(TransitionRefused, match="reason"), store.session() as s:
        lifecycle.lose(s, lead_id=lead_id, actor="U1", reason="")


def test_nurtured_lead_is_not_announced_again_without_new_activity(store: Store) -> None:
    lead_id = announced_lead(store)
    with store.session() as s:
        lifecycle.nurture(
            s, lead_id=lead_id, actor="U1", reason="next quarter", now=T0 + timedelta(hours=1)
        )
    with store.session() as s:
        lead = get_lead(s, lead_id=lead_id)
        lead.score = 99
        assert lead.owner is None and lead.status == "nurturing"
        assert not lifecycle.eligible_for_announcement(lead, hot_threshold=50)
        lead.last_activity_at = T0 + timedelta(hours=2)
        assert lifecycle.eligible_for_announcement(lead, hot_threshold=50)


def test_disqualify_from_anywhere_but_not_twice(store: Store) -> None:
    lead_id = new_lead(store)
    with store.session() as s:
        assert (
            lifecycle.disqualify(s, lead_id=lead_id, actor="U1", reason="competitor").status
            == "disqualified"
        )
    with pytest.raises(TransitionRefused), store.session() as s:
        lifecycle.disqualify(s, lead_id=lead_id, actor="U1", reason="again")


def test_claim_race_has_exactly_one_winner(store: Store) -> None:
    """Sixteen reps click Claim at the same moment, each on its own connection."""
    lead_id = announced_lead(store)
    barrier = threading.Barrier(16)
    winners: list[str] = []
    losers: list[str | None] = []
    lock = threading.Lock()

    def click(user: str) -> None:
        barrier.wait()
        try:
            with store.session() as s:
                lifecycle.claim(s, lead_id=lead_id, user=user)
        except TransitionRefused as e:
            with lock:
                losers.append(e.owner)
        else:
            with lock:
                winners.append(user)

    threads = [threading.Thread(target=click, args=(f"U{i}",)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1
    assert len(losers) == 15 and set(losers) == {winners[0]}
    with store.session() as s:
        lead = s.get(Lead, lead_id)
        assert lead is not None and lead.owner == winners[0]
        assert [a.actor for a in activities_of(s, lead_id) if a.kind == "claimed"] == winners


def claimed_lead(store: Store, email: str = "jane@acme.example", user: str = "U1") -> int:
    lead_id = announced_lead(store, email)
    with store.session() as s:
        lifecycle.claim(s, lead_id=lead_id, user=user, now=T0)
    return lead_id


def test_concurrent_reassigns_never_lose_a_change(store: Store) -> None:
    """Two managers give the same lead to two reps at once. Each change is made against the owner
    it read: the second is refused (PostgreSQL: the row moved under it) or, when the database ran
    them one after the other (SQLite), made from the first's result; the log is a true chain."""
    lead_id = claimed_lead(store)
    barrier = threading.Barrier(2)
    outcome: dict[str, str] = {}

    def give(to: str) -> None:
        barrier.wait()
        try:
            with store.session() as s:
                lifecycle.reassign(s, lead_id=lead_id, actor="UBOSS", to=to, manager=True)
        except TransitionRefused:
            outcome[to] = "refused"
        else:
            outcome[to] = "done"

    threads = [threading.Thread(target=give, args=(u,)) for u in ("U2", "U3")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert "done" in outcome.values() and len(outcome) == 2
    with store.session() as s:
        done = sorted((a for a in activities_of(s, lead_id) if a.kind == "reassigned"),
                      key=lambda a: a.id or 0)  # fmt: skip
        chain = [a.data for a in done]
        owner = get_lead(s, lead_id=lead_id).owner
    assert len(chain) == list(outcome.values()).count("done")
    assert chain[0]["from"] == "U1" and chain[-1]["to"] == owner
    assert all(a["to"] == b["from"] for a, b in itertools.pairwise(chain))


def test_reassign_and_reopen_permissions(store: Store) -> None:
    lead_id = claimed_lead(store)
    with pytest.raises(TransitionRefused) as refused, store.session() as s:
        lifecycle.reassign(s, lead_id=lead_id, actor="U2", to="U2")
    assert (refused.value.status, refused.value.owner) == ("claimed", "U1")
    with store.session() as s:
        lifecycle.reassign(s, lead_id=lead_id, actor="U1", to="U2", now=T0)
        lifecycle.win(s, lead_id=lead_id, actor="U2", value=1200.0, now=T0)
    for actor, manager in (("U1", False), ("U3", False)):  # U1 had it once: U2 owns it now
        with pytest.raises(TransitionRefused), store.session() as s:
            lifecycle.reopen(s, lead_id=lead_id, actor=actor, manager=manager)
    with store.session() as s:
        lead = lifecycle.reopen(s, lead_id=lead_id, actor="U2", reason="deal fell through")
        assert (lead.status, lead.owner, lead.deal_value, lead.closed_at) == (
            "claimed", "U2", None, None
        )  # fmt: skip
    with pytest.raises(TransitionRefused), store.session() as s:
        lifecycle.reopen(s, lead_id=lead_id, actor="U2")  # open already
    with pytest.raises(TransitionRefused), store.session() as s:
        lifecycle.win(s, lead_id=lead_id, actor="U2", value=-1.0)


def test_last_owner_outlives_disqualify_and_nurture(store: Store) -> None:
    lead_id = claimed_lead(store)
    with store.session() as s:
        lifecycle.reassign(s, lead_id=lead_id, actor="U1", to="U2", now=T0)
        lead = lifecycle.disqualify(s, lead_id=lead_id, actor="U2", reason="spam", code="spam")
        assert lead.owner is None and lifecycle.last_owner(s, lead) == "U2"
        assert lead.reason_code == "spam"
    other = announced_lead(store, "other@acme.example")
    with store.session() as s:
        assert lifecycle.last_owner(s, get_lead(s, lead_id=other)) is None


def test_a_lost_lead_writing_again_is_announced_again(store: Store) -> None:
    """Only with activity after it was lost, and its last owner is told."""
    lead_id = claimed_lead(store)
    with store.session() as s:
        lifecycle.lose(s, lead_id=lead_id, actor="U1", reason="timing", now=T0 + timedelta(hours=1))
    with store.session() as s:
        assert lifecycle.announce_many(s, lead_ids=[lead_id], now=T0 + timedelta(hours=2)) == []
        lead = get_lead(s, lead_id=lead_id)
        assert not lifecycle.eligible_for_announcement(lead, hot_threshold=0)
        lead.last_activity_at = T0 + timedelta(hours=2)
        assert lifecycle.eligible_for_announcement(lead, hot_threshold=0)
    with store.session() as s:
        assert lifecycle.announce_many(s, lead_ids=[lead_id], now=T0 + timedelta(hours=3)) == [
            lead_id
        ]
        lead = get_lead(s, lead_id=lead_id)
        assert (lead.status, lead.owner) == ("announced", None)
        [again] = [a for a in activities_of(s, lead_id) if a.kind == "announced"][-1:]
        assert again.data == {"from": "lost", "owner": "U1"}
        box = list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))  # type: ignore[arg-type]
        assert [(o.kind, o.payload) for o in box][-2:] == [
            ("announce", {}),
            ("dm", {"user": "U1", "event": "returned", "status": "lost"}),
        ]
