"""The weekly digest: when it is due, what it counts, and how it reaches Slack (files.uploadV2
through the fake Web API), on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import struct
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlmodel import select

from bot.jobs.weekly import weekly_tick
from bot.runtime import Runtime, build_runtime
from bot.serve import schedule
from bot.slack.weekly import WEEKLY, summary_text
from bot.weekly_slot import parse_weekly
from storage import lifecycle
from storage.db import Store
from storage.models import OutboxMessage
from tests.bot.conftest import dispatcher, slack_settings
from tests.bot.fake_slack import Failure, FakeSlack
from tests.bot.slack_helpers import make_lead
from tests.conftest import make_settings

MONDAY_9 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def test_slots_read_as_written_in_utc_or_a_zone() -> None:
    slot = parse_weekly("mon 09:00")
    assert slot.latest(MONDAY_9) == MONDAY_9
    assert slot.latest(MONDAY_9 - timedelta(seconds=1)) == MONDAY_9 - timedelta(days=7)
    assert slot.latest(MONDAY_9 + timedelta(days=3)) == MONDAY_9
    berlin = parse_weekly("Friday 16:30 Europe/Berlin")  # CET in December: UTC+1
    assert berlin.latest(datetime(2026, 12, 4, 21, 0, tzinfo=UTC)) == datetime(
        2026, 12, 4, 15, 30, tzinfo=UTC
    )
    for bad in ("monday", "xyz 09:00", "mon 25:00", "mon 09:00 Mars/Base", ""):
        with pytest.raises(ValueError):
            parse_weekly(bad)


def test_the_setting_is_checked_at_start_and_off_by_default(sqlite_url: str) -> None:
    assert make_settings(sqlite_url).weekly_digest is None
    assert make_settings(sqlite_url, weekly_digest="off").weekly_digest is None
    assert make_settings(sqlite_url, weekly_digest=" mon  09:00 ").weekly_digest == "mon 09:00"
    with pytest.raises(ValidationError, match="mon 09:00"):
        make_settings(sqlite_url, weekly_digest="every monday")


@pytest.fixture
def rt(store: Store, fake_slack: FakeSlack) -> Runtime:
    settings = slack_settings(store.url, fake_slack, weekly_digest="mon 09:00")
    return build_runtime(settings, store=store)


def week_of_leads(rt: Runtime) -> None:
    """Three leads announced in the week before MONDAY_9, two claimed (4 min and 2 h), one won;
    one lead of the week before, claimed: not counted."""
    start = MONDAY_9 - timedelta(days=3)
    ids = [make_lead(rt.store, f"p{i}@acme.example", now=start) for i in range(3)]
    old = make_lead(rt.store, "old@acme.example", now=MONDAY_9 - timedelta(days=9))
    with rt.store.session() as s:
        lifecycle.claim(s, lead_id=ids[0], user="U1", now=start + timedelta(minutes=4))
        lifecycle.claim(s, lead_id=ids[1], user="U2", now=start + timedelta(hours=2))
        lifecycle.win(s, lead_id=ids[0], actor="U1", now=start + timedelta(days=1))
        lifecycle.claim(s, lead_id=old, user="U1", now=MONDAY_9 - timedelta(days=8))


def digests(rt: Runtime) -> list[OutboxMessage]:
    with rt.store.session() as s:
        return list(s.exec(select(OutboxMessage).where(OutboxMessage.kind == WEEKLY)))


def test_due_once_a_week_with_the_figures_of_the_seven_days_before(rt: Runtime) -> None:
    week_of_leads(rt)
    assert not weekly_tick(rt, now=MONDAY_9 - timedelta(minutes=1))  # last week's slot, too late
    assert weekly_tick(rt, now=MONDAY_9 + timedelta(minutes=2))
    assert not weekly_tick(rt, now=MONDAY_9 + timedelta(hours=3))  # one per slot
    (row,) = digests(rt)
    p = row.payload
    assert p["channel"] == "CHOT" and p["until"] == MONDAY_9.isoformat()
    assert p["stages"] == [["Created", 3], ["Announced", 3], ["Claimed", 2], ["Won", 1]]
    assert dict(p["speed"])["< 5 min"] == 1 and dict(p["speed"])["1-4 h"] == 1
    assert sum(n for _, n in p["speed"]) == 2
    assert p["claim_rate"] == pytest.approx(2 / 3, abs=1e-3)
    assert "3 announced · 2 claimed (67%) · 1 won, 0 lost" in summary_text(p)


def test_a_slot_missed_by_more_than_half_a_day_is_skipped(rt: Runtime) -> None:
    assert not weekly_tick(rt, now=MONDAY_9 + timedelta(hours=13))
    assert digests(rt) == []


def test_the_digest_is_a_chart_uploaded_with_files_upload_v2(
    rt: Runtime, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    week_of_leads(rt)
    assert weekly_tick(rt, now=MONDAY_9 + timedelta(minutes=1))
    fake_slack.calls.clear()
    dispatcher(rt).run_once(now=MONDAY_9 + timedelta(minutes=1))
    sent = [c for c in fake_slack.calls if c.method != "chat.postMessage"]
    assert [c.method for c in sent] == [
        "files.getUploadURLExternal",
        "upload",
        "files.completeUploadExternal",
    ]
    get_url, upload, complete = sent
    png = fake_slack.uploads[upload.args["file_id"]]
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and int(get_url.args["length"]) == len(png)
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == (1000, 400)
    assert get_url.args["filename"] == "leadbot-week-2026-11-30.png" and get_url.args["alt_txt"]
    assert complete.args["channel_id"] == "CHOT"
    assert "3 announced · 2 claimed" in complete.args["initial_comment"]
    assert fake_slack.refused() == []
    (row,) = digests(rt)
    assert row.status == "sent" and row.result["chart"] is True
    folder = Path(os.environ.get("LEADBOT_TEST_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "weekly.png").write_bytes(png)


def test_a_failed_upload_is_retried_from_the_outbox(rt: Runtime, fake_slack: FakeSlack) -> None:
    assert weekly_tick(rt, now=MONDAY_9)
    fake_slack.fail("files.completeUploadExternal", Failure(status=500, error="internal_error"))
    dispatcher(rt).run_once(now=MONDAY_9)
    (row,) = digests(rt)
    assert row.status == "pending" and row.attempts == 1
    dispatcher(rt).run_once(now=MONDAY_9 + timedelta(minutes=5))
    (row,) = digests(rt)
    assert row.status == "sent"
    assert len(fake_slack.to("files.completeUploadExternal")) == 2


def test_serve_schedules_it_only_with_slack_and_the_setting(
    store: Store, fake_slack: FakeSlack
) -> None:
    on = build_runtime(
        slack_settings(store.url, fake_slack, weekly_digest="mon 09:00"), store=store
    )
    off = build_runtime(slack_settings(store.url, fake_slack), store=store)
    no_slack = build_runtime(make_settings(store.url, weekly_digest="mon 09:00"), store=store)
    assert "weekly digest" in [j.name for j in schedule(on)]
    assert "weekly digest" not in [j.name for j in schedule(off)]
    assert "weekly digest" not in [j.name for j in schedule(no_slack)]
