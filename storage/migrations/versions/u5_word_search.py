"""lead word index: whole words of any length (HP, 3M, EY), which trigrams cannot see

Revision ID: u5_word_search
Revises: q4_search

SQLite: an FTS5 external-content table `lead_words` over lead(name, company, email) with the
unicode61 tokenizer (case and diacritics folded), kept in sync by triggers like lead_search;
nothing is created when this SQLite has no FTS5. PostgreSQL: a GIN index on
to_tsvector('simple', name || company || email).
"""

from collections.abc import Sequence

from alembic import op

from storage.search import PG_WORDS_DDL, SQLITE_WORDS_DDL, sqlite_has_trigram

revision: str = "u5_word_search"
down_revision: str | Sequence[str] | None = "q4_search"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        # The same SQLite versions as lead_search, so both indexes exist or neither does.
        if sqlite_has_trigram(bind):
            for ddl in SQLITE_WORDS_DDL:
                bind.exec_driver_sql(ddl)
            bind.exec_driver_sql("INSERT INTO lead_words(lead_words) VALUES ('rebuild')")
    elif bind.dialect.name == "postgresql":
        for ddl in PG_WORDS_DDL:
            bind.exec_driver_sql(ddl)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for name in ("lead_words_ai", "lead_words_ad", "lead_words_au"):
            bind.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
        bind.exec_driver_sql("DROP TABLE IF EXISTS lead_words")
    elif bind.dialect.name == "postgresql":
        bind.exec_driver_sql("DROP INDEX IF EXISTS ix_lead_words")
