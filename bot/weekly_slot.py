"""When the weekly digest goes out: `LEADBOT_WEEKLY_DIGEST="mon 09:00"`, optionally with an IANA
time zone (`"fri 16:30 Europe/Berlin"`; UTC otherwise). Pure: the clock is given."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPEC = re.compile(r"^([a-z]{3})[a-z]*\s+([01]?\d|2[0-3]):([0-5]\d)(?:\s+([A-Za-z_+/-]{1,60}))?$")


@dataclass(frozen=True)
class WeeklySlot:
    weekday: int  # 0 = Monday
    at: time
    zone: tzinfo

    def latest(self, now: datetime) -> datetime:
        """The most recent slot at or before `now` (aware), in UTC."""
        local = now.astimezone(self.zone)
        day = local.date() - timedelta(days=(local.weekday() - self.weekday) % 7)
        slot = datetime.combine(day, self.at, tzinfo=self.zone)
        if slot > local:
            slot = datetime.combine(day - timedelta(days=7), self.at, tzinfo=self.zone)
        return slot.astimezone(UTC)


def parse_weekly(text: str) -> WeeklySlot:
    """`mon 09:00`, `Monday 9:00`, `fri 16:30 Europe/Berlin`; ValueError says what is wrong."""
    m = _SPEC.match(" ".join(text.strip().split()).lower() if text else "")
    if m is None or m.group(1) not in DAYS:
        raise ValueError("a day and a time, e.g. 'mon 09:00' or 'fri 16:30 Europe/Berlin'")
    zone: tzinfo = UTC
    if m.group(4):
        name = " ".join(text.split()).split(" ")[2]  # the zone as written (case matters)
        try:
            zone = ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {name!r} (an IANA name: Europe/Berlin)") from None
    return WeeklySlot(DAYS.index(m.group(1)), time(int(m.group(2)), int(m.group(3))), zone)
