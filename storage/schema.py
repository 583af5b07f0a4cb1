"""Is the database at the newest migrations? Answered without Alembic (its import, Mako and Pygments
cost about a tenth of a second, paid by every `leadbot ingest` a mail server pipes a message to).

The head revisions are read from the migration files themselves (`revision` and `down_revision`,
the two assignments every Alembic script has) and compared with the `alembic_version` rows. Any
doubt (no table yet, a file this reader does not understand) answers False, and the caller runs
the real upgrade (storage.migrate), which knows better.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import sqlalchemy as sa

from storage.db import Store

VERSIONS = Path(__file__).with_name("migrations") / "versions"


def _assigned(tree: ast.Module, name: str) -> object:
    target: ast.expr
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id == name:
            return ast.literal_eval(value)
    raise ValueError(f"no {name}")


@cache
def heads(versions: Path = VERSIONS) -> frozenset[str] | None:
    """The revisions no other migration builds on; None when a file cannot be read this way."""
    revisions: set[str] = set()
    below: set[str] = set()
    try:
        for path in versions.glob("*.py"):
            if path.name.startswith("__"):
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            revision, down = _assigned(tree, "revision"), _assigned(tree, "down_revision")
            if not isinstance(revision, str):
                return None
            revisions.add(revision)
            if isinstance(down, str):
                below.add(down)
            elif isinstance(down, tuple | list):
                below.update(str(d) for d in down)
            elif down is not None:
                return None
    except (OSError, SyntaxError, ValueError):
        return None
    return frozenset(revisions - below) or None


def at_heads(store: Store) -> bool:
    """True when the database has every head revision and nothing else (no upgrade to run)."""
    wanted = heads()
    if wanted is None:
        return False
    try:
        with store.engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars()
            current = frozenset(rows)
    except sa.exc.DBAPIError:  # no table yet, or no database: the upgrade says which
        return False
    return current == wanted
