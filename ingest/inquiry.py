"""What every way in produces: an Inquiry to store, or a reason why the input is not a lead.

Readers (email, forms, provider webhooks) are pure functions that return one of these; the pipeline
stores them. Nothing here does I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

# Kinds of activity an inquiry records; scoring rules match on these names.
ActivityKind = Literal[
    "email_inquiry",  # a first or new email from the person
    "email_reply",  # a reply in an existing conversation (Re: / In-Reply-To)
    "form_submission",
    "page_visit",
    "download",
    "video",  # watched a video (tracking: docs/tracking.md)
    "webinar",
    "email_click",  # followed a tracked link
    "event",  # a custom event a site sends
    "call",  # logged by a rep (Slack: Log activity)
    "meeting",
    "demo",
]

# A browser's first-party visitor id (the tracking script's cookie), as forms and events carry it.
VISITOR_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
VISITOR_FIELDS = ("_lb_vid", "lb_vid")  # the hidden form field the script and the embed add

# Why an input is archived without becoming a lead.
NotALeadKind = Literal[
    "auto_reply",  # RFC 3834 Auto-Submitted, X-Autoreply, vacation subjects
    "bounce",  # multipart/report, mailer-daemon, postmaster
    "bulk",  # Precedence: bulk/list/junk, List-Id, List-Unsubscribe
    "internal",  # sent by one of our own domains and not a forward
    "review",  # looks like a lead but needs a person (forward without a findable original sender)
    "spam",  # a form whose honeypot field was filled
]


@dataclass(frozen=True)
class Inquiry:
    """One person's inquiry, read from an email, a form or a webhook, ready to store."""

    email: str  # validated, normalised (lower-case domain); the lead's identity
    kind: ActivityKind
    source: (
        str  # channel and detail: "email", "form:pricing", "webhook:typeform", "inbound:mailgun"
    )
    occurred_at: datetime  # aware, UTC
    dedup_key: str  # "msgid:<…>" or "sha256:…": the same key twice is one activity
    name: str | None = None
    company: str | None = None
    title: str | None = None
    phone: str | None = None  # E.164 when it could be parsed, else None
    country: str | None = None  # ISO 3166 alpha-2 when known
    subject: str | None = None
    text: str = ""  # the inquiry itself: quotes and signature removed
    forwarded_by: str | None = None  # the rep's address when a rep forwarded it
    fields: dict[str, str] = field(default_factory=dict)  # form fields we did not map, utm_*, page


@dataclass(frozen=True)
class NotALead:
    """Input that is archived but never becomes a lead, with the reason a person can read."""

    kind: NotALeadKind
    reason: str


@dataclass(frozen=True)
class ReadContext:
    """What readers may know beyond the bytes: configuration, never I/O handles."""

    internal_domains: frozenset[str] = frozenset()
    max_parts: int = 1000
    options: dict[str, Any] = field(default_factory=dict)  # reader-specific (form mappings, …)
