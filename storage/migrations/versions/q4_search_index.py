"""lead search index (SQLite FTS5 trigram, PostgreSQL pg_trgm) and funnel indexes

Revision ID: q4_search
Revises: 0001
Create Date: 2026-11-24 10:00:00

SQLite: an FTS5 external-content table `lead_search` over lead(name, company, email) with the
trigram tokenizer (SQLite >= 3.34), kept in sync by triggers. When this SQLite lacks FTS5 or the
trigram tokenizer, nothing is created and storage.search falls back to a LIKE scan.

PostgreSQL: `CREATE EXTENSION IF NOT EXISTS pg_trgm` (needs a role allowed to create it: a
superuser, or on PG >= 13 the database owner, since pg_trgm is a trusted extension) and one GIN
trigram index on lower(name || company || email). Domain lookups use ix_lead_domain.
"""

from collections.abc import Sequence

from alembic import op

from storage.search import PG_SEARCH_DDL as PG_DDL
from storage.search import SQLITE_SEARCH_DDL, sqlite_has_trigram

revision: str = "q4_search"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The DDL lives in storage.search, which also restores the SQLite triggers if a later batch
# migration rebuilds the lead table (dropping a table drops its triggers).
SQLITE_DDL = (*SQLITE_SEARCH_DDL, "INSERT INTO lead_search(lead_search) VALUES ('rebuild')")


def upgrade() -> None:
    bind = op.get_bind()
    # Funnel and Slack queries: activities by kind in a time window, announced leads by score.
    op.create_index("ix_activity_kind_occurred_at", "activity", ["kind", "occurred_at"])
    op.create_index("ix_lead_status_score", "lead", ["status", "score"])
    op.create_index("ix_lead_owner_claimed_at", "lead", ["owner", "claimed_at"])  # a rep's claims
    if bind.dialect.name == "sqlite":
        if sqlite_has_trigram(bind):
            for ddl in SQLITE_DDL:
                bind.exec_driver_sql(ddl)
    elif bind.dialect.name == "postgresql":
        for ddl in PG_DDL:
            bind.exec_driver_sql(ddl)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for name in ("lead_search_ai", "lead_search_ad", "lead_search_au"):
            bind.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
        bind.exec_driver_sql("DROP TABLE IF EXISTS lead_search")
    elif bind.dialect.name == "postgresql":
        bind.exec_driver_sql("DROP INDEX IF EXISTS ix_lead_search_trgm")
    op.drop_index("ix_lead_owner_claimed_at", table_name="lead")
    op.drop_index("ix_lead_status_score", table_name="lead")
    op.drop_index("ix_activity_kind_occurred_at", table_name="activity")
