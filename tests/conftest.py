"""Shared fixtures: stores on SQLite and a real PostgreSQL, the runtime, sample messages."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import dns.resolver
import pytest
import sqlalchemy as sa

from bot.config import Settings
from storage.db import Store
from storage.migrate import upgrade

if TYPE_CHECKING:
    from bot.runtime import Runtime

DATA = Path(__file__).parent / "data"
PG_ENV = "LEADBOT_TEST_POSTGRES_URL"


@pytest.fixture(autouse=True, scope="session")
def no_outside_dns() -> Iterator[None]:
    """Nothing in the tests may ask the machine's resolvers: a library falling back to dnspython's
    default resolver finds no server at all (LeadBot's own queries go to LEADBOT_DNS_SERVER)."""
    before = dns.resolver.default_resolver
    nowhere = dns.resolver.Resolver(configure=False)
    nowhere.nameservers = []
    dns.resolver.default_resolver = nowhere
    yield
    dns.resolver.default_resolver = before


def postgres_url() -> str | None:
    return os.environ.get(PG_ENV) or None


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    url = postgres_url()
    if url is None:
        if os.environ.get("LEADBOT_TEST_REQUIRE_POSTGRES"):
            pytest.fail(f"{PG_ENV} must be set: CI requires the PostgreSQL tests")
        pytest.skip(
            f"PostgreSQL tests need {PG_ENV} (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)"
        )
    return url


def _admin(server_url: str) -> sa.Engine:
    return sa.create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)


def _create_pg_database(server_url: str) -> tuple[str, str]:
    name = f"leadbot_t_{uuid.uuid4().hex[:12]}"
    with _admin(server_url).connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    base = sa.engine.make_url(server_url)
    return base.set(database=name).render_as_string(hide_password=False), name


def _drop_pg_database(server_url: str, name: str) -> None:
    with _admin(server_url).connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def pg_session_db(pg_server_url: str) -> Iterator[tuple[str, str]]:
    """One migrated database per test session (per xdist worker): created once, emptied per test."""
    url, name = _create_pg_database(pg_server_url)
    store = Store(url)
    upgrade(store)
    store.dispose()
    yield url, name
    _drop_pg_database(pg_server_url, name)


def _empty_pg_database(server_url: str, url: str, name: str) -> None:
    """Every table emptied and every id sequence restarted: as good as a new database, in ms.

    Creating a database per test costs seconds of fsync on PostgreSQL; TRUNCATE does not.
    Connections a previous test left behind are ended first, so no lock can hold the TRUNCATE.
    """
    with _admin(server_url).connect() as conn:
        conn.execute(
            sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = :name AND pid <> pg_backend_pid()"
            ),
            {"name": name},
        )
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        tables = [
            f'"{t}"'
            for t in conn.scalars(
                sa.text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                    " AND tablename <> 'alembic_version'"
                )
            )
        ]
        conn.execute(sa.text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrations run once, not per test)."""
    path = tmp_path_factory.mktemp("template") / "leadbot.db"
    store = Store(f"sqlite:///{path}")
    upgrade(store)
    store.dispose()
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database of its own on each backend, so tests never see each other's rows."""
    if request.param == "sqlite":
        path = tmp_path / "leadbot.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    server = request.getfixturevalue("pg_server_url")
    url, name = request.getfixturevalue("pg_session_db")
    _empty_pg_database(server, url, name)
    yield url


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    path = tmp_path / "leadbot.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = Store(db_url)
    yield s
    s.dispose()


def make_settings(db_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": db_url,
        "inbox_domains": "leads.example.com",
        "internal_domains": "ourco.example",
        "rescore_interval_minutes": 0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def runtime(store: Store) -> Runtime:
    from bot.runtime import build_runtime

    return build_runtime(make_settings(store.url), store=store)
