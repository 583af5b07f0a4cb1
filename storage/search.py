"""Lead lookup for `/lead` and `leadbot leads search`: exact email, then domain, then fuzzy text.

Candidates come from an index (SQLite FTS5 trigram table `lead_search`, a PostgreSQL pg_trgm GIN
index; see migration q4_search), at most CANDIDATES of them, and only those are ranked in
Python with rapidfuzz. A `LIKE '%term%'` scan costs ~170 ms at a million leads on SQLite, the
trigram index a few ms (SPEC.md, hazards), so the scan is only a fallback for a SQLite built
without the trigram tokenizer.
"""

from __future__ import annotations

import logging
import re
import weakref
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from rapidfuzz import fuzz, utils
from sqlalchemy.engine import Engine
from sqlmodel import Session

from storage.models import Lead

log = logging.getLogger(__name__)

MAX_QUERY_CHARS = 200
CANDIDATES = 100  # rows fetched per index query; rapidfuzz ranks only these
MIN_FUZZY = 70.0  # rapidfuzz WRatio below this is noise, not a match
MAX_VARIANTS = 16  # one-typo variants per word: bounds the size of one index query
MAX_REGEX_TERM = 24  # PostgreSQL: longest alternative put in one regex (see _pg_match)

# Tiers: an exact email beats a domain match, which beats any name/company/email text match.
EXACT, DOMAIN, TEXT = 3, 2, 1

SQLITE_SEARCH_DDL = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS lead_search USING fts5("
    "name, company, email, content='lead', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER IF NOT EXISTS lead_search_ai AFTER INSERT ON lead BEGIN "
    "INSERT INTO lead_search(rowid, name, company, email) "
    "VALUES (new.id, new.name, new.company, new.email); END",
    "CREATE TRIGGER IF NOT EXISTS lead_search_ad AFTER DELETE ON lead BEGIN "
    "INSERT INTO lead_search(lead_search, rowid, name, company, email) "
    "VALUES ('delete', old.id, old.name, old.company, old.email); END",
    # Only these columns: score and status updates (the frequent ones) never touch the index.
    "CREATE TRIGGER IF NOT EXISTS lead_search_au AFTER UPDATE OF name, company, email ON lead "
    "BEGIN INSERT INTO lead_search(lead_search, rowid, name, company, email) "
    "VALUES ('delete', old.id, old.name, old.company, old.email); "
    "INSERT INTO lead_search(rowid, name, company, email) "
    "VALUES (new.id, new.name, new.company, new.email); END",
)
SQLITE_SEARCH_OBJECTS = ("lead_search", "lead_search_ai", "lead_search_ad", "lead_search_au")

# Must match PG_TEXT below character for character, or PostgreSQL will not use the index.
PG_TEXT_SQL = "lower(coalesce(name, '') || ' ' || coalesce(company, '') || ' ' || email)"
PG_SEARCH_DDL = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    # One index over one expression: a pattern costs one index scan instead of three.
    f"CREATE INDEX IF NOT EXISTS ix_lead_search_trgm ON lead USING gin (({PG_TEXT_SQL}) gin_trgm_ops)",
)

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_WORD = re.compile(r"[\w@.+'&-]+")
_DOMAIN = re.compile(r"^@?((?:[a-z0-9-]+\.)+[a-z0-9-]+)$")

LEAD: sa.Table = Lead.__table__  # type: ignore[attr-defined]
_COLS = (LEAD.c.id, LEAD.c.email, LEAD.c.domain, LEAD.c.name, LEAD.c.company, LEAD.c.score)
# Literal SQL (no bound parameters), so PostgreSQL matches it to the index expression.
PG_TEXT: sa.ColumnClause[str] = sa.literal_column(PG_TEXT_SQL)
_fts_ready: weakref.WeakKeyDictionary[Engine, bool] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class _Query:
    text: str  # lower-case, whitespace collapsed
    terms: tuple[str, ...]  # the words of at least 3 characters (shorter ones match too much)
    email: str | None
    domain: str | None


def find_leads(session: Session, query: str, *, limit: int = 10) -> list[Lead]:
    """Leads matching `query` (email, domain, name or company; typos tolerated), best first."""
    q = _parse(query)
    if q is None or limit <= 0:
        return []
    rows: dict[int, tuple[int, Any]] = {}  # id -> (tier, row)
    if q.email is not None:
        for row in session.execute(sa.select(*_COLS).where(LEAD.c.email == q.email)):
            rows[row.id] = (EXACT, row)
    if q.domain is not None:
        stmt = (
            sa.select(*_COLS)
            .where(LEAD.c.domain == q.domain)
            .order_by(LEAD.c.score.desc(), LEAD.c.id)
            .limit(limit)
        )
        for row in session.execute(stmt):
            rows.setdefault(row.id, (DOMAIN, row))
    # An address or domain that exists is what was meant: the text index (a phrase of 20-30
    # trigrams, ~100 ms at a million leads) is only asked when those found nothing.
    if q.terms and not rows:
        for row in _text_candidates(session, q, limit=limit):
            rows.setdefault(row.id, (TEXT, row))
    ranked = sorted(
        ((_rank(q, tier, row), row.id) for tier, row in rows.values()),
        reverse=True,
    )
    ids = [lead_id for key, lead_id in ranked if key[0] > TEXT or key[1] >= MIN_FUZZY][:limit]
    if not ids:
        return []
    leads = {lead.id: lead for lead in session.scalars(sa.select(Lead).where(LEAD.c.id.in_(ids)))}
    return [leads[i] for i in ids if i in leads]


def _parse(query: str) -> _Query | None:
    # Control characters (NUL among them) are never part of a name; PostgreSQL refuses NUL.
    printable = "".join(ch if ch.isprintable() else " " for ch in query[: MAX_QUERY_CHARS * 4])
    text = " ".join(printable.lower().split())[:MAX_QUERY_CHARS]
    if not text:
        return None
    email = text if _EMAIL.match(text) else None
    m = _DOMAIN.match(text) if email is None else None
    domain = m.group(1) if m else None
    # Words as people type them in names, companies and addresses; other punctuation separates.
    words = (w.strip("-.'&+") for w in _WORD.findall(text))
    terms = tuple(dict.fromkeys(t for t in words if len(t) >= 3))
    return _Query(text=text, terms=terms, email=email, domain=domain)


def _rank(q: _Query, tier: int, row: Any) -> tuple[int, float, float, float, int]:
    """(tier, fuzzy score, closeness, lead score, -id): ties go to the shorter, closer, hotter."""
    fields = [f for f in (row.name, row.company, row.email) if f]
    prep = utils.default_process
    fuzzy = max((fuzz.WRatio(q.text, f, processor=prep) for f in fields), default=0)
    close = max((fuzz.ratio(q.text, f, processor=prep) for f in fields), default=0)
    return (tier, fuzzy, close, row.score, -row.id)


def _text_candidates(session: Session, q: _Query, *, limit: int) -> list[Any]:
    """Rows of the words as typed; only when they match nothing, of each typo plan in turn,
    until there are enough to rank."""
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite" and not _sqlite_fts_ready(session):
        return _like_candidates(session, q)
    fetch = _pg_ids if dialect == "postgresql" else _fts_ids
    as_typed, *typos = _plans(q)
    # One word is one condition, whose matches PostgreSQL estimates well from its statistics
    # (and a common one, `labs`, is found fastest by a short sequential scan).
    force = dialect == "postgresql" and len(q.terms) > 1
    with _pg_index_only(session) if force else nullcontext():
        # Words that exist as typed are what was meant (as with an email or a domain), so
        # near misses are not looked for: each typo plan is another index query.
        ids = dict.fromkeys(fetch(session, as_typed[0]))
        for plan, last_resort in typos if not ids else ():
            if last_resort and ids:  # the broadest and costliest plans, only for no match
                break
            ids.update(dict.fromkeys(fetch(session, plan)))
            if len(ids) >= limit:
                break
    if not ids:
        return []
    return list(session.execute(sa.select(*_COLS).where(LEAD.c.id.in_(list(ids)))))


Plan = list[list[str]]  # AND over groups, each group an OR of substrings


def _plans(q: _Query) -> list[tuple[Plan, bool]]:
    """Every term as typed; then one term at a time with a typo (that term or a one-typo variant
    of it, every other term as typed); then (only when those found nothing) every term with a
    typo, and any one term. The flag marks those last ones.

    Each plan is a conjunction the index answers by intersecting posting lists, with a LIMIT,
    so its cost stays in milliseconds at a million leads. Typing one word wrong is the common
    case, and keeping the other words exact keeps the intersection small: expanding every word
    at once made PostgreSQL read thousands of rows for "asrah taylor" to filter the variants of
    "taylor" (`tay`, `lor`, ...), 70-170 ms. (An OR of all trigrams ranked by bm25 finds more
    near misses but took 100-700 ms at 200k rows; pg_trgm's word similarity, see
    docs/search.md, 25-750 ms.)"""
    strict = [[t] for t in q.terms]
    typo = [[t, *_variants(t)] for t in q.terms]
    plans = [(strict, False)]
    if len(q.terms) == 1:
        if typo != strict:
            plans.append((typo, False))
        return plans
    for i, group in enumerate(typo):
        if len(group) > 1:
            plans.append(([*strict[:i], group, *strict[i + 1 :]], False))
    if sum(len(g) > 1 for g in typo) > 1:
        plans.append((typo, True))
    plans.append(([list(q.terms)], True))
    return plans


def _variants(term: str) -> list[str]:
    """Substrings that survive one typo: adjacent transpositions ("jnae" -> "jane"), and for
    longer words both halves, one of which a single wrong, missing or extra letter leaves
    intact ("robotcs" -> "robo", "otcs")."""
    out: dict[str, None] = {}
    if len(term) <= 12:
        for i in range(len(term) - 1):
            out[term[:i] + term[i + 1] + term[i] + term[i + 2 :]] = None
    if len(term) >= 6:
        out[term[: (len(term) + 1) // 2]] = None
        out[term[len(term) // 2 :]] = None
    out.pop(term, None)
    return list(out)[:MAX_VARIANTS]


# --- SQLite FTS5 -----------------------------------------------------------------------------


def _fts_string(term: str) -> str:
    # Inside an FTS5 string every character is literal (", *, NEAR(, -, : included); a double
    # quote is escaped by doubling it.
    return '"' + term.replace('"', '""') + '"'


def _fts_ids(session: Session, plan: Plan) -> list[int]:
    match = " AND ".join("(" + " OR ".join(map(_fts_string, group)) + ")" for group in plan)
    stmt = sa.text(
        "SELECT rowid FROM lead_search WHERE lead_search MATCH :m ORDER BY rowid DESC LIMIT :n"
    )
    return [r[0] for r in session.execute(stmt, {"m": match, "n": CANDIDATES})]


def _sqlite_fts_ready(session: Session) -> bool:
    """Whether lead_search and its triggers exist (a batch migration that rebuilds `lead` drops
    the triggers; then we scan rather than answer from a stale index)."""
    engine = session.get_bind().engine
    ready = _fts_ready.get(engine)
    if ready is None:
        names = set(
            session.scalars(
                sa.text("SELECT name FROM sqlite_master WHERE name IN (:a, :b, :c, :d)"),
                dict(zip("abcd", SQLITE_SEARCH_OBJECTS, strict=True)),
            )
        )
        ready = names == set(SQLITE_SEARCH_OBJECTS)
        if not ready:
            log.warning(
                "lead search index incomplete (%s missing): searching by scan; "
                "run storage.search.repair_search_index",
                ", ".join(sorted(set(SQLITE_SEARCH_OBJECTS) - names)),
            )
        _fts_ready[engine] = ready
    return ready


def sqlite_has_trigram(conn: sa.Connection) -> bool:
    """Whether this SQLite has FTS5 with the trigram tokenizer (3.34 and later)."""
    try:
        conn.exec_driver_sql("CREATE VIRTUAL TABLE temp.q4_probe USING fts5(x, tokenize='trigram')")
    except sa.exc.OperationalError:
        return False
    conn.exec_driver_sql("DROP TABLE temp.q4_probe")
    return True


def repair_search_index(engine: Engine) -> bool:
    """(Re)create the search index and its triggers and rebuild it from `lead`; idempotent."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            for ddl in PG_SEARCH_DDL:
                conn.exec_driver_sql(ddl)
        elif conn.dialect.name == "sqlite":
            if not sqlite_has_trigram(conn):
                return False
            for ddl in SQLITE_SEARCH_DDL:
                conn.exec_driver_sql(ddl)
            conn.exec_driver_sql("INSERT INTO lead_search(lead_search) VALUES ('rebuild')")
    _fts_ready.pop(engine, None)
    return True


# --- PostgreSQL pg_trgm ----------------------------------------------------------------------


def _like_pattern(term: str) -> str:
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


@contextmanager
def _pg_index_only(session: Session) -> Iterator[None]:
    """Keep the planner off sequential scans for the text plans, in this transaction only.

    It multiplies the estimates of several words as if they were independent (`cedar` and
    `foundr`, or a dozen typo variants), guesses thousands of matches, and then expects a
    LIMIT 100 seq scan to stop early: at a million leads that scan evaluated every pattern on
    every row, 0.3-0.7 s, whenever the real matches were rare (a typo, a three-word company).
    Through the GIN index the worst case is the posting list of a very common trigram: `com`
    (170,000 rows) costs 35 ms."""
    conn = session.connection()
    before = conn.scalar(sa.text("SELECT current_setting('enable_seqscan')"))
    conn.execute(sa.text("SELECT set_config('enable_seqscan', 'off', true)"))
    yield
    # Not in a `finally`: after an error the transaction is aborted, which undoes SET LOCAL.
    conn.execute(sa.text("SELECT set_config('enable_seqscan', :v, true)"), {"v": before})


def _regex_literal(term: str) -> str:
    # In a PostgreSQL ARE a backslash before a non-alphanumeric character makes it literal.
    return "".join(ch if ch.isalnum() else "\\" + ch for ch in term)


def _pg_match(group: list[str]) -> sa.ColumnElement[bool]:
    """One index condition for a group: LIKE for one substring, a regex alternation for more.

    A regex of alternatives is a single GIN condition, so the index intersects it with the
    other words itself; an OR of LIKEs is a BitmapOr the planner may instead leave to a heap
    filter (for "urth bradley": reading 8,000 rows of Bradleys, 127 ms, instead of 6 ms).
    Longer alternatives make the trigram graph too big for pg_trgm, which then scans."""
    if len(group) == 1 or max(map(len, group)) > MAX_REGEX_TERM:
        return sa.or_(*(PG_TEXT.like(_like_pattern(t), escape="\\") for t in group))
    return PG_TEXT.regexp_match("(" + "|".join(map(_regex_literal, group)) + ")")


def _pg_ids(session: Session, plan: Plan) -> list[int]:
    conds = [_pg_match(g) for g in plan]
    # No ORDER BY: the bitmap heap scan then stops after CANDIDATES rows. Ordering by id made
    # the planner either sort every match (tens of thousands for "labs" at 1M leads) or walk
    # the primary key backwards through the whole table when it misjudged a rare pattern.
    stmt = sa.select(LEAD.c.id).where(*conds).limit(CANDIDATES)
    return list(session.scalars(stmt))


# --- fallback --------------------------------------------------------------------------------


def _like_candidates(session: Session, q: _Query) -> list[Any]:
    cols = (sa.func.lower(LEAD.c.name), sa.func.lower(LEAD.c.company), LEAD.c.email)
    contains = [sa.or_(*(c.like(_like_pattern(t), escape="\\") for c in cols)) for t in q.terms]
    stmt = sa.select(*_COLS).where(sa.or_(*contains)).limit(CANDIDATES * 4)
    return list(session.execute(stmt))
