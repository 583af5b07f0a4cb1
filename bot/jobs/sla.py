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


def slack_tick(runtime: Runtime, *, now: datetime | None = None) -> SlaReport:
    """One pass: new activity into threads, then SLA reminders and escalations."""
    now = now or utcnow()
    s = runtime.settings
    with runtime.store.session() as session:
        activities = enqueue_new_activity(session, now=now)
    with runtime.store.session() as session:
        report = enqueue_sla(
            session,
            now=now,
            reminder_minutes=s.sla_reminder_minutes,
            escalation_minutes=s.sla_escalation_minutes,
            targets=escalation_targets(runtime),
        )
    report.activities = activities
    return report
