"""lead.reason_code and lead.deal_value: why a lead was lost or disqualified, what a win is worth

Revision ID: c12_lifecycle
Revises: s4_slack
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c12_lifecycle"
down_revision: str | Sequence[str] | None = "s4_slack"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("lead") as batch:
        batch.add_column(sa.Column("reason_code", sa.String(length=80), nullable=True))
        batch.add_column(sa.Column("deal_value", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("lead") as batch:
        batch.drop_column("deal_value")
        batch.drop_column("reason_code")
