"""storage.dashboard on SQLite and PostgreSQL: leads created in a window, speed to lead buckets."""

from __future__ import annotations

from datetime import timedelta

from storage import dashboard, lifecycle
from storage.db import Store
from storage.models import Lead, utcnow


def test_speed_to_lead_buckets_each_claim_by_its_own_announcement(store: Store) -> None:
    now = utcnow().replace(microsecond=0)
    minutes = [3, 10, 30, 90, 600, 2000]  # one claim in each bucket
    with store.session() as s:
        leads = [
            Lead(email=f"p{i}@example.com", created_at=now - timedelta(days=i)) for i in range(8)
        ]
        s.add_all(leads)
        s.flush()
        ids = [lead.id for lead in leads]
        for lead_id, m in zip(ids, minutes, strict=False):
            start = now - timedelta(days=3)
            lifecycle.announce(s, lead_id=lead_id, now=start)
            lifecycle.claim(s, lead_id=lead_id, user="U1", now=start + timedelta(minutes=m))
        # Announced again after going back to nurturing: the second claim counts from the
        # second announcement (4 min), not the first (days).
        again = ids[0]
        lifecycle.nurture(s, lead_id=again, actor="U1", reason="later", now=now - timedelta(days=2))
        lifecycle.announce(s, lead_id=again, now=now - timedelta(hours=1))
        lifecycle.claim(s, lead_id=again, user="U1", now=now - timedelta(minutes=56))
        lifecycle.announce(s, lead_id=ids[7], now=now)  # not claimed: counts nowhere
    with store.session() as s:
        rows = dashboard.speed_to_lead(s, since=now - timedelta(days=30), now=now)
        recent = dashboard.speed_to_lead(s, since=now - timedelta(days=1), now=now)
        assert dashboard.created_count(s, since=now - timedelta(days=2, hours=1), now=now) == 3
        assert dashboard.created_count(s, since=None, now=now) == 8
    assert [r["claims"] for r in rows] == [2, 1, 1, 1, 1, 1]
    assert rows[0]["label"] == "< 5 min"
    assert [r["claims"] for r in recent] == [1, 0, 0, 0, 0, 0]
