"""lead.product_scores: the score of every product in play, not only the best one (issue 14)

Revision ID: f14_product_scores
Revises: u5_slack_digest
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "f14_product_scores"
down_revision: str | Sequence[str] | None = "u5_slack_digest"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Filled by the next rescore: a new plan layout changes the rules fingerprint
    # (bot.jobs.full_path.PLAN_LAYOUT), so every lead is scored again from its activities.
    with op.batch_alter_table("lead") as batch:
        batch.add_column(sa.Column("product_scores", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("lead") as batch:
        batch.drop_column("product_scores")
