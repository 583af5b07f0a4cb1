"""Lead lookup for `/lead` and `leadbot leads search`: exact email, then domain, then words, then
fuzzy text.

Candidates come from indexes, at most CANDIDATES per query, and only those are ranked in Python
(whole matches first, then rapidfuzz): a word index for whole words of any length (SQLite FTS5
`lead_words` with the unicode61 tokenizer, a PostgreSQL `tsvector` GIN index; migration
u5_word_search), since trigrams cannot see a two-letter name (HP, 3M, EY); and a trigram index
for substrings and typos (SQLite FTS5 `lead_search`, PostgreSQL pg_trgm; migration q4_search). A `LIKE '%term%'` scan costs ~170 ms at a million leads on SQLite, the
trigram index a few ms (SPEC.md, hazards), so the scan is only a fallback for a SQLite built
without the trigram tokenizer.
"""

from __future__ import annotations

import logging
import re
import unicodedata
import weakref
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
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
# Whole words of any length: unicode61 splits at every character that is not a letter or digit
# (as _TOKEN below does) and folds case and diacritics ("perez" finds Pérez).
SQLITE_WORDS_DDL = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS lead_words USING fts5("
    "name, company, email, content='lead', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER IF NOT EXISTS lead_words_ai AFTER INSERT ON lead BEGIN "
    "INSERT INTO lead_words(rowid, name, company, email) "
    "VALUES (new.id, new.name, new.company, new.email); END",
    "CREATE TRIGGER IF NOT EXISTS lead_words_ad AFTER DELETE ON lead BEGIN "
    "INSERT INTO lead_words(lead_words, rowid, name, company, email) "
    "VALUES ('delete', old.id, old.name, old.company, old.email); END",
    "CREATE TRIGGER IF NOT EXISTS lead_words_au AFTER UPDATE OF name, company, email ON lead "
    "BEGIN INSERT INTO lead_words(lead_words, rowid, name, company, email) "
    "VALUES ('delete', old.id, old.name, old.company, old.email); "
    "INSERT INTO lead_words(rowid, name, company, email) "
    "VALUES (new.id, new.name, new.company, new.email); END",
)
SQLITE_WORDS_OBJECTS = ("lead_words", "lead_words_ai", "lead_words_ad", "lead_words_au")

# Must match PG_TEXT below character for character, or PostgreSQL will not use the index.
PG_TEXT_SQL = "lower(coalesce(name, '') || ' ' || coalesce(company, '') || ' ' || email)"
PG_SEARCH_DDL = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    # One index over one expression: a pattern costs one index scan instead of three.
    f"CREATE INDEX IF NOT EXISTS ix_lead_search_trgm ON lead USING gin (({PG_TEXT_SQL}) gin_trgm_ops)",
)
# Must match PG_WORDS below character for character. The 'simple' configuration lower-cases and
# keeps every word (no stop words, no stemming): a company name is not English prose.
PG_WORDS_SQL = (
    "to_tsvector('simple'::regconfig, "
    "coalesce(name, '') || ' ' || coalesce(company, '') || ' ' || email)"
)
PG_WORDS_DDL = (f"CREATE INDEX IF NOT EXISTS ix_lead_words ON lead USING gin (({PG_WORDS_SQL}))",)

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_WORD = re.compile(r"[\w@.+'&-]+")
_DOMAIN = re.compile(r"^@?((?:[a-z0-9-]+\.)+[a-z0-9-]+)$")
_TOKEN = re.compile(r"[^\W_]+")  # a word as the word indexes see one: letters and digits
MAX_WORDS = 8  # words of one query put to the word index
MIN_PREFIX = 3  # the last word is also looked for as a word's beginning from this length on
MIN_ADDRESS = 80.0  # rapidfuzz ratio to the typed address or domain below this: another one
# How a row contains the query, best first (ranked before rapidfuzz's similarity): a field is
# the query; every word is a whole word of the row; every word begins one of its words; every
# word is in it (a word under MIN_TERM letters only as a whole word); none of these.
EQUAL, WHOLE_WORDS, PREFIXES, SUBSTRINGS, FUZZY = 4, 3, 2, 1, 0
MIN_TERM = 3

LEAD: sa.Table = Lead.__table__  # type: ignore[attr-defined]
_COLS = (LEAD.c.id, LEAD.c.email, LEAD.c.domain, LEAD.c.name, LEAD.c.company, LEAD.c.score)
# Literal SQL (no bound parameters), so PostgreSQL matches it to the index expression.
PG_TEXT: sa.ColumnClause[str] = sa.literal_column(PG_TEXT_SQL)
PG_WORDS: sa.ColumnClause[Any] = sa.literal_column(PG_WORDS_SQL)
_fts_ready: weakref.WeakKeyDictionary[Engine, bool] = weakref.WeakKeyDictionary()
_words_ready: weakref.WeakKeyDictionary[Engine, bool] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class _Query:
    text: str  # lower-case, whitespace collapsed
    terms: tuple[str, ...]  # the words of at least 3 characters (shorter ones match too much)
    email: str | None
    domain: str | None
    words: tuple[str, ...] = ()  # letters and digits as the word index splits them: "hp", "3m"
    folded: tuple[str, ...] = ()  # those without diacritics, to compare with fields


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
    if not rows:
        if q.email is not None or q.domain is not None:
            found = _address_candidates(session, q)
        else:
            found = _text_candidates(session, q, limit=limit)
        for row in found:
            rows.setdefault(row.id, (TEXT, row))
    ranked = sorted(
        ((_rank(q, tier, row), row.id) for tier, row in rows.values()),
        reverse=True,
    )
    ids = [
        lead_id for key, lead_id in ranked if key[0] > TEXT or key[1] > FUZZY or key[2] >= MIN_FUZZY
    ][:limit]
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
    terms = tuple(dict.fromkeys(t for t in words if len(t) >= MIN_TERM))
    tokens = tuple(dict.fromkeys(_TOKEN.findall(text)))[:MAX_WORDS]
    folded = tuple(_fold(t) for t in tokens)
    return _Query(text=text, terms=terms, email=email, domain=domain, words=tokens, folded=folded)


def _fold(text: str) -> str:
    """Lower case without diacritics, as the SQLite word index compares ("Pérez" is "perez")."""
    if text.isascii():  # most names: 20 times cheaper than decomposing
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _containment(q: _Query, fields: list[str]) -> int:
    """How the row's fields hold the query: EQUAL, WHOLE_WORDS, PREFIXES, SUBSTRINGS or FUZZY."""
    words = q.folded
    if not words:
        return FUZZY
    folded = [_fold(f) for f in fields]
    split = [_TOKEN.findall(f) for f in folded]
    if any(tuple(t) == words for t in split):
        return EQUAL
    tokens = {t for f in split for t in f}
    if all(w in tokens for w in words):
        return WHOLE_WORDS

    def begins(w: str) -> bool:
        return w in tokens or (len(w) >= MIN_TERM and any(t.startswith(w) for t in tokens))

    if all(begins(w) for w in words):
        return PREFIXES
    joined = " ".join(folded)
    if all(w in tokens if len(w) < MIN_TERM else w in joined for w in words):
        return SUBSTRINGS
    return FUZZY


def _rank(q: _Query, tier: int, row: Any) -> tuple[int, int, float, float, float, int]:
    """(tier, containment, fuzzy score, closeness, lead score, -id): a field that is the query
    and whole words come first ("Company 42" before "Company 4217"), then the more similar,
    the shorter, the hotter."""
    from rapidfuzz import fuzz, utils  # with the first search, not with every command

    fields = [f for f in (row.name, row.company, row.email) if f]
    prep = utils.default_process
    fuzzy = max((fuzz.WRatio(q.text, f, processor=prep) for f in fields), default=0)
    close = max((fuzz.ratio(q.text, f, processor=prep) for f in fields), default=0)
    return (tier, _containment(q, fields), fuzzy, close, row.score, -row.id)


def _address_candidates(session: Session, q: _Query) -> list[Any]:
    """An address or domain nobody has exactly: leads whose address holds it as typed (a
    sub-domain, `acme.co` for acme.com), or one typo away in its local part; never leads that
    merely share a word with it (`example` is in every address at example.com)."""
    typed = q.email or q.domain or ""
    plans: list[Plan] = [[[typed]]]
    if q.email is not None:
        local, _, domain = q.email.rpartition("@")
        plans.append([[local, *_variants(local, halves=False)], ["@" + domain]])
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite" and not _sqlite_fts_ready(session):
        rows = _like_candidates(
            session, _Query(text=typed, terms=(typed,), email=None, domain=None)
        )
    else:
        fetch = _pg_ids if dialect == "postgresql" else _fts_ids
        ids: dict[int, None] = {}
        for plan in plans:
            ids.update(dict.fromkeys(fetch(session, plan)))
            if ids:
                break
        rows = (
            list(session.execute(sa.select(*_COLS).where(LEAD.c.id.in_(list(ids))))) if ids else []
        )
    from rapidfuzz import fuzz

    target = q.domain or q.email or ""
    kept = []
    for row in rows:
        against = row.domain if q.domain is not None else row.email
        if typed in row.email or fuzz.ratio(target, against or "") >= MIN_ADDRESS:
            kept.append(row)
    return kept


def _text_candidates(session: Session, q: _Query, *, limit: int) -> list[Any]:
    """Rows of the words as typed; only when they match nothing, of each typo plan in turn,
    until there are enough to rank."""
    dialect = session.get_bind().dialect.name
    # Whole words first: the only way to a two-letter name, and what a person typing a word
    # means (the word "bank", before every "Banksia" and "Eurobank").
    found = dict.fromkeys(_word_ids(session, q, limit=limit))
    if len(found) >= limit:
        return _rows(session, found)
    if dialect == "sqlite" and not _sqlite_fts_ready(session):
        scanned = [r for r in _like_candidates(session, q) if r.id not in found]
        return _rows(session, found) + scanned
    if not q.terms:  # words under three letters: the word index alone can find them
        return _rows(session, found)
    fetch = _pg_ids if dialect == "postgresql" else _fts_ids
    as_typed, *typos = _plans(q)
    # One word is one condition, whose matches PostgreSQL estimates well from its statistics
    # (and a common one, `labs`, is found fastest by a short sequential scan).
    force = dialect == "postgresql" and len(q.terms) > 1
    with _pg_index_only(session) if force else nullcontext():
        # Words that exist as typed are what was meant (as with an email or a domain), so
        # near misses are not looked for: each typo plan is another index query.
        ids = {**found, **dict.fromkeys(fetch(session, as_typed[0]))}
        for plan, last_resort in typos if not ids else ():
            if last_resort and ids:  # the broadest and costliest plans, only for no match
                break
            ids.update(dict.fromkeys(fetch(session, plan)))
            if len(ids) >= limit:
                break
    return _rows(session, ids)


def _rows(session: Session, ids: dict[int, None]) -> list[Any]:
    if not ids:
        return []
    return list(session.execute(sa.select(*_COLS).where(LEAD.c.id.in_(list(ids)))))


def _word_ids(session: Session, q: _Query, *, limit: int) -> list[int]:
    """Leads with every word of the query as a whole word; when those are fewer than `limit`,
    also those where the last word only begins a word (typing "Company 4" finds "Company 42")."""
    if not q.words:
        return []
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        if not _sqlite_words_ready(session):
            return []
        fetch = _fts_word_ids
    elif dialect == "postgresql":
        fetch = _pg_word_ids
    else:
        return []
    ids = dict.fromkeys(fetch(session, q.words, prefix=False))
    if len(ids) < limit and len(q.words[-1]) >= MIN_PREFIX:
        ids.update(dict.fromkeys(fetch(session, q.words, prefix=True)))
    return list(ids)


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


def _variants(term: str, *, halves: bool = True) -> list[str]:
    """Substrings that survive one typo: adjacent transpositions ("jnae" -> "jane"), and for
    longer words both halves, one of which a single wrong, missing or extra letter leaves
    intact ("robotcs" -> "robo", "otcs")."""
    out: dict[str, None] = {}
    if len(term) <= 12:
        for i in range(len(term) - 1):
            out[term[:i] + term[i + 1] + term[i] + term[i + 2 :]] = None
    if halves and len(term) >= 6:
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


def _fts_word_ids(session: Session, words: tuple[str, ...], *, prefix: bool) -> list[int]:
    terms = [_fts_string(w) for w in words]
    if prefix:
        terms[-1] += "*"
    stmt = sa.text(
        "SELECT rowid FROM lead_words WHERE lead_words MATCH :m ORDER BY rowid DESC LIMIT :n"
    )
    return [r[0] for r in session.execute(stmt, {"m": " AND ".join(terms), "n": CANDIDATES})]


def _sqlite_fts_ready(session: Session) -> bool:
    """Whether lead_search and its triggers exist (a batch migration that rebuilds `lead` drops
    the triggers; then we scan rather than answer from a stale index)."""
    return _sqlite_objects_ready(session, SQLITE_SEARCH_OBJECTS, _fts_ready)


def _sqlite_words_ready(session: Session) -> bool:
    """Whether lead_words and its triggers exist; without them whole words are found by the
    trigram plans and the scan (a word under three letters then only by the scan)."""
    return _sqlite_objects_ready(session, SQLITE_WORDS_OBJECTS, _words_ready)


def _sqlite_objects_ready(
    session: Session, objects: tuple[str, ...], memo: weakref.WeakKeyDictionary[Engine, bool]
) -> bool:
    engine = session.get_bind().engine
    ready = memo.get(engine)
    if ready is None:
        names = set(
            session.scalars(
                sa.text("SELECT name FROM sqlite_master WHERE name IN (:a, :b, :c, :d)"),
                dict(zip("abcd", objects, strict=True)),
            )
        )
        ready = names == set(objects)
        if not ready:
            log.warning(
                "lead search index incomplete (%s missing): searching by scan; "
                "run storage.search.repair_search_index",
                ", ".join(sorted(set(objects) - names)),
            )
        memo[engine] = ready
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
            for ddl in (*PG_SEARCH_DDL, *PG_WORDS_DDL):
                conn.exec_driver_sql(ddl)
        elif conn.dialect.name == "sqlite":
            if not sqlite_has_trigram(conn):
                return False
            for ddl in (*SQLITE_SEARCH_DDL, *SQLITE_WORDS_DDL):
                conn.exec_driver_sql(ddl)
            conn.exec_driver_sql("INSERT INTO lead_search(lead_search) VALUES ('rebuild')")
            conn.exec_driver_sql("INSERT INTO lead_words(lead_words) VALUES ('rebuild')")
    _fts_ready.pop(engine, None)
    _words_ready.pop(engine, None)
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


def _pg_word_ids(session: Session, words: tuple[str, ...], *, prefix: bool) -> list[int]:
    # Words are letters and digits only (_TOKEN), so quoted they are lexemes, never operators.
    lexemes = [f"'{w}'" for w in words]
    if prefix:
        lexemes[-1] += ":*"
    query = sa.func.to_tsquery(sa.literal_column("'simple'::regconfig"), " & ".join(lexemes))
    stmt = sa.select(LEAD.c.id).where(PG_WORDS.op("@@")(query)).limit(CANDIDATES)
    return list(session.scalars(stmt))


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
    # Short words too: ranking keeps only the rows where they are whole words.
    terms = q.terms or q.words
    if not terms:
        return []
    contains = [sa.or_(*(c.like(_like_pattern(t), escape="\\") for c in cols)) for t in terms]
    stmt = sa.select(*_COLS).where(sa.or_(*contains)).limit(CANDIDATES * 4)
    return list(session.execute(stmt))
