"""rate_bucket and replay_token: rate limits and webhook replay protection shared by processes

Revision ID: v6_intake_shared_limits
Revises: t1_tracking
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "v6_intake_shared_limits"
down_revision: str | Sequence[str] | None = "t1_tracking"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rate_bucket",
        sa.Column("bucket", sa.String(length=100), nullable=False),
        sa.Column("client", sa.String(length=200), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("updated", sa.Float(), nullable=False),
        sa.Column("granted", sa.Integer(), nullable=False),
        sa.Column("full_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("bucket", "client"),
    )
    op.create_index("ix_rate_bucket_full_at", "rate_bucket", ["full_at"])
    op.create_table(
        "replay_token",
        sa.Column("scope", sa.String(length=40), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("expires", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "token"),
    )
    op.create_index("ix_replay_token_expires", "replay_token", ["expires"])


def downgrade() -> None:
    op.drop_index("ix_replay_token_expires", table_name="replay_token")
    op.drop_table("replay_token")
    op.drop_index("ix_rate_bucket_full_at", table_name="rate_bucket")
    op.drop_table("rate_bucket")
