"""The weekly digest job: at LEADBOT_WEEKLY_DIGEST, the past week's funnel and speed to lead
enter the outbox as one message (bot.slack.weekly renders and uploads it).

`serve` checks every CHECK_INTERVAL_S; the figures are those of the seven days before the
slot, whenever the check runs, and the outbox's dedup key (the slot) makes it one message a
week however many `serve` processes share the database. A process that was down at the slot
still sends it within LATE of it; later than that, that week is skipped.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from bot.runtime import Runtime
from bot.slack.weekly import WEEKLY
from bot.weekly_slot import parse_weekly
from storage import dashboard, stats
from storage.models import utcnow
from storage.outbox import enqueue

log = logging.getLogger("leadbot.jobs.weekly")
CHECK_INTERVAL_S = 300.0
LATE = timedelta(hours=12)
WEEK = timedelta(days=7)


def week_figures(runtime: Runtime, *, since: datetime, until: datetime) -> dict[str, Any]:
    """The digest's numbers for [since, until], as plain JSON for the outbox row."""
    with runtime.store.session() as session:
        funnel = stats.funnel(session, now=until, since=since)
        created = dashboard.created_count(session, since=since, now=until)
        speed = dashboard.speed_to_lead(session, since=since, now=until)
    return {
        "since": since.isoformat(),
        "until": until.isoformat(),
        "stages": [
            ["Created", created],
            ["Announced", funnel["announced"]],
            ["Claimed", funnel["claimed"]],
            ["Won", funnel["won"]],
        ],
        "lost": funnel["lost"],
        "claim_rate": funnel["claim_rate"],
        "win_rate": funnel["win_rate"],
        "median_seconds_to_claim": funnel["median_seconds_to_claim"],
        "unclaimed": funnel["unclaimed"],
        "speed": [[row["label"], row["claims"]] for row in speed],
    }


def weekly_tick(runtime: Runtime, *, now: datetime | None = None) -> bool:
    """Enqueue this week's digest when its slot has come (and not long ago); True if enqueued."""
    s = runtime.settings
    if not s.weekly_digest:
        return False
    now = now or utcnow()
    slot = parse_weekly(s.weekly_digest).latest(now)
    if now - slot > LATE:
        return False
    channel = s.weekly_digest_channel or s.hot_channel
    if not channel:
        log.warning("weekly digest: set LEADBOT_WEEKLY_DIGEST_CHANNEL or LEADBOT_HOT_CHANNEL")
        return False
    payload = {"channel": channel, **week_figures(runtime, since=slot - WEEK, until=slot)}
    with runtime.store.session() as session:
        row = enqueue(
            session,
            kind=WEEKLY,
            lead_id=None,
            payload=payload,
            dedup_key=f"{WEEKLY}:{slot.isoformat()}",
            now=now,
        )
    return row is not None
