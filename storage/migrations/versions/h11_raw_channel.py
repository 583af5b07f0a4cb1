"""raw_input.channel widened to 100: "form:" and a 64-character form key did not fit in 40

Revision ID: h11_raw_channel
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "h11_raw_channel"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # SQLite does not enforce varchar lengths: copying the archive table would change nothing.
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column(
            "raw_input", "channel", type_=sa.String(length=100), existing_nullable=False
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column(
            "raw_input", "channel", type_=sa.String(length=40), existing_nullable=False
        )
