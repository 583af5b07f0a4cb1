"""lead.product_scores: the score of every product in play, not only the best one; lead_id in
the activity (kind, occurred_at) index, which the funnel's milestones then read alone (issue 14)

Revision ID: f14_product_scores
Revises: u5_slack_digest
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "f14_product_scores"
down_revision: str | Sequence[str] | None = "u5_slack_digest"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "q4_search"  # the index it widens


def upgrade() -> None:
    # Filled by the next rescore: a new plan layout changes the rules fingerprint
    # (bot.jobs.full_path.PLAN_LAYOUT), so every lead is scored again from its activities.
    with op.batch_alter_table("lead") as batch:
        batch.add_column(sa.Column("product_scores", sa.JSON(), nullable=True))
    # Replaced, not added beside: one index to keep up on every activity insert, as before.
    op.drop_index("ix_activity_kind_occurred_at", table_name="activity")
    op.create_index(
        "ix_activity_kind_occurred_at", "activity", ["kind", "occurred_at", "lead_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_activity_kind_occurred_at", table_name="activity")
    op.create_index("ix_activity_kind_occurred_at", "activity", ["kind", "occurred_at"])
    with op.batch_alter_table("lead") as batch:
        batch.drop_column("product_scores")
