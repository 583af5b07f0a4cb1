"""Which database a URL names, as a short fingerprint two processes can compare without sharing
the URL (its password, its host names) over a socket.

`leadbot ingest` hands a piped message to a running `serve` only when that server writes to the
same database (ingest.smtp advertises its fingerprint to local clients, bot.handoff compares):
a server on the same port with another database must never receive it. Standard library only:
the client side runs before SQLAlchemy is imported.
"""

from __future__ import annotations

import hashlib
import os
from urllib.parse import unquote, urlsplit

DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306, "mariadb": 3306}
# The EHLO/LHLO keyword that carries the fingerprint (ingest.smtp says it, bot.handoff reads it).
STORE_KEYWORD = "XLEADBOT-STORE"


def database_identity(url: str, *, cwd: str | None = None) -> str | None:
    """`sqlite:/abs/path` or `postgresql://user@host:5432/db` (no password, driver or options);
    None for a database no other process can see (SQLite in memory) or a URL not understood."""
    scheme, sep, rest = url.strip().partition("://")
    if not sep or not scheme:
        return None
    dialect = scheme.split("+", 1)[0].lower()
    if dialect == "sqlite":
        path = unquote(rest[1:].split("?", 1)[0]) if rest.startswith("/") else ""
        if not path or path.startswith(":memory:") or "mode=memory" in rest:
            return None
        path = os.path.join(cwd or os.getcwd(), path)
        return f"sqlite:{os.path.realpath(path)}"
    try:
        parts = urlsplit(f"{dialect}://{rest}")
        port = parts.port or DEFAULT_PORTS.get(dialect)
    except ValueError:
        return None
    host = (parts.hostname or "localhost").lower()
    user = unquote(parts.username or "")
    database = unquote(parts.path.lstrip("/"))
    return f"{dialect}://{user}@{host}:{port}/{database}"


def database_fingerprint(url: str, *, cwd: str | None = None) -> str | None:
    """The first 16 hex digits of the identity's SHA-256; None where `database_identity` is."""
    identity = database_identity(url, cwd=cwd)
    if identity is None:
        return None
    return hashlib.sha256(identity.encode("utf-8")).hexdigest()[:16]
