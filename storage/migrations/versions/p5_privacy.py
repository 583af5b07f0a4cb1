"""suppressed addresses: keyed hashes of forgotten people's addresses (LEADBOT_FORGET_SUPPRESS)

Revision ID: p5_privacy
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.models import UTCDateTime

revision: str = "p5_privacy"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "suppressed_address",
        sa.Column("digest", sa.String(length=64), primary_key=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("suppressed_address")
