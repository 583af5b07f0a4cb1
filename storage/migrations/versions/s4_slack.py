"""slack tables: seen events, posted announcements, App Home viewers, job cursors

Revision ID: s4_slack
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.models import UTCDateTime

revision: str = "s4_slack"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "slack_event",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("seen_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_index("ix_slack_event_seen_at", "slack_event", ["seen_at"])
    op.create_table(
        "slack_post",
        sa.Column("outbox_id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), sa.ForeignKey("lead.id"), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("ts", sa.String(length=32), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("outbox_id"),
    )
    op.create_index("ix_slack_post_lead_id", "slack_post", ["lead_id"])
    op.create_table(
        "slack_home_user",
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("opened_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("user_id"),
    )
    op.create_table(
        "slack_cursor",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("slack_cursor")
    op.drop_table("slack_home_user")
    op.drop_index("ix_slack_post_lead_id", table_name="slack_post")
    op.drop_table("slack_post")
    op.drop_index("ix_slack_event_seen_at", table_name="slack_event")
    op.drop_table("slack_event")
