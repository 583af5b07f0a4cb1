"""Every product scored (issue 14): stored on intake and on both rescore paths, shown by
`leads show`, `--json`, `score explain` and the card, usable by routes; both backends."""

from __future__ import annotations

import json
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest

from bot import doctor
from bot.cli import main
from bot.jobs.decay import _products_moved
from bot.jobs.full_path import rules_fingerprint
from bot.jobs.rescore import rescore_leads
from bot.slack.blocks import fits_line, lead_card
from bot.slack.routing import parse_routes, pick_channel
from ingest.facts import activity_facts, lead_facts
from scoring import load_rules
from storage import rescore as sql
from storage.db import Store
from storage.errors import ConfigError
from storage.leads import activities_of, get_lead
from storage.models import Lead
from storage.scores import engagement_activities
from tests.bot.jobs.test_rescore import T0, inquiry
from tests.conftest import make_settings

BOTH = (
    "We need analytics dashboards for our board and an API integration with our CRM. "
    "Pricing for 40 seats please."
)


def two_products_mail() -> bytes:
    msg = EmailMessage()
    msg["From"] = "Jo Doe <jo@acme-robotics.example>"
    msg["To"] = "leads@leads.example.com"
    msg["Subject"] = "Dashboards and an API"
    msg["Message-ID"] = "<p1@acme-robotics.example>"
    msg.set_content(f"{BOTH}\n\nJo Doe\nBI analyst, Acme Robotics\n")
    return bytes(msg)


@pytest.fixture
def env(db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LEADBOT_DATABASE_URL", db_url)
    monkeypatch.setenv("LEADBOT_INTERNAL_DOMAINS", "ourco.example")
    (tmp_path / "m.eml").write_bytes(two_products_mail())
    return str(tmp_path / "m.eml")


def test_cli_shows_every_product_score(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ingest", env]) == 0
    capsys.readouterr()
    assert main(["leads", "show", "jo@acme-robotics.example", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    scores = shown["product_scores"]
    assert list(scores) == ["analytics", "integrations"]  # the best first
    assert scores["analytics"] == shown["score"] and shown["product"] == "analytics"
    assert 0 < scores["integrations"] < scores["analytics"]
    assert main(["leads", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["product_scores"] == scores
    assert main(["leads", "show", "jo@acme-robotics.example"]) == 0
    text = capsys.readouterr().out
    fits = f"fits           analytics {scores['analytics']:.0f}, integrations "
    assert fits + f"{scores['integrations']:.0f}" in text
    assert main(["score", "explain", "jo@acme-robotics.example", "--json"]) == 0
    explained = json.loads(capsys.readouterr().out)
    assert explained["product_scores"] == scores
    assert main(["score", "explain", "jo@acme-robotics.example"]) == 0
    assert "per product: analytics" in capsys.readouterr().out


def stored(store: Store, lead_id: int) -> Lead:
    with store.session() as s:
        return get_lead(s, lead_id=lead_id)


def expected(store: Store, lead_id: int, when: object) -> dict[str, float]:
    rules = load_rules()
    with store.session() as s:
        lead = get_lead(s, lead_id=lead_id)
        facts = activity_facts(engagement_activities(s, lead_id))
        return dict(rules.score(lead_facts(lead), facts, now=when).product_scores)  # type: ignore[arg-type]


def test_both_rescore_paths_keep_product_scores_current(store: Store) -> None:
    rules = load_rules()
    lead_id = inquiry(store, "jo@acme.example", text=BOTH, title="BI analyst")
    only = inquiry(store, "al@acme.example", text="Analytics dashboards, pricing for 40 seats.")
    none = inquiry(store, "no@acme.example", text="Pricing for 40 seats, please.")
    assert stored(store, lead_id).product_scores == {}  # recorded, not scored yet
    first = rescore_leads(store, rules, now=T0)
    assert first.planned == 0  # the full path: scored from the activities
    assert stored(store, lead_id).product_scores == expected(store, lead_id, T0)
    assert list(stored(store, only).product_scores) == ["analytics"]
    assert stored(store, only).product_scores["analytics"] == stored(store, only).score
    assert stored(store, none).product_scores == {}
    # Sixty days on, only time changed: the decay path writes from the stored plans.
    later = T0 + timedelta(days=60)
    second = rescore_leads(store, rules, now=later)
    assert second.planned == 3
    now_held = stored(store, lead_id).product_scores or {}
    assert now_held == expected(store, lead_id, later)
    assert now_held["integrations"] < expected(store, lead_id, T0)["integrations"]
    assert stored(store, lead_id).score == now_held["analytics"]


def test_card_fits_line_is_escaped() -> None:
    lead = Lead(id=7, email="a@b.example", product="analytics")
    lead.product_scores = {"integrations": 48.4, "analytics": 71.2, "<!here>": 12.0}
    assert fits_line(lead) == "fits: analytics 71, integrations 48, &lt;!here&gt; 12"
    card = json.dumps(lead_card(lead)["blocks"])
    assert "fits: analytics 71, integrations 48" in card and "<!here>" not in card
    assert fits_line(Lead(email="c@d.example", product="analytics")) == ""


def test_routes_on_a_product_score() -> None:
    routes = parse_routes("score:integrations>=45=C1,product:analytics=C2")
    lead = Lead(email="a@b", product="analytics", product_scores={"analytics": 71.0})
    assert pick_channel(lead, routes, default="CD") == "C2"
    lead.product_scores = {"analytics": 71.0, "integrations": 44.6}  # shown as 45
    assert pick_channel(lead, routes, default="CD") == "C1"
    lead.product_scores = {"analytics": 71.0, "integrations": 44.4}
    assert pick_channel(lead, routes, default="CD") == "C2"
    either = parse_routes("score:analytics|integrations >= 80 = C3")
    assert pick_channel(lead, either, default="CD") == "CD"
    for bad in ("score:analytics=C1", "score:analytics>70=C1", "score:>=70=C1"):
        with pytest.raises(ConfigError):
            parse_routes(bad)


def test_doctor_names_a_score_route_for_a_product_the_rules_lack() -> None:
    bad = make_settings("sqlite://", slack_routes="score:analytcs>=60=C1")
    [check] = list(doctor._routes(bad))
    assert check.level == doctor.FAIL and "score:analytcs can never match" in check.detail
    good = make_settings("sqlite://", slack_routes="score:analytics>=60=C1")
    [check] = list(doctor._routes(good))
    assert check.level == doctor.OK


def test_decay_writes_a_moved_product_score_without_history(store: Store) -> None:
    """Time alone can move a product's whole-point score and not the lead's: the decay path
    stores it, and records no `score_changed` (the lead's score did not change visibly)."""
    rules = load_rules()
    lead_id = inquiry(store, "jo@acme.example", text=BOTH, title="BI analyst")
    rescore_leads(store, rules, now=T0)
    fp = rules_fingerprint(rules)
    prefix = f"{fp}:"
    rows = sql.read_plans(
        store, sql.plans_query(store, prefix), prefix, after=0, upto=sql.LAST_ID, limit=10
    )
    [row] = [r for r in rows if r[0] == lead_id]
    held = json.loads(row[11]) if isinstance(row[11], str) else row[11]
    assert held == stored(store, lead_id).product_scores
    moved = {**held, "integrations": held["integrations"] - 3}
    assert _products_moved(tuple(moved.items()), row[11])
    assert not _products_moved(tuple(held.items()), row[11])
    assert _products_moved(tuple(moved.items()), None)  # never stored: write them
    history_before = len(activities_of_lead(store, lead_id))
    drift = [(lead_id, row[2], 1.0, row[4], json.dumps(moved), row[8], row[2], row[4])]
    assert sql.write_decay(store, drift, now=T0) == (1, 0)
    assert stored(store, lead_id).product_scores == moved
    assert len(activities_of_lead(store, lead_id)) == history_before


def activities_of_lead(store: Store, lead_id: int) -> list[str]:
    with store.session() as s:
        return [a.kind for a in activities_of(s, lead_id)]
