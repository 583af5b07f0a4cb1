"""SLA reminders and escalations with a controlled clock; later activity into the card's thread."""

from __future__ import annotations

from datetime import timedelta

from bot.jobs.sla import slack_tick
from bot.runtime import Runtime, build_runtime
from storage import lifecycle
from storage.leads import activities_of
from tests.bot.conftest import dispatcher, slack_settings
from tests.bot.fake_slack import FakeSlack
from tests.bot.slack_helpers import T0, make_lead
from tests.reference import record_inquiry


def thread_texts(fake: FakeSlack) -> list[str]:
    return [c.args["text"] for c in fake.to("chat.postMessage") if c.args.get("thread_ts")]


def test_reminder_then_escalation_exactly_once(store, fake_slack: FakeSlack) -> None:  # type: ignore[no-untyped-def]
    settings = slack_settings(
        store.url, fake_slack, sla_reminder_minutes=15, sla_escalation_minutes=45,
        slack_manager_group="SMANAGERS",
    )  # fmt: skip
    runtime = build_runtime(settings, store=store)
    lead_id = make_lead(store, now=T0)
    dispatcher(runtime).run_once(now=T0)
    for minutes in (0, 14):
        assert slack_tick(runtime, now=T0 + timedelta(minutes=minutes)).reminders == 0
    for minutes in (15, 16, 30):  # due at 15; later passes (and other processes) add nothing
        slack_tick(runtime, now=T0 + timedelta(minutes=minutes))
    dispatcher(runtime).run_once(now=T0 + timedelta(minutes=31))
    assert thread_texts(fake_slack) == [":alarm_clock: Still unclaimed after 15 min. Who takes it?"]
    report = slack_tick(runtime, now=T0 + timedelta(minutes=45))
    assert (report.reminders, report.escalations) == (0, 1)
    slack_tick(runtime, now=T0 + timedelta(minutes=90))
    dispatcher(runtime).run_once(now=T0 + timedelta(minutes=91))
    assert thread_texts(fake_slack)[1:] == [
        ":rotating_light: <!subteam^SMANAGERS> unclaimed for 45 min, please assign it."
    ]
    with store.session() as s:
        kinds = [a.kind for a in activities_of(s, lead_id)]
    assert kinds.count("sla_reminder") == kinds.count("sla_escalated") == 1


def test_a_claimed_lead_gets_no_reminder(slack_runtime: Runtime, fake_slack: FakeSlack) -> None:
    lead_id = make_lead(slack_runtime.store, now=T0)
    with slack_runtime.store.session() as s:
        lifecycle.claim(s, lead_id=lead_id, user="U1", now=T0 + timedelta(minutes=5))
    report = slack_tick(slack_runtime, now=T0 + timedelta(hours=3))
    assert (report.reminders, report.escalations) == (0, 0)


def test_new_activity_goes_into_the_thread(slack_runtime: Runtime, fake_slack: FakeSlack) -> None:
    store = slack_runtime.store
    slack_tick(slack_runtime, now=T0)  # the job starts reading from here
    lead_id = make_lead(store, now=T0)
    dispatcher(slack_runtime).run_once(now=T0)
    later = T0 + timedelta(minutes=3)
    with store.session() as s:
        record_inquiry(
            s, email="jane@acme.example", kind="email_reply", source="email", occurred_at=later,
            dedup_key="msgid:<reply-1>", profile={}, detail="Re: Pricing",
            data={"subject": "Re: Pricing", "text": "Can we start <!here> on Monday?"}, now=later,
        )  # fmt: skip
    assert slack_tick(slack_runtime, now=later).activities == 1
    assert slack_tick(slack_runtime, now=later).activities == 0  # read once
    dispatcher(slack_runtime).run_once(now=later)
    [reply] = thread_texts(fake_slack)
    assert "New email reply from Jane Doe" in reply and "&lt;!here&gt;" in reply
    assert "<!here>" not in reply
    assert len(fake_slack.to("chat.update")) == 1  # the card shows the new state too
    assert lead_id
