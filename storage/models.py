"""Tables: leads, their activities and notes, the raw-input archive, the Slack outbox and the
small state tables of rescoring and of the Slack feature (every table in one module, so Alembic
and `SQLModel.metadata` see them all when this one is imported)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlmodel import Field, SQLModel
from sqlmodel._compat import SQLModelConfig


def parse_time(value: Any) -> datetime | None:
    """A stored UTC datetime as the driver returns it (text on SQLite) → aware datetime."""
    if value is None or isinstance(value, datetime):
        return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite keeps no zone, so naive values are read as UTC)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        zone = value.tzinfo
        if zone is UTC:  # PostgreSQL's answer (the session's zone is UTC: storage.db)
            return value
        return value.replace(tzinfo=UTC) if zone is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class LeadStatus(StrEnum):
    NURTURING = "nurturing"
    ANNOUNCED = "announced"
    CLAIMED = "claimed"
    WON = "won"
    LOST = "lost"
    DISQUALIFIED = "disqualified"


class RawStatus(StrEnum):
    PENDING = "pending"  # committed, not processed yet (start-up finishes these)
    PROCESSED = "processed"  # became (or added to) a lead
    DUPLICATE = "duplicate"  # same Message-ID / bytes as an earlier input
    ARCHIVED = "archived"  # auto-reply, bounce, bulk, internal: kept, never a lead
    REVIEW = "review"  # needs a person (a forward whose original sender was not found)
    FAILED = "failed"  # could not be parsed; reason kept; `leadbot reprocess` retries


def _json() -> Any:
    return Field(default_factory=dict, sa_type=sa.JSON)


class Table(SQLModel):
    """The tables' base: pydantic builds a model's validator on first use, not at import (a table
    model is constructed without validation; building all of them cost every command ~20 ms)."""

    model_config = SQLModelConfig(from_attributes=True, defer_build=True)


class Lead(Table, table=True):
    __tablename__ = "lead"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=320, unique=True)  # normalised lower-case: the identity
    domain: str = Field(default="", max_length=255, index=True)
    name: str | None = Field(default=None, max_length=200)
    company: str | None = Field(default=None, max_length=200)
    title: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=32)  # E.164
    country: str | None = Field(default=None, max_length=2)
    source: str = Field(default="", max_length=100)  # first way in
    latest_source: str = Field(default="", max_length=100)
    # First and latest touch: channel, form or provider, utm_*, page (migration f5_source_touch).
    first_touch: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    latest_touch: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    forwarded_by: str | None = Field(default=None, max_length=320)
    status: str = Field(default=LeadStatus.NURTURING, max_length=20, index=True)
    status_reason: str | None = Field(default=None, max_length=500)
    # Why a lead was lost or disqualified, as one of the configured reasons, so it can be counted;
    # and what a won lead is worth (migration c12_lifecycle).
    reason_code: str | None = Field(default=None, max_length=80)
    deal_value: float | None = None
    temperature: str = Field(default="cold", max_length=10, index=True)
    score: float = Field(default=0.0, index=True)
    fit_score: float = 0.0
    engagement_score: float = 0.0
    grade: str | None = Field(default=None, max_length=2)
    product: str | None = Field(default=None, max_length=100)
    reasons: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    # Every product in play and what the lead scores for it (migration f14_product_scores):
    # {"analytics": 71.0, "integrations": 48.0}; `score` and `product` are the best of these.
    product_scores: dict[str, float] | None = Field(default_factory=dict, sa_type=sa.JSON)
    owner: str | None = Field(default=None, max_length=64, index=True)
    fields: dict[str, Any] = _json()  # everything else we know (company_size, utm_*, …)
    edited_fields: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_activity_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    announced_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    claimed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    nurtured_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    slack_channel: str | None = Field(default=None, max_length=32)
    slack_ts: str | None = Field(default=None, max_length=32)
    # Time-free scoring plan (bot.jobs.decay), valid while score_plan_at == updated_at.
    score_plan: str | None = Field(default=None, sa_type=sa.Text)
    score_plan_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class LeadRow:
    """A lead's columns as plain attributes, for the intake hot path, where building and flushing
    ORM objects cost more than recording the inquiry itself (storage.batch).

    `COLUMNS` names the columns of `Lead` the intake reads and writes; their types are `Lead`'s.
    Setting an attribute to a different value marks its column changed, as the ORM would;
    `storage.batch.write_leads` sends the changed columns back, and nothing else.
    """

    COLUMNS = (
        "id", "email", "domain", "name", "company", "title", "phone", "country", "source",
        "latest_source", "first_touch", "latest_touch", "forwarded_by", "status", "temperature",
        "score", "fit_score", "engagement_score", "grade", "product", "reasons", "product_scores",
        "fields",
        "edited_fields", "updated_at", "last_activity_at", "nurtured_at", "closed_at",
    )  # fmt: skip

    changed: set[str]

    def __init__(self, values: dict[str, Any]) -> None:
        object.__setattr__(self, "changed", set())
        for name in self.COLUMNS:
            object.__setattr__(self, name, values[name])

    def __getattr__(self, name: str) -> Any:  # only for names not set above: not a column
        raise AttributeError(f"LeadRow has no column {name!r} (see LeadRow.COLUMNS)")

    def __setattr__(self, name: str, value: Any) -> None:
        if getattr(self, name) != value:
            self.changed.add(name)
        object.__setattr__(self, name, value)


class Activity(Table, table=True):
    __tablename__ = "activity"

    id: int | None = Field(default=None, primary_key=True)
    lead_id: int = Field(foreign_key="lead.id", index=True)
    kind: str = Field(max_length=40)  # email_inquiry, form_submission, claimed, score_changed, …
    occurred_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    actor: str = Field(default="system", max_length=320)
    detail: str = Field(default="")
    data: dict[str, Any] = _json()
    source: str = Field(default="", max_length=100)
    raw_id: int | None = Field(default=None, foreign_key="raw_input.id")
    # Same Message-ID or same bytes twice is one activity: the database settles it.
    dedup_key: str | None = Field(default=None, max_length=300, unique=True)


class Note(Table, table=True):
    __tablename__ = "note"

    id: int | None = Field(default=None, primary_key=True)
    lead_id: int = Field(foreign_key="lead.id", index=True)
    author: str = Field(max_length=320)
    text: str
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class RawInput(Table, table=True):
    """Every accepted input, committed before the sender is told it was accepted."""

    __tablename__ = "raw_input"

    id: int | None = Field(default=None, primary_key=True)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    kind: str = Field(default="email", max_length=20)  # email | form: picks the reader
    channel: str = Field(
        default="smtp", max_length=100
    )  # smtp, pipe, imap, inbound:mailgun, form:…
    sha256: str = Field(max_length=64, unique=True)
    message_id: str | None = Field(default=None, max_length=998, index=True)
    content: bytes = Field(sa_type=sa.LargeBinary)
    content_type: str | None = Field(default=None, max_length=200)
    size: int = 0
    envelope: dict[str, Any] = _json()  # mail_from, rcpt_to, peer, headers of a form post
    status: str = Field(default=RawStatus.PENDING, max_length=20, index=True)
    reason: str | None = None
    lead_id: int | None = Field(default=None, foreign_key="lead.id")
    attempts: int = 0
    processed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Set while a process reads it (storage.raw.claim_raws): nobody else takes it until then
    # plus the lease, so the pending sweep never processes what a worker is processing.
    claimed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class OutboxMessage(Table, table=True):
    """An outbound Slack call waiting to be made: durable, retried, sent once."""

    __tablename__ = "outbox"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=40)  # announce, thread, update_card, …
    lead_id: int | None = Field(default=None, foreign_key="lead.id", index=True)
    payload: dict[str, Any] = _json()
    dedup_key: str | None = Field(default=None, max_length=200, unique=True)
    status: str = Field(default="pending", max_length=20)  # pending, sent, dead
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    locked_by: str | None = Field(default=None, max_length=100)
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str | None = None
    result: dict[str, Any] = _json()
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


_outbox = OutboxMessage.__table__  # type: ignore[attr-defined]
sa.Index("ix_outbox_due", _outbox.c.status, _outbox.c.next_attempt_at)
# Funnel counts by kind and window, hot unclaimed leads, a rep's claims (migration q4_search);
# lead_id too, so the funnel's per-lead milestones read the index alone (f14_product_scores).
sa.Index("ix_activity_kind_occurred_at", Activity.kind, Activity.occurred_at, Activity.lead_id)  # type: ignore[arg-type]
sa.Index("ix_lead_status_score", Lead.status, Lead.score)  # type: ignore[arg-type]
sa.Index("ix_lead_owner_claimed_at", Lead.owner, Lead.claimed_at)  # type: ignore[arg-type]


# A person forgotten with LEADBOT_FORGET_SUPPRESS: a keyed hash of the address, never the address.
class SuppressedAddress(Table, table=True):
    __tablename__ = "suppressed_address"

    digest: str = Field(primary_key=True, max_length=64)  # HMAC-SHA256, storage.privacy
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


# Rescoring: which rules the stored scores and reasons were last computed with.
class ScoringState(Table, table=True):
    """A named value kept between rescoring runs (the fingerprint of the rules last applied)."""

    __tablename__ = "scoring_state"

    name: str = Field(primary_key=True, max_length=40)
    value: str = Field(default="", max_length=200)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


# The Slack feature: seen Events API ids, posted messages, App Home viewers, cursors.
class SlackEvent(Table, table=True):
    """An Events API `event_id` already handled: Slack retries up to 3 times (X-Slack-Retry-Num)."""

    __tablename__ = "slack_event"

    event_id: str = Field(primary_key=True, max_length=64)
    seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)


class SlackPost(Table, table=True):
    """The message an announce outbox row became, so a retried send never posts a second card."""

    __tablename__ = "slack_post"

    outbox_id: int = Field(primary_key=True)
    lead_id: int = Field(foreign_key="lead.id", index=True)
    channel: str = Field(max_length=32)
    ts: str = Field(max_length=32)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class SlackHomeUser(Table, table=True):
    """Someone who opened the App Home: their tab is republished when leads change."""

    __tablename__ = "slack_home_user"

    user_id: str = Field(primary_key=True, max_length=32)
    opened_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class SlackCursor(Table, table=True):
    """How far a periodic job has read (the last activity id threaded into Slack)."""

    __tablename__ = "slack_cursor"

    name: str = Field(primary_key=True, max_length=40)
    value: int = 0


# First-party tracking (docs/tracking.md): visitors known by the random id the site's script
# keeps, and what they did while nobody knew who they were (migration t1_tracking).
class TrackingVisitor(Table, table=True):
    """A browser's visitor id; `lead_id` once the visitor is known (a form, a link, identify)."""

    __tablename__ = "tracking_visitor"

    visitor_id: str = Field(primary_key=True, max_length=64)
    site: str = Field(default="", max_length=64)
    lead_id: int | None = Field(default=None, foreign_key="lead.id", index=True)
    first_seen: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_seen: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    joined_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class AnonymousEvent(Table, table=True):
    """An event of a visitor not known yet: it becomes the lead's activity when they are."""

    __tablename__ = "anonymous_event"

    id: int | None = Field(default=None, primary_key=True)
    visitor_id: str = Field(max_length=64, index=True)
    kind: str = Field(max_length=40)
    occurred_at: datetime = Field(sa_type=UTCDateTime)
    detail: str = Field(default="")
    data: dict[str, Any] = _json()
    source: str = Field(default="", max_length=100)
    # The same key as the activity it becomes: a replay is one row here and one activity there.
    dedup_key: str = Field(max_length=300, unique=True)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)


class SlackDigestItem(Table, table=True):
    """An announcement that went out in a digest rather than as a card of its own (a burst in
    its channel): which digest message holds the lead, so a claim from it updates that line."""

    __tablename__ = "slack_digest_item"

    outbox_id: int = Field(primary_key=True)  # the announce message it stands for
    lead_id: int = Field(foreign_key="lead.id", index=True)
    channel: str = Field(max_length=32)
    queued_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    digest_id: int | None = Field(default=None, index=True)  # the digest outbox message
    ts: str | None = Field(default=None, max_length=32)  # that message in Slack, once posted


class RateBucket(Table, table=True):
    """A token bucket of a rate limit (storage.limits), shared by every process on the database.
    Times are seconds since the epoch, so the SQL of a take is the same on both backends."""

    __tablename__ = "rate_bucket"

    bucket: str = Field(primary_key=True, max_length=100)  # "form:<key>", "events:<site>", …
    client: str = Field(primary_key=True, max_length=200)  # an address, or address and link
    tokens: float
    updated: float  # the last take
    granted: int = 0  # tokens the last take spent
    full_at: float = Field(index=True)  # when the bucket is full again: forgotten after that


class ReplayToken(Table, table=True):
    """A signed webhook's one-time token (storage.limits): the same one twice is a replay."""

    __tablename__ = "replay_token"

    scope: str = Field(primary_key=True, max_length=40)  # "mailgun"
    token: str = Field(primary_key=True, max_length=64)  # sha256 of the token, in hex
    expires: float = Field(index=True)  # seconds since the epoch
