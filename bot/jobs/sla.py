"""The Slack job: new activity threaded under each lead's card, then SLA reminders and escalations.

`serve` runs `slack_tick` every JOB_INTERVAL_S seconds when Slack is configured; it only writes
outbox rows, which the dispatcher sends.
"""

from __future__ import annotations

from datetime import datetime

from bot.runtime import Runtime
from storage.models import utcnow
from storage.slack_jobs import SlaReport, enqueue_new_activity, enqueue_sla

JOB_INTERVAL_S = 30.0


def escalation_targets(runtime: Runtime) -> list[str]:
    """Who an escalation mentions: the configured target, else the managers (or their group)."""
    s = runtime.settings
    if s.sla_escalation_target:
        return [s.sla_escalation_target]
    if s.slack_manager_group:
        return [s.slack_manager_group]
    return sorted(s.slack_managers)


MAX_MENTIONS = 10  # allowed users named one by one; a longer list is better made a user group


def reminder_audience(runtime: Runtime) -> tuple[list[str], bool]:
    """Who the reminder pings, and whether it is also broadcast to the channel: the group that
    may claim, else the users who may (a few), else `here` when the channel's members may
    (broadcast, so it reaches the channel); when everyone may act, nobody in particular, so it
    is broadcast (seen in the channel, not only in the thread)."""
    s = runtime.settings
    if s.slack_allowed_usergroup:
        return [s.slack_allowed_usergroup], False
    if s.slack_allowed_users:
        return sorted(s.slack_allowed_users)[:MAX_MENTIONS], False
    if s.slack_allow_channel_members:
        return ["here"], True
    return [], True


def slack_tick(runtime: Runtime, *, now: datetime | None = None) -> SlaReport:
    """One pass: new activity into threads, then SLA reminders and escalations."""
    now = now or utcnow()
    s = runtime.settings
    with runtime.store.session() as session:
        activities = enqueue_new_activity(session, now=now)
    audience, broadcast = reminder_audience(runtime)
    with runtime.store.session() as session:
        report = enqueue_sla(
            session,
            now=now,
            reminder_minutes=s.sla_reminder_minutes,
            escalation_minutes=s.sla_escalation_minutes,
            targets=escalation_targets(runtime),
            reminder_targets=audience,
            broadcast=broadcast,
        )
    report.activities = activities
    return report
