"""find_leads on SQLite (FTS5 trigram) and PostgreSQL (pg_trgm): exact, domain, fuzzy, hostile."""

from __future__ import annotations

import sqlite3

import pytest
import sqlalchemy as sa

from storage.db import Store
from storage.leads import search_leads
from storage.models import Lead
from storage.search import find_leads, repair_search_index

PEOPLE = [
    # email, name, company, score
    ("jane.doe@acme.com", "Jane Doe", "Acme Robotics", 40.0),
    ("john.doe@globex.example", "John Doe", "Globex", 70.0),
    ("ops@acme.com", None, "Acme Robotics", 90.0),
    ("maria@initech.example", "María Pérez", "Initech GmbH", 10.0),
    ("bob.stone@umbrella.example", "Bob Stone", "Umbrella Corp", 55.0),
    ("zed@acmetools.example", "Zed Zulu", "Acme Tools", 20.0),
]


@pytest.fixture
def people(store: Store) -> Store:
    with store.session() as s:
        for email, name, company, score in PEOPLE:
            domain = email.rpartition("@")[2]
            s.add(Lead(email=email, domain=domain, name=name, company=company, score=score))
    return store


def emails(store: Store, query: str, *, limit: int = 10) -> list[str]:
    with store.session() as s:
        return [lead.email for lead in find_leads(s, query, limit=limit)]


def test_exact_email_comes_first_and_ignores_case(people: Store) -> None:
    found = emails(people, "  JANE.DOE@Acme.com ")
    assert found[0] == "jane.doe@acme.com"
    assert "bob.stone@umbrella.example" not in found


def test_domain_with_or_without_at_sign_lists_that_company_best_score_first(people: Store) -> None:
    for query in ("acme.com", "@acme.com", "ACME.COM"):
        assert emails(people, query)[:2] == ["ops@acme.com", "jane.doe@acme.com"], query


def test_partial_name_and_company(people: Store) -> None:
    assert emails(people, "Robot")[:2] == ["ops@acme.com", "jane.doe@acme.com"]
    assert emails(people, "umbrel")[0] == "bob.stone@umbrella.example"
    assert emails(people, "stone")[0] == "bob.stone@umbrella.example"
    assert emails(people, "initech")[0] == "maria@initech.example"


def test_typos_still_find_the_person(people: Store) -> None:
    assert emails(people, "jnae doe")[0] == "jane.doe@acme.com"
    assert emails(people, "acme robotcs")[0] in {"ops@acme.com", "jane.doe@acme.com"}
    assert set(emails(people, "acme robotcs")[:2]) == {"ops@acme.com", "jane.doe@acme.com"}
    assert emails(people, "bob stnoe")[0] == "bob.stone@umbrella.example"
    assert emails(people, "umbrela corp")[0] == "bob.stone@umbrella.example"


def test_a_typo_in_every_word_is_still_found(people: Store) -> None:
    assert emails(people, "jnae deo")[0] == "jane.doe@acme.com"
    assert emails(people, "bbo stnoe")[0] == "bob.stone@umbrella.example"


def test_pattern_characters_inside_a_word_are_literal_in_typo_plans(people: Store) -> None:
    # Only the typo plans reach PostgreSQL's regex: "." there must not stand for "o".
    assert emails(people, "r.bot") == []
    assert emails(people, "rob.t") == []


def test_postgresql_search_leaves_the_planner_settings_as_it_found_them(people: Store) -> None:
    if people.dialect != "postgresql":
        pytest.skip("a PostgreSQL planner setting")
    with people.session() as s:
        show = sa.text("SELECT current_setting('enable_seqscan')")
        assert find_leads(s, "jnae doe")[0].email == "jane.doe@acme.com"
        assert s.scalar(show) == "on"
        s.execute(sa.text("SET LOCAL enable_seqscan = off"))
        find_leads(s, "umbrela corp")
        assert s.scalar(show) == "off"


def test_full_name_ranks_the_person_above_namesakes(people: Store) -> None:
    assert emails(people, "john doe")[0] == "john.doe@globex.example"
    assert emails(people, "jane doe")[0] == "jane.doe@acme.com"
    # One word lists every namesake, the closer (shorter) match and the hotter lead first.
    assert emails(people, "doe")[:2] == ["john.doe@globex.example", "jane.doe@acme.com"]


def test_non_ascii_name(people: Store) -> None:
    assert emails(people, "pérez")[0] == "maria@initech.example"
    assert emails(people, "PÉREZ")[0] == "maria@initech.example"


def test_no_match_is_empty_not_everything(people: Store) -> None:
    assert emails(people, "zzqxw") == []
    assert emails(people, "") == []
    assert emails(people, "   ") == []
    assert emails(people, "ab") == []  # under 3 characters: too short to mean anything


def test_limit_is_honoured(people: Store) -> None:
    assert len(emails(people, "acme", limit=2)) == 2
    assert emails(people, "acme", limit=0) == []


HOSTILE = [
    "%",
    "_",
    "%%%",
    "100%_",
    "'",
    "' OR 1=1 --",
    '"',
    '"""',
    "*",
    "NEAR(",
    "NEAR(acme robotics)",
    "-acme",
    "name:acme",
    "acme AND OR NOT",
    "(",
    ")",
    "^acme",
    "{name company}: acme",
    "\\",
    "\x00acme",
    "acme\r\nbcc: x",
    "a" * 5000,
    "acme " * 300,
]


def test_hostile_input_never_raises_and_is_taken_literally(people: Store) -> None:
    for query in HOSTILE:
        found = emails(people, query)
        if not any(ch.isalpha() for ch in query):
            assert found == [], query  # syntax characters are nobody's name
    # FTS5 syntax inside the query is literal text, so it still finds what it names.
    acme = {"ops@acme.com", "jane.doe@acme.com", "zed@acmetools.example"}
    for query in ('"acme"', "acme*", "-acme", "^acme", "(acme)", "acme:"):
        assert set(emails(people, query)[:3]) == acme, query


def test_index_follows_inserts_updates_and_deletes(people: Store) -> None:
    with people.session() as s:
        s.add(Lead(email="new@wayne.example", domain="wayne.example", name="Bruce Wayne"))
    assert emails(people, "bruce")[0] == "new@wayne.example"
    with people.session() as s:
        lead = s.scalar(sa.select(Lead).where(Lead.email == "new@wayne.example"))  # type: ignore[arg-type]
        assert lead is not None
        lead.company = "Wayne Enterprises"
        lead.name = "Batman"
    assert emails(people, "enterprises")[0] == "new@wayne.example"
    assert emails(people, "batman")[0] == "new@wayne.example"
    assert "new@wayne.example" not in emails(people, "bruce")
    with people.session() as s:
        s.execute(sa.delete(Lead).where(Lead.email == "new@wayne.example"))  # type: ignore[arg-type]
    assert emails(people, "batman") == []


def test_score_update_does_not_disturb_the_index(people: Store) -> None:
    with people.session() as s:
        s.execute(sa.update(Lead).values(score=Lead.score + 1))
    assert emails(people, "Robot")[:2] == ["ops@acme.com", "jane.doe@acme.com"]


def test_cli_search_shares_the_same_search(people: Store) -> None:
    with people.session() as s:
        assert search_leads(s, "jnae doe")[0].email == "jane.doe@acme.com"


# Older SQLite has no trigram tokenizer: search then scans, which every other test here covers.
needs_trigram = pytest.mark.skipif(
    sqlite3.sqlite_version_info < (3, 34), reason="SQLite < 3.34 has no FTS5 trigram tokenizer"
)


@needs_trigram
def test_index_objects_exist_and_repair_is_idempotent(people: Store) -> None:
    if people.dialect != "sqlite":
        with people.engine.connect() as conn:
            names = set(
                conn.scalars(sa.text("SELECT indexname FROM pg_indexes WHERE tablename = 'lead'"))
            )
        assert "ix_lead_search_trgm" in names
    else:
        with people.engine.connect() as conn:
            names = set(conn.scalars(sa.text("SELECT name FROM sqlite_master")))
        assert {"lead_search", "lead_search_ai", "lead_search_au", "lead_search_ad"} <= names
    assert repair_search_index(people.engine) is True
    assert emails(people, "Robot")[:2] == ["ops@acme.com", "jane.doe@acme.com"]


@needs_trigram
def test_lost_triggers_fall_back_to_a_scan_until_repaired(sqlite_url: str) -> None:
    store = Store(sqlite_url)
    with store.engine.begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER lead_search_ai")
    with store.session() as s:
        s.add(Lead(email="late@acme.com", domain="acme.com", name="Late Comer"))
    assert emails(store, "comer") == ["late@acme.com"]  # not in the index: found by the scan
    assert repair_search_index(store.engine)
    with store.session() as s:
        hits = s.execute(sa.text("SELECT rowid FROM lead_search WHERE lead_search MATCH 'comer'"))
        assert len(list(hits)) == 1
    assert emails(store, "comer") == ["late@acme.com"]
    store.dispose()


# --- what people type (issue 12): short names, words in long names, domains, numbered names ----

SHORT = [
    ("press@hp.example", "Pat Hill", "HP", 30.0),
    ("buyer@3m.example", "Sam Moss", "3M", 30.0),
    ("it@ey.example", "Eve Young", "Ernst & Young (EY)", 30.0),
    ("fleet@bp.example", "Bo Park", "BP p.l.c.", 30.0),
    ("chapman@phil.example", "Philip Chapman", "Hpx Logistics", 95.0),
    (
        "cfo@springfield.example",
        "Ned Flanders",
        "Springfield First National Bank and Trust Company",
        10.0,
    ),
    ("eva@banksia.example", "Eva Banks", "Banksia Gardens", 90.0),
    ("pat@eurobank.example", "Pat Euro", "Eurobank", 90.0),
]


@pytest.fixture
def short_names(people: Store) -> Store:
    with people.session() as s:
        for email, name, company, score in SHORT:
            s.add(Lead(email=email, domain=email.rpartition("@")[2], name=name, company=company,
                       score=score))  # fmt: skip
    return people


def test_two_letter_company_names_are_found(short_names: Store) -> None:
    assert emails(short_names, "HP")[0] == "press@hp.example"
    assert emails(short_names, "3M")[0] == "buyer@3m.example"
    assert emails(short_names, "ey")[0] == "it@ey.example"  # a word in the name, in brackets
    assert emails(short_names, "BP")[0] == "fleet@bp.example"
    # "hp" inside "Chapman" or "Hpx" is not the word HP, however hot that lead is.
    assert "chapman@phil.example" not in emails(short_names, "HP")
    assert emails(short_names, "zq") == []


def test_a_word_inside_a_long_name_comes_before_words_that_merely_contain_it(
    short_names: Store,
) -> None:
    found = emails(short_names, "Bank")
    assert found[0] == "cfo@springfield.example"  # the word, though its lead is the coldest
    assert set(found[1:3]) == {"eva@banksia.example", "pat@eurobank.example"}
    assert emails(short_names, "national bank")[0] == "cfo@springfield.example"
    assert emails(short_names, "trust company")[0] == "cfo@springfield.example"


def test_a_domain_nobody_has_finds_nobody(short_names: Store) -> None:
    assert emails(short_names, "nobody.example") == []
    assert emails(short_names, "@nobody.example") == []
    assert emails(short_names, "www.unknown-company.example") == []
    assert emails(short_names, "jane@nobody.example") == []
    # What the address holds as typed still counts: part of a domain, a typo in the local part.
    assert emails(short_names, "springfield.exam") == ["cfo@springfield.example"]
    assert emails(short_names, "jnae.doe@acme.com") == ["jane.doe@acme.com"]


def test_a_numbered_name_among_many_finds_that_one_first(store: Store) -> None:
    with store.session() as s:
        s.execute(
            sa.insert(Lead),
            [
                {"email": f"info@company{n}.example", "domain": f"company{n}.example",
                 "name": f"Contact {n}", "company": f"Company {n}", "score": float(n % 97),
                 "status": "nurturing", "temperature": "cold"}
                for n in range(1, 3001)
            ],
        )  # fmt: skip
    assert emails(store, "Company 42")[0] == "info@company42.example"
    assert emails(store, "company 2999")[0] == "info@company2999.example"
    assert emails(store, "Contact 7")[0] == "info@company7.example"
    # Typing on: the last word as a beginning ("Company 42" then its 420s).
    assert set(emails(store, "company 299", limit=11)) >= {
        f"info@company{n}.example" for n in (299, 2990, 2991, 2999)
    }
