"""`leadbot stats` and `leadbot leads export --csv` through the real CLI on both backends."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.cli import main
from bot.funnel import STATS_COLUMNS, parse_since
from storage import lifecycle
from storage.db import Store
from storage.leads import add_note
from storage.models import Lead, utcnow
from storage.stats import EXPORT_COLUMNS

MIN = timedelta(minutes=1)


@pytest.fixture
def env(store: Store, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Store:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LEADBOT_DATABASE_URL", store.url)
    monkeypatch.setenv("LEADBOT_INTERNAL_DOMAINS", "ourco.example")
    return store


def add(store: Store, email: str, at: datetime, **values: object) -> int:
    with store.session() as s:
        lead = Lead(email=email, domain=email.rpartition("@")[2], created_at=at, **values)
        s.add(lead)
        s.flush()
        assert lead.id is not None
        return lead.id


def pipeline(store: Store) -> datetime:
    """Three leads ten days ago (won from spring, lost from spring, waiting from a form), one
    forty days ago (won long since): the last 30 days hold the first three."""
    t = utcnow() - timedelta(days=10)
    won = add(store, "w@a.example", t, source="email", product="analytics",
              first_touch={"channel": "email", "utm_campaign": "spring"},
              product_scores={"analytics": 71.0, "integrations": 48.0})  # fmt: skip
    lost = add(store, "l@b.example", t, source="email",
               first_touch={"channel": "email", "utm_campaign": "spring"})  # fmt: skip
    wait = add(store, "x@c.example", t, source="=1+2", name="=cmd|' /C calc'!A0")
    old = add(store, "o@d.example", t - timedelta(days=30), source="email")
    with store.session() as s:
        for lead_id in (won, lost, wait):
            lifecycle.announce(s, lead_id=lead_id, now=t + 5 * MIN)
        lifecycle.announce(s, lead_id=old, now=t - timedelta(days=30))
        lifecycle.claim(s, lead_id=won, user="U1", now=t + 15 * MIN)
        lifecycle.claim(s, lead_id=lost, user="U2", now=t + 45 * MIN)
        lifecycle.claim(s, lead_id=old, user="U1", now=t - timedelta(days=29))
    with store.session() as s:
        add_note(s, lead_id=won, author="U1", text="called them", now=t + 25 * MIN)
        lifecycle.win(s, lead_id=won, actor="U1", value=9000, now=t + 60 * MIN)
        lifecycle.lose(
            s, lead_id=lost, actor="U2", reason="too dear", code="budget", now=t + 2 * 60 * MIN
        )
        lifecycle.win(s, lead_id=old, actor="U1", value=500, now=t - timedelta(days=28))
    return t


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(list(argv)) == 0
    return capsys.readouterr().out


def test_stats_text_json_and_csv(env: Store, capsys: pytest.CaptureFixture[str]) -> None:
    pipeline(env)
    got = json.loads(run(capsys, "stats", "--since", "30d", "--json"))
    total = got["total"]
    assert got["period"] == "the last 30 days" and got["by"] is None and got["groups"] == []
    assert total["stages"] == {"created": 3, "announced": 3, "claimed": 2, "won": 1}
    assert total["conversion"] == {"announced": 1.0, "claimed": 0.6667, "won": 0.5}
    assert (total["lost"], total["win_rate"], total["won_value"]) == (1, 0.5, 9000.0)
    assert total["speed"]["to_announce"] == {"n": 3, "median": 300.0, "p90": 300.0}
    assert total["speed"]["to_claim"] == {"n": 2, "median": 1500.0, "p90": 2400.0}
    # The won lead: a note 10 min after the claim; the lost one: lost 75 min after.
    assert total["speed"]["to_first_action"] == {"n": 2, "median": 2550.0, "p90": 4500.0}
    assert total["lost_reasons"] == {"budget": 1}
    everything = json.loads(run(capsys, "stats", "--json"))
    assert everything["total"]["leads"] == 4 and everything["total"]["won_value"] == 9500.0
    text = run(capsys, "stats", "--since", "30d")
    assert "Lead funnel, the last 30 days" in text and "Leads created in the period: 3" in text
    assert re.search(r"announced → claimed +2 +25 min +40 min\n", text)
    assert "Lost reasons: budget 1" in text and "win rate 50% · won value 9,000" in text
    rows = list(csv.DictReader(io.StringIO(run(capsys, "stats", "--since", "30d", "--csv"))))
    assert list(rows[0]) == list(STATS_COLUMNS) and len(rows) == 1
    assert (
        rows[0]["by"] == "all" and rows[0]["leads"] == "3" and rows[0]["lost_reasons"] == "budget:1"
    )


@pytest.mark.parametrize("by", ["source", "campaign", "rep", "product"])
def test_stats_by_each_breakdown(env: Store, capsys: pytest.CaptureFixture[str], by: str) -> None:
    pipeline(env)
    got = json.loads(run(capsys, "stats", "--since", "30d", "--by", by, "--json"))
    groups = {g["key"]: g for g in got["groups"]}
    expected = {
        "source": {"email": 2, "=1+2": 1},
        "campaign": {"spring": 2, None: 1},
        "rep": {"U1": 1, "U2": 1, None: 1},
        "product": {"analytics": 1, None: 2},
    }[by]
    assert {k: g["leads"] for k, g in groups.items()} == expected
    if by == "rep":
        assert groups["U1"]["won_value"] == 9000.0 and groups["U2"]["lost_reasons"] == {"budget": 1}
        assert groups["U2"]["speed"]["to_claim"]["median"] == 2400.0
    rows = list(csv.DictReader(io.StringIO(run(capsys, "stats", "--by", by, "--csv"))))
    assert rows[0]["by"] == "all" and {r["by"] for r in rows[1:]} == {by}
    if by == "source":
        # A source that starts like a formula is shown, never run by a spreadsheet.
        assert "'=1+2" in {r["key"] for r in rows}
        text = run(capsys, "stats", "--by", by)
        assert "by source" in text and "\n  =1+2 " in text


def test_leads_export_csv(env: Store, capsys: pytest.CaptureFixture[str]) -> None:
    t = pipeline(env)
    out = run(capsys, "leads", "export", "--csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == list(EXPORT_COLUMNS)
    by_email = {r["email"]: r for r in rows}
    assert len(rows) == 4
    won = by_email["w@a.example"]
    assert (won["status"], won["owner"], won["campaign"], won["deal_value"]) == (
        "won", "U1", "spring", "9000.0")  # fmt: skip
    assert won["product_scores"] == "analytics:71;integrations:48"
    assert (won["seconds_to_announce"], won["seconds_to_claim"]) == ("300.0", "600.0")
    assert won["seconds_to_first_action"] == "600.0"
    assert won["first_announced_at"] == (t + 5 * MIN).isoformat()
    assert by_email["l@b.example"]["reason_code"] == "budget"
    assert by_email["x@c.example"]["name"] == "'=cmd|' /C calc'!A0"  # defused
    assert by_email["x@c.example"]["first_claimed_at"] == ""
    recent = list(csv.DictReader(io.StringIO(run(capsys, "leads", "export", "--since", "30d"))))
    assert {r["email"] for r in recent} == {"w@a.example", "l@b.example", "x@c.example"}


def test_bad_since_and_by_are_refused(env: Store, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stats", "--since", "fortnight"]) == 65
    assert "give 30d" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["stats", "--by", "colour"])
    with pytest.raises(SystemExit):
        main(["stats", "--json", "--csv"])


def test_parse_since() -> None:
    now = datetime.fromisoformat("2026-11-20T12:00:00+00:00")
    assert parse_since("30d", now).since == now - timedelta(days=30)
    assert parse_since("2w", now).label == "the last 14 days"
    assert parse_since("48h", now).since == now - timedelta(hours=48)
    assert parse_since("quarter", now).since == datetime.fromisoformat("2026-10-01T00:00:00+00:00")
    assert parse_since("2026-11-01", now).label == "since 2026-11-01"
    assert parse_since(None, now).since is None
    for bad in ("0d", "99999d", "2027-01-01", "soon"):
        with pytest.raises(ValueError):
            parse_since(bad, now)
