"""tracking: visitors (random first-party ids, joined to a lead once known) and their anonymous events

Revision ID: t1_tracking
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.models import UTCDateTime

revision: str = "t1_tracking"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tracking_visitor",
        sa.Column("visitor_id", sa.String(length=64), primary_key=True),
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("lead_id", sa.Integer(), sa.ForeignKey("lead.id"), nullable=True),
        sa.Column("first_seen", UTCDateTime(), nullable=False),
        sa.Column("last_seen", UTCDateTime(), nullable=False),
        sa.Column("joined_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_tracking_visitor_lead_id", "tracking_visitor", ["lead_id"])
    op.create_table(
        "anonymous_event",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("visitor_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("dedup_key", sa.String(length=300), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("dedup_key"),
    )
    op.create_index("ix_anonymous_event_visitor_id", "anonymous_event", ["visitor_id"])
    op.create_index("ix_anonymous_event_received_at", "anonymous_event", ["received_at"])


def downgrade() -> None:
    op.drop_table("anonymous_event")
    op.drop_table("tracking_visitor")
