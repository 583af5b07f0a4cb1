"""Page addresses, and the signed link that opens one for one person (bot.pages.access)."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import quote

from bot.pages.access import ALL, make_token
from bot.runtime import Runtime
from storage.models import utcnow

DASHBOARD = "/pages/dashboard"
LEADS = "/pages/leads/"
CSS = "/pages/pages.css"
MAX_HOURS = 24 * 90  # a link is a key to every lead it opens: it never lives for long


def slack_url(url: str) -> str:
    """`url` with every character Slack's `<url|label>` syntax or a Block Kit URL could misread
    percent-encoded (`|`, `<`, `>`, spaces): a LEADBOT_PUBLIC_URL path may hold any of them."""
    return quote(url, safe=":/?=.-_~%#+,;@!$'()*[]")


def lead_path(lead_id: int) -> str:
    return f"{LEADS}{lead_id}"


def with_token(path: str, token: str) -> str:
    return f"{path}?t={quote(token, safe='.-_')}"


def page_link(
    rt: Runtime,
    *,
    person: str,
    lead_id: int | None = None,
    hours: float | None = None,
    base: str | None = None,
    now: datetime | None = None,
) -> str:
    """An absolute link for `person` to one lead's page (`lead_id`), or to the dashboard and
    every lead page, valid `hours` (default LEADBOT_PAGES_LINK_HOURS). `base` defaults to
    LEADBOT_PUBLIC_URL. Raises ValueError for hours out of range."""
    hours = rt.settings.pages_link_hours if hours is None else hours
    if not 0 < hours <= MAX_HOURS:
        raise ValueError(f"a page link lives more than 0 and at most {MAX_HOURS} hours")
    expires = (now or utcnow()) + timedelta(hours=hours)
    scope: int | str = lead_id if lead_id is not None else ALL
    token = make_token(rt.secret.key(), person=person, scope=scope, expires_at=expires)
    path = lead_path(lead_id) if lead_id is not None else DASHBOARD
    root = (base or rt.settings.public_url or "").rstrip("/")
    return root + with_token(path, token)
