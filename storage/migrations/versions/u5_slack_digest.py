"""slack_digest_item: announcements a burst sent out as one digest message

Revision ID: u5_slack_digest
Revises: c12_lifecycle

Also an index on slack_post(channel, created_at): counting a channel's recent announcements is
how a burst is noticed.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.models import UTCDateTime

revision: str = "u5_slack_digest"
down_revision: str | Sequence[str] | None = "c12_lifecycle"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "slack_digest_item",
        sa.Column("outbox_id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), sa.ForeignKey("lead.id"), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("queued_at", UTCDateTime(), nullable=False),
        sa.Column("digest_id", sa.Integer(), nullable=True),
        sa.Column("ts", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("outbox_id"),
    )
    op.create_index("ix_slack_digest_item_lead_id", "slack_digest_item", ["lead_id"])
    op.create_index("ix_slack_digest_item_digest_id", "slack_digest_item", ["digest_id"])
    op.create_index(
        "ix_slack_digest_item_channel_queued_at", "slack_digest_item", ["channel", "queued_at"]
    )
    op.create_index("ix_slack_post_channel_created_at", "slack_post", ["channel", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_slack_post_channel_created_at", table_name="slack_post")
    op.drop_index("ix_slack_digest_item_channel_queued_at", table_name="slack_digest_item")
    op.drop_index("ix_slack_digest_item_digest_id", table_name="slack_digest_item")
    op.drop_index("ix_slack_digest_item_lead_id", table_name="slack_digest_item")
    op.drop_table("slack_digest_item")
