"""The funnel and the Slack lists on both backends, over a constructed lifecycle history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from storage import lifecycle
from storage.db import Store
from storage.models import Lead
from storage.stats import by_rep, by_source, funnel, hot_unclaimed, owned_by

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


def add(store: Store, email: str, *, score: float = 50.0) -> int:
    with store.session() as s:
        lead = Lead(email=email, domain=email.rpartition("@")[2], score=score, created_at=T0)
        s.add(lead)
        s.flush()
        assert lead.id is not None
        return lead.id


def history(store: Store) -> dict[str, int]:
    """a: won (claimed after 10 min), b: lost (30 min), c: nurtured, re-announced, claimed after
    20 min, d: announced and waiting, e: never announced, f: disqualified."""
    scores = zip("abcdef", (60, 50, 40, 95, 5, 1), strict=True)
    ids = {k: add(store, f"{k}@x.example", score=s) for k, s in scores}
    with store.session() as s:
        for k in "abc":
            lifecycle.announce(s, lead_id=ids[k], now=T0)
        lifecycle.claim(s, lead_id=ids["a"], user="U1", now=T0 + 10 * MIN)
        lifecycle.claim(s, lead_id=ids["b"], user="U2", now=T0 + 30 * MIN)
        lifecycle.win(s, lead_id=ids["a"], actor="U1", now=T0 + 60 * MIN)
        lifecycle.nurture(s, lead_id=ids["c"], actor="U3", reason="not ready", now=T0 + 60 * MIN)
        lifecycle.announce(s, lead_id=ids["d"], now=T0 + 60 * MIN)
        lifecycle.lose(s, lead_id=ids["b"], actor="U2", reason="budget", now=T0 + 120 * MIN)
        lifecycle.announce(s, lead_id=ids["c"], now=T0 + 180 * MIN)
        lifecycle.claim(s, lead_id=ids["c"], user="U1", now=T0 + 200 * MIN)
        lifecycle.disqualify(s, lead_id=ids["f"], actor="U3", reason="spam", now=T0)
    return ids


def test_funnel_over_all_history(store: Store) -> None:
    history(store)
    with store.session() as s:
        f = funnel(s, now=T0 + 24 * 60 * MIN)
    assert f["by_status"] == {
        "nurturing": 1,
        "announced": 1,
        "claimed": 1,
        "won": 1,
        "lost": 1,
        "disqualified": 1,
    }
    assert f["total"] == 6 and f["unclaimed"] == 1
    # c was announced twice: five announcements, three of them claimed.
    assert (f["announced"], f["claimed"], f["claim_rate"]) == (5, 3, 0.6)
    assert f["median_seconds_to_claim"] == 1200.0  # 10, 20, 30 minutes
    assert (f["won"], f["lost"], f["win_rate"]) == (1, 1, 0.5)


def test_funnel_window_since(store: Store) -> None:
    history(store)
    with store.session() as s:
        f = funnel(s, now=T0 + 24 * 60 * MIN, since=T0 + 120 * MIN)
    assert (f["announced"], f["claimed"], f["claim_rate"]) == (1, 1, 1.0)
    # The claim in the window answered an announcement that is in it too: 20 minutes.
    assert f["median_seconds_to_claim"] == 1200.0
    assert (f["won"], f["lost"], f["win_rate"]) == (0, 1, 0.0)
    assert f["since"] == (T0 + 120 * MIN).isoformat()


def test_funnel_as_of_now_ignores_later_events_and_averages_an_even_median(store: Store) -> None:
    history(store)
    with store.session() as s:
        early = funnel(s, now=T0 + 15 * MIN)
        mid = funnel(s, now=T0 + 35 * MIN)
    assert (early["announced"], early["claimed"], early["median_seconds_to_claim"]) == (3, 1, 600.0)
    assert (mid["claimed"], mid["median_seconds_to_claim"]) == (2, 1200.0)  # (10 + 30) / 2 min
    assert early["won"] == 0 and early["win_rate"] is None


def test_funnel_of_an_empty_database(store: Store) -> None:
    with store.session() as s:
        f = funnel(s)
    assert f["total"] == 0 and set(f["by_status"].values()) == {0}
    assert f["claim_rate"] is None and f["median_seconds_to_claim"] is None
    assert f["win_rate"] is None


def test_hot_unclaimed_and_owned_by(store: Store) -> None:
    ids = history(store)
    extra = add(store, "g@x.example", score=99)
    with store.session() as s:
        lifecycle.announce(s, lead_id=extra, now=T0 + 300 * MIN)
    with store.session() as s:
        assert [lead.id for lead in hot_unclaimed(s, limit=10)] == [extra, ids["d"]]
        assert [lead.id for lead in hot_unclaimed(s, limit=1)] == [extra]
        assert [lead.id for lead in owned_by(s, "U1")] == [ids["c"]]  # a is won: not on the list
        assert owned_by(s, "U2") == [] and owned_by(s, "nobody") == []


def test_per_rep_and_per_source_in_a_window(store: Store) -> None:
    ids = history(store)
    with store.session() as s:
        s.get(Lead, ids["a"]).deal_value = 12500.0  # type: ignore[union-attr]
        for k, source in zip("abcd", ("email", "form:pricing", "email", "email"), strict=True):
            s.get(Lead, ids[k]).source = source  # type: ignore[union-attr]
    day = T0 + 24 * 60 * MIN
    with store.session() as s:
        reps = by_rep(s, now=day)
        sources = by_source(s, now=day)
        late = by_rep(s, now=day, since=T0 + 150 * MIN)
    assert reps[:2] == [
        {"rep": "U1", "claimed": 2, "won": 1, "lost": 0, "won_value": 12500.0},
        {"rep": "U2", "claimed": 1, "won": 0, "lost": 1, "won_value": 0.0},
    ]
    assert sources == [
        {"source": "email", "announced": 4, "claimed": 2, "won": 1, "lost": 0},
        {"source": "form:pricing", "announced": 1, "claimed": 1, "won": 0, "lost": 1},
    ]
    assert late == [{"rep": "U1", "claimed": 1, "won": 0, "lost": 0, "won_value": 0.0}]
