"""raw_input.claimed_at: which inputs a worker holds, so the pending sweep leaves them alone

Revision ID: w11_raw_claim_worker
Revises: h11_raw_channel
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.models import UTCDateTime

revision: str = "w11_raw_claim_worker"
down_revision: str | Sequence[str] | None = "h11_raw_channel"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("raw_input", sa.Column("claimed_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("raw_input") as batch:
        batch.drop_column("claimed_at")
