"""The funnel of a cohort (storage.stats.report and its parts) on both backends."""

from __future__ import annotations

import pytest

from storage.db import Store
from storage.leads import add_note
from storage.models import Lead
from storage.stats import cohort, lost_reasons, report, speed
from tests.storage.test_stats import MIN, T0, history

NOW = T0 + 24 * 60 * MIN


def test_cohort_stages_conversions_and_value(store: Store) -> None:
    ids = history(store)
    with store.session() as s:
        lead = s.get(Lead, ids["a"])
        assert lead is not None
        lead.deal_value = 1200.0
        s.add(lead)
    with store.session() as s:
        [total] = cohort(s, now=NOW)
    assert total["leads"] == 6
    # a, b, c, d announced (c twice: one lead), a, b, c claimed, a won, b lost.
    assert total["stages"] == {"created": 6, "announced": 4, "claimed": 3, "won": 1}
    assert total["conversion"] == {"announced": 0.6667, "claimed": 0.75, "won": 0.3333}
    assert (total["lost"], total["win_rate"], total["won_value"]) == (1, 0.5, 1200.0)


def test_speed_median_and_p90_per_leg(store: Store) -> None:
    ids = history(store)
    with store.session() as s:
        # The first rep action after the claim: a note by U1 15 minutes after claiming a.
        add_note(s, lead_id=ids["a"], author="U1", text="called", now=T0 + 25 * MIN)
    with store.session() as s:
        legs = speed(s, now=NOW)[None]
    # created -> announced: a, b, c at 0 min, d at 60 min.
    assert legs["to_announce"] == {"n": 4, "median": 0.0, "p90": 3600.0}
    # first announcement -> first claim: a 10 min, b 30 min, c 200 min (from its first round).
    assert legs["to_claim"] == {"n": 3, "median": 1800.0, "p90": 12000.0}
    # a: the note (15 min); b: lost after 90 min; c: nothing yet.
    assert legs["to_first_action"] == {"n": 2, "median": 3150.0, "p90": 5400.0}


def test_lost_reasons_and_window(store: Store) -> None:
    ids = history(store)
    with store.session() as s:
        s.add(Lead(email="late@y.example", domain="y.example", created_at=T0 + 300 * MIN))
    with store.session() as s:
        assert lost_reasons(s, now=NOW) == {None: {"unspecified": 1}}
        [window] = cohort(s, now=NOW, since=T0 + 200 * MIN)
        assert window["leads"] == 1 and window["stages"]["announced"] == 0
        [empty] = cohort(s, now=NOW, since=NOW + MIN)
        assert empty["leads"] == 0 and empty["conversion"]["announced"] is None
    assert ids


def test_report_by_each_breakdown(store: Store) -> None:
    ids = history(store)
    with store.session() as s:
        for k, source, product in (("a", "form:pricing", "analytics"), ("b", "email", None)):
            lead = s.get(Lead, ids[k])
            assert lead is not None
            lead.source, lead.product = source, product
            lead.first_touch = {"channel": "form", "utm_campaign": "spring"}
            s.add(lead)
    with store.session() as s:
        by_rep = report(s, now=NOW, by="rep")
        by_campaign = report(s, now=NOW, by="campaign")
        by_product = report(s, now=NOW, by="product")
        by_source = report(s, now=NOW, by="source")
    reps = {g["key"]: g for g in by_rep["groups"]}
    assert set(reps) == {"U1", "U2", None}
    assert reps["U1"]["stages"] == {"created": 2, "announced": 2, "claimed": 2, "won": 1}
    assert reps["U2"]["lost_reasons"] == {"unspecified": 1}
    assert reps["U2"]["speed"]["to_claim"]["median"] == 1800.0
    campaigns = {g["key"]: g["leads"] for g in by_campaign["groups"]}
    assert campaigns == {"spring": 2, None: 4}
    assert {g["key"]: g["leads"] for g in by_product["groups"]} == {"analytics": 1, None: 5}
    assert by_source["groups"][0] == by_source["groups"][0] | {"key": None, "leads": 4}
    assert by_rep["total"]["leads"] == 6 and by_rep["flow"]["announced"] == 5
    with store.session() as s, pytest.raises(ValueError):
        report(s, now=NOW, by="colour")
