"""lead.score_plan: the time-free scoring plan a decay-only rescore reads instead of activities

Revision ID: r4_score_plan
Revises: r3_scoring_state
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.models import UTCDateTime

revision: str = "r4_score_plan"
down_revision: str | Sequence[str] | None = "r3_scoring_state"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("lead") as batch:
        batch.add_column(sa.Column("score_plan", sa.Text(), nullable=True))
        batch.add_column(sa.Column("score_plan_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("lead") as batch:
        batch.drop_column("score_plan_at")
        batch.drop_column("score_plan")
