"""Block Kit rendering without Slack: escaping of outside text, Slack's limits, buttons per status."""

from __future__ import annotations

import json
import time

import pytest

from bot.slack import blocks
from bot.slack.escape import clip_mrkdwn, mrkdwn, safe
from bot.slack.routing import parse_routes, pick_channel
from bot.slack.surfaces import home_view, lost_modal, note_modal, nurture_modal
from storage.errors import ConfigError
from storage.models import Lead
from tests.bot.fake_slack import block_kit_problem, view_problem

HOSTILE = "<!channel> <!here> <@U0ADMIN> <http://evil.example|Your bank> & co"


def hostile_lead(**kw: object) -> Lead:
    values: dict[str, object] = dict(
        id=7, email="x@evil.example", name=HOSTILE, company=HOSTILE, title=HOSTILE, phone="+4930123",
        source="email", forwarded_by=HOSTILE, status="announced", score=91, temperature="hot",
        reasons=[{"rule": "r", "points": 40, "reason": HOSTILE, "evidence": HOSTILE}],
    )  # fmt: skip
    values.update(kw)
    return Lead(**values)


def mrkdwn_texts(items: list[dict[str, object]]) -> list[str]:
    """Every mrkdwn string in a block list (plain_text cannot ping or link, so it may stay raw)."""
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn":
                found.append(str(node["text"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(items)
    return found


def test_escape_is_exactly_three_characters() -> None:
    assert (
        mrkdwn("a & b < c > d *bold* _it_ `code`") == "a &amp; b &lt; c &gt; d *bold* _it_ `code`"
    )
    assert mrkdwn(None) == ""


def test_no_outside_text_can_ping_or_disguise_a_link() -> None:
    card = blocks.lead_card(hostile_lead(), excerpt=HOSTILE)
    texts = [*mrkdwn_texts(card["blocks"]), card["text"]]
    assert texts and all("<!" not in t and "<@" not in t and "<http" not in t for t in texts)
    assert any("&lt;!channel&gt;" in t and "&amp; co" in t for t in texts)
    assert "&lt;http://evil.example|Your bank&gt;" in json.dumps(card["blocks"])


def test_only_real_user_ids_become_mentions() -> None:
    claimed = blocks.lead_card(hostile_lead(status="claimed", owner="U0REP1"))
    assert "*Claimed by <@U0REP1>*" in json.dumps(claimed["blocks"])
    odd = blocks.lead_card(hostile_lead(status="claimed", owner="<!channel>"))
    assert "Claimed by &lt;!channel&gt;" in json.dumps(odd["blocks"])
    assert not any("<!" in t for t in mrkdwn_texts(odd["blocks"]))


@pytest.mark.parametrize(
    ("status", "buttons", "menu"),
    [
        ("announced", ["Claim", "Add note", "Back to nurturing"],
         ["reassign", "disqualify", "edit", "details"]),
        ("claimed", ["Won", "Lost", "Add note", "Log activity"],
         ["nurture", "reassign", "disqualify", "edit", "details"]),
        ("won", ["Reopen", "Add note"], ["edit", "details"]),
        ("lost", ["Reopen", "Add note"], ["edit", "details"]),
        ("disqualified", ["Reopen", "Add note"], ["edit", "details"]),
        ("nurturing", ["Reopen", "Add note"], ["disqualify", "edit", "details"]),
    ],
)  # fmt: skip
def test_buttons_follow_the_status(status: str, buttons: list[str], menu: list[str]) -> None:
    card = blocks.lead_card(hostile_lead(status=status, owner="U1"))
    [actions] = [b for b in card["blocks"] if b["type"] == "actions"]
    *pressed, more = actions["elements"]
    assert [e["text"]["text"] for e in pressed] == buttons
    assert {e["value"] for e in pressed} == {"7"}
    assert more["type"] == "overflow" and more["action_id"] == "lead_more"
    assert [o["value"] for o in more["options"]] == [f"{m}:7" for m in menu]
    # The buttons come right after who, the ask and why: the state and details below them.
    kinds = [b["type"] for b in card["blocks"]]
    assert kinds.index("actions") == len(kinds) - 2


def test_long_texts_fit_slack_limits() -> None:
    huge = "&" * 10_000
    lead = hostile_lead(name="N" * 500, company=huge, title=huge, forwarded_by=huge,
                        reasons=[{"rule": "r", "points": i, "reason": huge, "evidence": huge} for i in range(1, 40)])  # fmt: skip
    card = blocks.lead_card(lead, excerpt=huge + "\n" + huge)
    assert block_kit_problem(card["blocks"], limit=50) is None
    header = card["blocks"][0]["text"]["text"]
    assert len(header) <= 150 and header.endswith("…")
    assert all(len(t) <= 3000 for t in mrkdwn_texts(card["blocks"]))
    # Clipping never leaves half an entity behind.
    assert not any(
        t.rstrip("…").endswith(("&", "&a", "&am", "&amp")) for t in mrkdwn_texts(card["blocks"])
    )
    assert clip_mrkdwn("ab&amp;cd", 5) == "ab…"
    assert safe("<" * 10, 9) == "&lt;&lt;…"


def test_top_reasons_are_the_three_biggest_positive() -> None:
    reasons = [{"rule": str(p), "points": p, "reason": f"r{p}"} for p in (5, -20, 30, 10, 25)]
    assert [r["points"] for r in blocks.top_reasons(hostile_lead(reasons=reasons))] == [30, 25, 10]


def test_lists_and_views_stay_within_block_limits() -> None:
    leads = [hostile_lead(id=i, status="announced") for i in range(200)]
    message = blocks.lead_list("*Hot*", leads)
    assert block_kit_problem(message["blocks"], limit=50) is None and len(message["blocks"]) == 50
    home = home_view(mine=leads, unclaimed=leads)
    assert block_kit_problem(home["blocks"], limit=100) is None
    modal = note_modal(hostile_lead(), '{"lead_id": 7}')
    assert modal["blocks"][0]["text"]["type"] == "plain_text"  # the name shown as typed, inert
    assert len(modal["title"]["text"]) <= 24


def test_stats_message() -> None:
    funnel = {
        "by_status": {"announced": 2, "claimed": 3},
        "claim_rate": 0.6,
        "median_seconds_to_claim": 420,
    }
    text = blocks.stats_message(funnel)["blocks"][0]["text"]["text"]
    assert (
        "announced: *2*" in text
        and "claim rate: *60%*" in text
        and "median time to claim: *7 min*" in text
    )


def test_routes_parse_and_match() -> None:
    routes = parse_routes("product:analytics=C1, country:de|at=C2,domain:bigco.com=C3")
    assert pick_channel(Lead(email="a@b", product="Analytics"), routes, default="CD") == "C1"
    assert pick_channel(Lead(email="a@b", country="AT"), routes, default="CD") == "C2"
    assert pick_channel(Lead(email="a@b", domain="eu.bigco.com"), routes, default="CD") == "C3"
    assert pick_channel(Lead(email="a@b", domain="notbigco.com"), routes, default="CD") == "CD"
    by_source = parse_routes("source:form:pricing=C4,source:webhook=C5,latest_source:email=C6")
    assert pick_channel(Lead(email="a@b", source="form:pricing"), by_source, default="CD") == "C4"
    assert pick_channel(Lead(email="a@b", source="form:contact"), by_source, default="CD") == "CD"
    assert (
        pick_channel(Lead(email="a@b", source="webhook:typeform"), by_source, default="CD") == "C5"
    )
    assert pick_channel(Lead(email="a@b", source="webhooks"), by_source, default="CD") == "CD"
    lead = Lead(email="a@b", source="form:contact", latest_source="email:wpforms")
    assert pick_channel(lead, by_source, default="CD") == "C6"
    for bad in ("product=C1", "colour:red=C1", "product:x=general"):
        with pytest.raises(ConfigError):
            parse_routes(bad)


def test_manifest_declares_what_the_app_uses() -> None:
    from pathlib import Path

    manifest = (Path(__file__).parents[3] / "bot" / "manifest.yml").read_text()
    for needed in ("command: /lead\n", "command: /leads\n", "app_home_opened", "home_tab_enabled: true",
                   "chat:write", "commands", "usergroups:read", "channels:read", "is_enabled: true"):  # fmt: skip
        assert needed in manifest, needed
    assert manifest.count("/slack/events") == 4  # both commands, events, interactivity


def test_oversize_lead_text_stays_within_every_block_limit() -> None:
    """Longer than the database keeps, to prove rendering alone holds Slack's limits."""
    reasons = [{"rule": "r", "points": i, "reason": "R" * 3001, "evidence": "E" * 3001}
               for i in range(1, 101)]  # fmt: skip
    lead = Lead(
        id=7, email="a" * 64 + "@" + "b" * 180 + ".example", name="N&" * 2500, company="C" * 5000,
        title="T" * 5000, phone="+4930123", source="S" * 5000, forwarded_by="F" * 5000,
        status="announced", score=91, temperature="hot", reasons=reasons, product="P" * 5000,
    )  # fmt: skip
    for status in ("announced", "claimed", "won", "lost", "nurturing", "disqualified"):
        lead.status, lead.owner, lead.status_reason = status, "U1", "why " * 1000
        card = blocks.lead_card(lead, excerpt="<!channel>\n" * 3001)
        assert block_kit_problem(card["blocks"], limit=50) is None, status
        assert len(card["text"]) <= 3000
    many = blocks.lead_list("*" + "x" * 4000, [lead] * 60)
    assert len(many["blocks"]) == 50 and block_kit_problem(many["blocks"], limit=50) is None
    home = home_view(mine=[lead] * 60, unclaimed=[lead] * 60)
    assert view_problem(home) is None
    for modal in (note_modal, nurture_modal, lost_modal):
        assert view_problem(modal(lead, '{"lead_id": 7}')) is None
    reply = blocks.thread_message({"event": "note", "actor": "U1", "text": "&<>" * 5000}, lead)
    assert block_kit_problem(reply["blocks"], limit=50) is None and len(reply["text"]) <= 3000
    assert not reply["text"].endswith(("&", "&a", "&am", "&amp", "&l", "&lt", "&g", "&gt"))


@pytest.mark.parametrize("spec", ["score:" + " " * 5000, "0:" + " " * 5000])
def test_a_malformed_route_is_refused_at_once(spec: str) -> None:
    # The route patterns backtracked for 10 s over a value of spaces before the "=".
    started = time.perf_counter()
    with pytest.raises(ConfigError, match="LEADBOT_SLACK_ROUTES"):
        parse_routes(spec)
    assert time.perf_counter() - started < 5
