"""Alembic migrations for LeadBot's tables (run by `leadbot db upgrade` and on `serve` start)."""
