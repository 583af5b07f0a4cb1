"""Rate limits and one-time tokens kept in the database: shared by every process that uses it.

Several `serve` processes on one database must hold one limit and refuse one replay between
them, so the state is a row and each change is one atomic statement (INSERT … ON CONFLICT DO
UPDATE … RETURNING, on PostgreSQL and on SQLite alike): two processes taking the last token of a
bucket at the same moment are serialised by the row, and exactly one gets it.

A bucket holds `burst` tokens, refilled at `rate` per second; a take spends one or says how long
to wait. Times are seconds since the epoch (the processes' clocks), kept as numbers so the
arithmetic is the same SQL on both backends.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from storage.db import table
from storage.models import RateBucket, ReplayToken

_BUCKET = table(RateBucket)
_TOKEN = table(ReplayToken)
MAX_CLIENT = 200


@dataclass(frozen=True)
class Take:
    """One request for a token of `bucket` by `client`."""

    bucket: str
    client: str
    rate: float  # tokens per second
    burst: float


def take(session: Session, wanted: Take, *, now: float) -> float:
    """0.0 when a token was spent, else seconds until one will be there."""
    conn = session.connection()
    bucket, client = wanted.bucket[:100], wanted.client[:MAX_CLIENT]
    rate, burst = float(wanted.rate), float(wanted.burst)
    c = _BUCKET.c
    elapsed = sa.case((c.updated < now, now - c.updated), else_=0.0)
    refilled = c.tokens + elapsed * rate
    avail = sa.case((refilled > burst, burst), else_=refilled)
    left = sa.case((avail >= 1.0, avail - 1.0), else_=avail)
    stmt = _insert(conn, _BUCKET).values(
        bucket=bucket,
        client=client,
        tokens=burst - 1.0,
        updated=now,
        granted=True,
        full_at=now + 1.0 / rate,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["bucket", "client"],
        set_={
            "tokens": left,
            "updated": now,
            "granted": avail >= 1.0,
            "full_at": now + (burst - left) / rate,
        },
    ).returning(c.tokens, c.granted)
    tokens, granted = conn.execute(stmt).one()
    return 0.0 if granted else (1.0 - float(tokens)) / rate


def claim_once(session: Session, scope: str, token: str, *, now: float, ttl: float) -> bool:
    """True when `token` was not claimed in `scope` within the last `ttl` seconds (it is now)."""
    conn = session.connection()
    c = _TOKEN.c
    stmt = _insert(conn, _TOKEN).values(scope=scope, token=_digest(token), expires=now + ttl)
    stmt = stmt.on_conflict_do_update(
        index_elements=["scope", "token"],
        set_={"expires": now + ttl},
        where=c.expires <= now,  # claimed before, but that claim has run out
    ).returning(c.token)
    return conn.execute(stmt).first() is not None


def release(session: Session, scope: str, token: str) -> None:
    """Forget a claim (what it guarded was not done: the sender may try again)."""
    session.connection().execute(
        sa.delete(_TOKEN).where(_TOKEN.c.scope == scope, _TOKEN.c.token == _digest(token))
    )


def prune(session: Session, *, now: float) -> int:
    """Forget full buckets and expired tokens; how many rows went."""
    conn = session.connection()
    gone = conn.execute(sa.delete(_BUCKET).where(_BUCKET.c.full_at < now)).rowcount
    gone += conn.execute(sa.delete(_TOKEN).where(_TOKEN.c.expires < now)).rowcount
    return int(gone)


def _digest(token: str) -> str:
    """Tokens are kept as their SHA-256: a fixed size whatever a sender puts there."""
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def _insert(conn: sa.Connection, target: sa.Table) -> Any:
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    return insert(target)
