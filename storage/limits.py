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
from collections.abc import Sequence
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


Connectable = Session | sa.Connection


def _conn(session: Connectable) -> sa.Connection:
    return session if isinstance(session, sa.Connection) else session.connection()


def take(session: Connectable, wanted: Take, *, now: float) -> float:
    """0.0 when a token was spent, else seconds until one will be there."""
    return take_many(session, [wanted], now=now)[0]


def take_many(session: Connectable, takes: Sequence[Take], *, now: float) -> list[float]:
    """`take` for each, in order, as if one after the other: one statement per bucket and
    client (the takes of one client in a batch are spent together)."""
    wanted: dict[tuple[str, str, float, float], list[int]] = {}
    for i, t in enumerate(takes):
        key = (t.bucket[:100], t.client[:MAX_CLIENT], float(t.rate), float(t.burst))
        wanted.setdefault(key, []).append(i)
    waits = [0.0] * len(takes)
    conn = _conn(session)
    for (bucket, client, rate, burst), positions in wanted.items():
        count = len(positions)
        tokens, granted = _spend(conn, bucket, client, rate=rate, burst=burst, count=count, now=now)
        # The first `granted` of this client's takes got a token; the others wait for theirs.
        for n, i in enumerate(positions):
            if n >= granted:
                waits[i] = (1.0 + n - granted - tokens) / rate
    return waits


def _spend(
    conn: sa.Connection,
    bucket: str,
    client: str,
    *,
    rate: float,
    burst: float,
    count: int,
    now: float,
) -> tuple[float, int]:
    """Spend up to `count` tokens of a bucket in one atomic upsert: (tokens left, spent)."""
    first = min(count, int(burst))  # a new bucket: full
    params = {
        "b_bucket": bucket,
        "b_client": client,
        "b_rate": rate,
        "b_burst": burst,
        "b_count": count,
        "b_now": now,
        "b_tokens": burst - first,
        "b_first": first,
        "b_full_at": now + first / rate,
    }
    tokens, granted = conn.execute(_spend_statement(conn.dialect.name), params).one()
    return float(tokens), int(granted)


_SPEND: dict[str, Any] = {}  # dialect name -> the statement, built once (it is the hot path)


def _spend_statement(dialect: str) -> Any:
    stmt = _SPEND.get(dialect)
    if stmt is not None:
        return stmt
    c = _BUCKET.c
    now = sa.bindparam("b_now", type_=sa.Float)
    rate = sa.bindparam("b_rate", type_=sa.Float)
    burst = sa.bindparam("b_burst", type_=sa.Float)
    count = sa.bindparam("b_count", type_=sa.Integer)
    elapsed = sa.case((c.updated < now, now - c.updated), else_=0.0)
    refilled = c.tokens + elapsed * rate
    avail = sa.case((refilled > burst, burst), else_=refilled)
    # Whole tokens: CAST truncates on SQLite (whose floor() is not always built in), rounds on
    # PostgreSQL; the tokens are never negative.
    whole = sa.cast(sa.func.floor(avail) if dialect == "postgresql" else avail, sa.Integer)
    spent = sa.case((whole > count, count), else_=whole)
    stmt = (
        _insert_for(dialect, _BUCKET)
        .values(
            bucket=sa.bindparam("b_bucket"),
            client=sa.bindparam("b_client"),
            tokens=sa.bindparam("b_tokens", type_=sa.Float),
            updated=now,
            granted=sa.bindparam("b_first", type_=sa.Integer),
            full_at=sa.bindparam("b_full_at", type_=sa.Float),
        )
        .on_conflict_do_update(
            index_elements=["bucket", "client"],
            set_={
                "tokens": avail - spent,
                "updated": now,
                "granted": spent,
                "full_at": now + (burst - (avail - spent)) / rate,
            },
        )
        .returning(c.tokens, c.granted)
    )
    _SPEND[dialect] = stmt
    return stmt


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


def prune(session: Connectable, *, now: float) -> int:
    """Forget full buckets and expired tokens; how many rows went."""
    conn = _conn(session)
    gone = conn.execute(sa.delete(_BUCKET).where(_BUCKET.c.full_at < now)).rowcount
    gone += conn.execute(sa.delete(_TOKEN).where(_TOKEN.c.expires < now)).rowcount
    return int(gone)


def _digest(token: str) -> str:
    """Tokens are kept as their SHA-256: a fixed size whatever a sender puts there."""
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def _insert(conn: sa.Connection, target: sa.Table) -> Any:
    return _insert_for(conn.dialect.name, target)


def _insert_for(dialect: str, target: sa.Table) -> Any:
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    return insert(target)
