"""Ingest: parsers (pure functions over bytes) and receivers (SMTP, pipe, HTTP) that feed one pipeline."""
