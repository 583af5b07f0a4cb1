"""lead first/latest touch: where a lead came from first and most recently (channel, form, utm)

Revision ID: f5_source_touch
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "f5_source_touch"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("lead") as batch:
        batch.add_column(sa.Column("first_touch", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("latest_touch", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("lead") as batch:
        batch.drop_column("latest_touch")
        batch.drop_column("first_touch")
