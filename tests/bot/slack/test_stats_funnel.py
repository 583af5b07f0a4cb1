"""`/leads stats [period] [by …]` through the signed endpoint: the funnel of the leads that came
in, per source, campaign, rep or product, escaped; both backends."""

from __future__ import annotations

import json
from datetime import timedelta

from starlette.testclient import TestClient

from bot.runtime import Runtime
from storage import lifecycle
from storage.models import Lead, utcnow
from tests.bot.slack.test_commands import answer
from tests.bot.slack_helpers import make_lead


def texts(body: dict[str, object]) -> str:
    return "\n".join(b["text"]["text"] for b in body["blocks"])  # type: ignore[attr-defined]


def setup(runtime: Runtime) -> None:
    store = runtime.store
    now = utcnow()
    t = now - timedelta(days=3)
    won = make_lead(store, "w@a.example", name="Won One", now=t, product="analytics")
    lost = make_lead(store, "l@b.example", name="Lost One", now=t)
    make_lead(store, "x@c.example", name="Waiting", now=t)
    make_lead(store, "o@d.example", name="Old One", now=now - timedelta(days=60))
    with store.session() as s:
        for lead_id, campaign in ((won, "spring"), (lost, "<!here> sale")):
            lead = s.get(Lead, lead_id)
            assert lead is not None
            lead.first_touch = {"channel": "email", "utm_campaign": campaign}
            s.add(lead)
    with store.session() as s:
        lifecycle.claim(s, lead_id=won, user="U1", now=t + timedelta(minutes=10))
        lifecycle.claim(s, lead_id=lost, user="U2", now=t + timedelta(minutes=30))
        lifecycle.win(s, lead_id=won, actor="U1", value=4000, now=t + timedelta(hours=1))
        lifecycle.lose(
            s, lead_id=lost, actor="U2", reason="no", code="<!channel>", now=t + timedelta(hours=2)
        )


def test_stats_shows_the_funnel_of_the_period(http: TestClient, slack_runtime: Runtime) -> None:
    setup(slack_runtime)
    text = texts(answer(http, "/leads", "stats 7d"))
    assert "*Leads that came in, the last 7 days:* *3* → *3* announced (100%)" in text
    assert "→ *2* claimed (67%) → *1* won (50%) · *1* lost" in text
    assert "win rate *50%* · won *4,000*" in text
    assert "announced → claimed *20 min* / *30 min*" in text
    assert "*Lost because:* &lt;!channel&gt; *1*" in text and "<!channel>" not in text
    # What was there before stays: now, the period's flows, by rep and by source.
    assert "*In the period:*" in text and "*By rep*" in text
    everything = texts(answer(http, "/leads", "stats"))
    assert "*Leads that came in, all time:* *4* →" in everything


def test_stats_by_each_group(http: TestClient, slack_runtime: Runtime) -> None:
    setup(slack_runtime)
    by_rep = texts(answer(http, "/leads", "stats 30d by rep"))
    assert "*By rep* (leads that came in)" in by_rep
    assert "• <@U1>: *1* → *1* announced (100%) → *1* claimed (100%) → *1* won (100%)" in by_rep
    assert "(4,000) · claimed in *10 min* (median)" in by_rep and "• nobody: *1*" in by_rep
    by_campaign = texts(answer(http, "/leads", "stats 30d by campaign"))
    assert "• spring: *1*" in by_campaign and "• &lt;!here&gt; sale: *1*" in by_campaign
    assert "<!here>" not in by_campaign and "• (none): *1*" in by_campaign
    by_product = texts(answer(http, "/leads", "stats by product"))
    assert "• analytics: *1*" in by_product and "• (none): *3*" in by_product
    assert "*By source* (leads that came in)" in texts(
        answer(http, "/leads", "stats week by source")
    )
    bad = answer(http, "/leads", "stats 7d by <!here>")
    assert "Usage" in str(bad["text"]) and "<!here>" not in json.dumps(bad)
    colour = answer(http, "/leads", "stats by colour")
    assert "cannot break the funnel down by `colour`" in str(colour["text"])
