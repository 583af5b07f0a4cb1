"""Tables of the Slack feature: seen Events API ids, posted messages, App Home viewers, cursors."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from storage.models import UTCDateTime, utcnow


class SlackEvent(SQLModel, table=True):
    """An Events API `event_id` already handled: Slack retries up to 3 times (X-Slack-Retry-Num)."""

    __tablename__ = "slack_event"

    event_id: str = Field(primary_key=True, max_length=64)
    seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)


class SlackPost(SQLModel, table=True):
    """The message an announce outbox row became, so a retried send never posts a second card."""

    __tablename__ = "slack_post"

    outbox_id: int = Field(primary_key=True)
    lead_id: int = Field(foreign_key="lead.id", index=True)
    channel: str = Field(max_length=32)
    ts: str = Field(max_length=32)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class SlackHomeUser(SQLModel, table=True):
    """Someone who opened the App Home: their tab is republished when leads change."""

    __tablename__ = "slack_home_user"

    user_id: str = Field(primary_key=True, max_length=32)
    opened_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class SlackCursor(SQLModel, table=True):
    """How far a periodic job has read (the last activity id threaded into Slack)."""

    __tablename__ = "slack_cursor"

    name: str = Field(primary_key=True, max_length=40)
    value: int = 0
