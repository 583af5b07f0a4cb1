"""`leadbot events import FILE.csv`: rows exported from other tools read as tracking events. Pure.

Columns (names compared without case, spaces or punctuation; the first of each group is ours,
the others are what exports commonly call it):

    email       email, e-mail, email address, contact email     the person (or visitor_id)
    visitor_id  visitor_id, visitor, anonymous_id, cookie_id    an anonymous visitor
    type        type, event, event type, activity, kind         page_view, download, video,
                                                                webinar, email_click, custom …
    occurred_at occurred_at, timestamp, time, date, created_at  ISO 8601 or epoch (s or ms)
    url         url, page url, page, link, link url
    title       title, page title, subject
    name        name, event name                                a custom event's name
    campaign    campaign, utm_campaign, campaign name
    id          id, event id                                    replays of one id count once

`email` or `visitor_id`, `type` and `occurred_at` are required. A row without an id is known by
its content, so importing the same file twice records nothing new.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from ingest.tracking.events import Dropped, TrackedEvent, parse_time, read_event

_COLUMNS: dict[str, tuple[str, ...]] = {
    "email": ("email", "emailaddress", "contactemail", "mail", "useremail"),
    "visitor": ("visitorid", "visitor", "anonymousid", "cookieid", "anonymous"),
    "type": ("type", "event", "eventtype", "activity", "activitytype", "kind", "action"),
    "ts": ("occurredat", "timestamp", "time", "date", "createdat", "datetime", "when"),
    "url": ("url", "pageurl", "page", "link", "linkurl", "clickedurl"),
    "title": ("title", "pagetitle", "subject"),
    "name": ("name", "eventname"),
    "campaign": ("campaign", "utmcampaign", "campaignname"),
    "id": ("id", "eventid"),
}
REQUIRED = ("type", "ts")
# What exports call our event types.
_TYPES = {
    "pageview": "page_view",
    "page_visit": "page_view",
    "visit": "page_view",
    "viewed": "page_view",
    "downloaded": "download",
    "video_view": "video",
    "watched": "video",
    "attended": "webinar",
    "webinar_attended": "webinar",
    "click": "email_click",
    "clicked": "email_click",
    "link_click": "email_click",
    "email_link_click": "email_click",
}
_SQUASH = re.compile(r"[^a-z0-9]+")


@dataclass
class ImportRead:
    events: list[TrackedEvent] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # "row 7: …" (row 1 is the header)


def columns(header: Sequence[str]) -> dict[str, str]:
    """Our name -> the file's column, for the columns the header has."""
    found: dict[str, str] = {}
    for column in header:
        squashed = _SQUASH.sub("", column.strip().lower())
        for ours, names in _COLUMNS.items():
            if squashed in names and ours not in found:
                found[ours] = column
    return found


def missing_columns(found: dict[str, str]) -> list[str]:
    """What a file lacks to be imported, named as docs/tracking.md names the columns."""
    shown = {"ts": "occurred_at", "type": "type"}
    missing = [shown[c] for c in REQUIRED if c not in found]
    if "email" not in found and "visitor" not in found:
        missing.insert(0, "email (or visitor_id)")
    return missing


def read_rows(
    rows: Iterable[dict[str, str]],
    found: dict[str, str],
    *,
    source: str,
    now: datetime,
    first: int = 2,
) -> ImportRead:
    """Each CSV row (as csv.DictReader gives it) as an event; what could not be read, by row
    (`first` is the number of the first row given: the header is row 1)."""
    out = ImportRead()
    for number, row in enumerate(rows, start=first):
        value = {ours: (row.get(column) or "").strip() for ours, column in found.items()}
        kind = _SQUASH.sub("_", value.get("type", "").lower()).strip("_")
        value["type"] = _TYPES.get(kind, kind)
        if not kind:
            out.problems.append(f"row {number}: no type")
            continue
        when = parse_time(value.get("ts"))
        if when is None:
            out.problems.append(
                f"row {number}: occurred_at {value.get('ts', '')[:40]!r} unreadable"
            )
            continue
        event = {k: v for k, v in value.items() if v}
        if event["type"] not in _KNOWN:  # any other name: a custom event of that name
            event.setdefault("name", event["type"])
            event["type"] = "custom"
        try:
            read = read_event(event, site=source, now=now, max_age=None, channel="import")
        except Dropped as e:
            out.problems.append(f"row {number}: {e.reason}")
            continue
        if isinstance(read, TrackedEvent):
            out.events.append(read)
    return out


_KNOWN = frozenset({"page_view", "download", "video", "webinar", "email_click", "custom"})
