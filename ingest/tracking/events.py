"""Reading a batch of tracking events (POST /events, `leadbot events import`): pure, no I/O.

A batch is a JSON object: {"key": "<site write key>", "visitor": "<id>", "email": "…",
"consent": true, "events": [{"id": "…", "type": "page_view", "ts": 1767225600000,
"url": "https://…", "title": "…"}, …]}. Each event may name its own visitor, email and consent.
An event becomes a `TrackedEvent` (an activity to record, of the kind scoring rules know), an
`Identity` (who a visitor is), or a count in `dropped` with the reason.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from ingest.forms.fields import single_line, snake
from ingest.forms.reader import check_email
from ingest.inquiry import VISITOR_ID
from storage.errors import FieldError, ParseError

# Event types a site sends -> the activity kind scoring rules match (scoring/default_rules.toml).
KINDS: dict[str, str] = {
    "page_view": "page_visit",
    "pageview": "page_visit",
    "page": "page_visit",
    "download": "download",
    "video": "video",  # watched (the script sends it at half of the video)
    "webinar": "webinar",  # attended
    "email_click": "email_click",
    "custom": "event",  # the event's `name` says which (`kind = "event"` in a rule)
}
IDENTIFY = "identify"  # not an activity: says who the visitor is (an email or a link token)
VISITOR = VISITOR_ID
EVENT_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")
NAME = re.compile(r"^[\w .:/-]{1,60}$")
URL_LIMIT = 2000
MAX_PROPS = 20
CLOCK_SKEW = timedelta(minutes=5)  # a browser clock ahead of ours by this much is believed
MAX_AGE = timedelta(days=7)  # older events from a browser are a replay or a broken clock


@dataclass(frozen=True)
class TrackedEvent:
    """One thing a person did, to become an activity of theirs (or wait, anonymous)."""

    kind: str  # page_visit, download, video, webinar, email_click, event
    occurred_at: datetime  # aware, UTC
    dedup_key: str  # the same key twice is one activity
    source: str  # "web:<site>", "link:<campaign>", "import:<name>"
    detail: str  # what a person reads in the lead's history
    text: str  # what text rules read: title and the words of the path
    fields: dict[str, str] = field(default_factory=dict)  # page_url, utm_*, event, …
    email: str | None = None
    visitor: str | None = None
    lead_id: int | None = None  # known from a signed link


@dataclass(frozen=True)
class Identity:
    """A visitor said who they are: an address, or a lead through a signed token."""

    visitor: str
    email: str | None = None
    lead_id: int | None = None


@dataclass
class Batch:
    events: list[TrackedEvent] = field(default_factory=list)
    identities: list[Identity] = field(default_factory=list)
    dropped: Counter[str] = field(default_factory=Counter)


def parse_json(body: bytes) -> dict[str, Any]:
    """The request body as a JSON object; ParseError for anything else (nesting bombs, huge
    numbers and invalid UTF-8 included)."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as e:
        raise ParseError(f"body is not valid JSON: {str(e)[:100]}") from None
    if not isinstance(data, dict):
        raise ParseError("body must be a JSON object")
    return data


def events_of(payload: Mapping[str, Any]) -> list[Any]:
    """The batch's events: its `events` list, or the object itself as one event."""
    events = payload.get("events")
    if events is None:
        return [payload] if "type" in payload else []
    if not isinstance(events, list):
        raise ParseError("events must be a list")
    return events


def read_batch(
    payload: Mapping[str, Any],
    *,
    site: str,
    now: datetime,
    consent_required: bool = False,
    max_age: timedelta | None = MAX_AGE,
    read_token: Callable[[str], int | None] | None = None,
) -> Batch:
    """The events of one batch from a site's pages. `read_token` turns a signed identify token
    into a lead id (None when forged or expired)."""
    batch = Batch()
    defaults = {k: payload.get(k) for k in ("email", "visitor", "consent")}
    for raw in events_of(payload):
        if not isinstance(raw, dict):
            batch.dropped["invalid"] += 1
            continue
        event = {**defaults, **{k: v for k, v in raw.items() if v is not None}}
        if consent_required and event.get("consent") is not True:
            batch.dropped["consent"] += 1
            continue
        try:
            read = read_event(event, site=site, now=now, max_age=max_age, read_token=read_token)
        except Dropped as e:
            batch.dropped[e.reason] += 1
            continue
        if isinstance(read, Identity):
            batch.identities.append(read)
        else:
            batch.events.append(read)
    return batch


class Dropped(Exception):
    """An event not recorded, and why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def read_event(
    event: Mapping[str, Any],
    *,
    site: str,
    now: datetime,
    max_age: timedelta | None = MAX_AGE,
    read_token: Callable[[str], int | None] | None = None,
    channel: str = "web",
) -> TrackedEvent | Identity:
    """One event object; raises Dropped with the reason ("invalid", "stale", "unidentified").
    Its source is `<channel>:<site>` ("web:www", "import:hubspot")."""
    kind_name = _text(event.get("type"), 40).lower()
    visitor = _visitor(event.get("visitor"))
    email = _email(event.get("email"))
    if kind_name == IDENTIFY:
        lead_id = None
        token = event.get("token")
        if isinstance(token, str) and token and read_token is not None:
            lead_id = read_token(token[:500])
            if lead_id is None:
                raise Dropped("invalid")
        if visitor is None or (email is None and lead_id is None):
            raise Dropped("invalid")
        return Identity(visitor, email=email, lead_id=lead_id)
    kind = KINDS.get(kind_name)
    if kind is None:
        raise Dropped("invalid")
    if email is None and visitor is None:
        raise Dropped("unidentified")
    when = _when(event.get("ts"), now=now)
    if max_age is not None and when < now - max_age:
        raise Dropped("stale")
    url = _url(event.get("url"))
    if kind in ("page_visit", "download") and url is None:
        raise Dropped("invalid")
    title = _text(event.get("title"), 200)
    fields = _props(event.get("props"))
    if url:
        fields["page_url"] = url
        fields.update(utm_of(url))
    referrer = _url(event.get("referrer"))
    if referrer:
        fields["referrer"] = referrer
    name = _text(event.get("name"), 60)
    if kind == "event":
        if not name or not NAME.match(name):
            raise Dropped("invalid")
        fields["event"] = name
    for key in ("campaign", "percent"):
        value = _text(event.get(key), 100)
        if value:
            fields[key] = value
    detail = name or title or (url or "")
    event_id = event.get("id")
    if isinstance(event_id, str) and EVENT_ID.match(event_id):
        dedup = f"ev:{site}:{event_id}"
    else:  # no id: the same content at the same moment is one event
        seen = [site, email or visitor, kind, url, name, when.isoformat()]
        dedup = "ev:" + hashlib.sha256(json.dumps(seen).encode()).hexdigest()
    return TrackedEvent(
        kind=kind,
        occurred_at=when,
        dedup_key=dedup[:300],
        source=f"{channel}:{site}"[:100],
        detail=detail[:500],
        text=" ".join(filter(None, [name, title, path_words(url)])),
        fields=fields,
        email=email,
        visitor=visitor,
    )


def utm_of(url: str) -> dict[str, str]:
    """The utm_* parameters of a page address (the campaign that brought the visitor)."""
    query = urlsplit(url).query
    out: dict[str, str] = {}
    for key, value in parse_qsl(query, max_num_fields=100):
        key = snake(key)
        if key.startswith("utm_") and len(key) > 4 and value.strip() and key not in out:
            out[key] = single_line(value, 200)
    return out


def path_words(url: str | None) -> str:
    """A page's path as words (`/pricing/enterprise-plan` -> "pricing enterprise plan"), so text
    rules can match pages; the host is left out (every page of the site has it)."""
    if not url:
        return ""
    path = unquote(urlsplit(url).path)
    return " ".join(re.split(r"[/_.\-+]+", path)).strip()[:300]


def _text(value: Any, limit: int) -> str:
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, int | float):
        return "" if isinstance(value, float) and not math.isfinite(value) else str(value)[:limit]
    return single_line(value, limit) if isinstance(value, str) else ""


def _visitor(value: Any) -> str | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str) or not VISITOR.match(value):
        raise Dropped("invalid")
    return value


def _email(value: Any) -> str | None:
    if value in (None, ""):
        return None
    checked = _checked(value[:320]) if isinstance(value, str) else None
    if checked is None:
        raise Dropped("invalid")
    return checked


@functools.lru_cache(maxsize=1024)
def _checked(value: str) -> str | None:
    """The address normalised, None when invalid: a batch names its person on every event, and
    email-validator costs most of the reading (about 0.8 ms a call)."""
    try:
        return check_email(value)
    except FieldError:
        return None


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _url(value: Any) -> str | None:
    """An http(s) address as sent, or None: no other scheme, no credentials, no control chars."""
    if not isinstance(value, str) or not value or len(value) > URL_LIMIT:
        return None
    if _CONTROL.search(value):
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        return None
    return value


def _props(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    out: dict[str, str] = {}
    for key, inner in list(value.items())[:MAX_PROPS]:
        name = snake(str(key))[:40]  # never "_…": a property cannot pass for our own fields
        text = _text(inner, 200)
        if name and text:
            out[name] = text
    return out


def _when(value: Any, *, now: datetime) -> datetime:
    """The event's time: epoch milliseconds (or seconds) or ISO 8601; ours when absent or
    unreadable; never later than ours plus a little skew."""
    when = parse_time(value)
    if when is None or when > now + CLOCK_SKEW:
        return now
    return min(when, now)


def parse_time(value: Any) -> datetime | None:
    """Epoch milliseconds or seconds, or an ISO 8601 date or time (UTC when it has no zone)."""
    try:
        if isinstance(value, bool):
            return None
        if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.match(value)):
            number = float(value)
            if not math.isfinite(number) or number <= 0:
                return None
            return datetime.fromtimestamp(number / 1000 if number > 1e11 else number, tz=UTC)
        if isinstance(value, str) and value.strip():
            when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return None


_NUMBER = re.compile(r"^\s*\d{9,16}(?:\.\d+)?\s*$")
