"""Rescoring throughput on synthetic leads, SQLite and PostgreSQL (run by hand, not in tests).

.venv/bin/python bench/rescore.py --sizes 100000 --backends sqlite,postgresql \
    --pg-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres

Per size and backend: bulk-load leads with 1-5 activities each (SQLite: executemany in one
transaction; PostgreSQL: COPY into a scratch database that is dropped afterwards), then time
`bot.jobs.rescore.rescore_all` three times: `first` (every lead gets a score: all rows written),
`same` (same clock: nothing changes, the read + score floor) and `decay` (a day later: scores
drift, most rows are rewritten, few cross a whole point). Prints leads/second and where the time went.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.config import Settings  # noqa: E402
from bot.jobs.rescore import rescore_all  # noqa: E402
from bot.runtime import build_runtime  # noqa: E402
from storage.db import Store  # noqa: E402
from storage.migrate import upgrade  # noqa: E402

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
TITLES = [
    "CTO",
    "VP Sales",
    "Head of Data",
    "Marketing Manager",
    "Software Engineer",
    "Student",
    "Founder & CEO",
    "Analyst",
    "Office Assistant",
    None,
    None,
]
WEBMAIL = ["gmail.com", "outlook.com", "yahoo.com", "gmx.de", "icloud.com"]
INDUSTRIES = ["Software", "Retail", "Education", "Logistics", "Healthcare", None]
TEXTS = [
    "Could you send pricing for {n} seats? We need a quote this quarter.",
    "Hi, we would like a demo of the dashboards for our reporting team at {c}.",
    "Does your API have webhooks? Our engineers want to build an integration for {c}.",
    "I am writing my thesis about lead scoring and would love an interview ({n} questions).",
    "Thanks for the webinar yesterday, {c} is evaluating tools.",
    "Please remove me from your mailing list.",
    "We offer SEO services and link building for {c}, interested?",
    "Following up on our call: contract and invoice details for {n} licences.",
    "Question about your product for {c}.",
]
KINDS = ["email_inquiry", "form_submission", "page_visit", "page_visit", "download", "email_reply"]
LEAD_COLS = [
    "email",
    "domain",
    "name",
    "company",
    "title",
    "country",
    "source",
    "latest_source",
    "first_touch",
    "latest_touch",
    "status",
    "temperature",
    "score",
    "fit_score",
    "engagement_score",
    "reasons",
    "fields",
    "edited_fields",
    "created_at",
    "updated_at",
    "last_activity_at",
]
ACT_COLS = ["lead_id", "kind", "occurred_at", "actor", "detail", "data", "source"]


def synthetic(n: int, *, seed: int = 1) -> Iterator[tuple[list[Any], list[list[Any]]]]:
    """(lead row, activity rows) for leads 1..n; ids are assigned in insertion order."""
    rng = random.Random(seed)
    for i in range(1, n + 1):
        company = f"Company{i % 50_000}"
        domain = rng.choice(WEBMAIL) if rng.random() < 0.3 else f"company{i % 50_000}.example"
        fields = {
            "company_size": str(rng.choice([5, 20, 80, 250, 2000])),
            "industry": rng.choice(INDUSTRIES),
        }
        touch = {"channel": "form", "form": "contact", "utm_source": rng.choice(["google", "li"])}
        acts, last = [], NOW - timedelta(days=120)
        for _ in range(rng.randint(1, 5)):
            kind = rng.choice(KINDS)
            at = NOW - timedelta(days=rng.random() * 120)
            last = max(last, at)
            text = "" if kind == "page_visit" else rng.choice(TEXTS).format(n=i % 97, c=company)
            data = {"subject": "Inquiry", "text": text} if text else {"url": "/pricing"}
            acts.append([i, kind, at, "person", text[:100], json.dumps(data), "form:contact"])
        lead = [
            f"p{i}@{domain}",
            domain,
            f"Person {i}",
            company,
            rng.choice(TITLES),
            rng.choice(["DE", "US", "IN", "FR", None]),
            "form:contact",
            "form:contact",
            json.dumps(touch),
            json.dumps(touch),
            "nurturing",
            "cold",
            0.0,
            0.0,
            0.0,
            "[]",
            json.dumps({k: v for k, v in fields.items() if v}),
            "[]",
            NOW,
            NOW,
            last,
        ]
        yield lead, acts


def _sqlite_value(v: Any) -> Any:
    return v.replace(tzinfo=None).isoformat(sep=" ") if isinstance(v, datetime) else v


def load(store: Store, n: int) -> int:
    """Bulk insert n leads and their activities; returns the number of activities."""
    count, chunk = 0, 50_000
    gen = synthetic(n)
    with store.engine.begin() as conn:
        pg = conn.dialect.name == "postgresql"
        raw = conn.connection.dbapi_connection
        assert raw is not None
        while True:
            leads, acts = [], []
            for lead, lead_acts in gen:
                leads.append(lead)
                acts.extend(lead_acts)
                if len(leads) >= chunk:
                    break
            if not leads:
                return count
            count += len(acts)
            if pg:
                with raw.cursor() as cur:
                    with cur.copy(f"COPY lead ({', '.join(LEAD_COLS)}) FROM STDIN") as cp:
                        for row in leads:
                            cp.write_row(row)
                    with cur.copy(f"COPY activity ({', '.join(ACT_COLS)}) FROM STDIN") as cp:
                        for row in acts:
                            cp.write_row(row)
            else:
                cur = raw.cursor()
                marks = ", ".join("?" * len(LEAD_COLS))
                cur.executemany(
                    f"INSERT INTO lead ({', '.join(LEAD_COLS)}) VALUES ({marks})",
                    ([_sqlite_value(v) for v in row] for row in leads),
                )
                marks = ", ".join("?" * len(ACT_COLS))
                cur.executemany(
                    f"INSERT INTO activity ({', '.join(ACT_COLS)}) VALUES ({marks})",
                    ([_sqlite_value(v) for v in row] for row in acts),
                )


def _count(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(conn.exec_driver_sql("SELECT count(*) FROM lead").scalar() or 0)


def bench(url: str, n: int, *, batch: int, runs: list[str]) -> None:
    store = Store(url)
    upgrade(store)
    kept = _count(store)
    if kept == n:
        print(f"  kept database: {n:,} leads", flush=True)
        if runs[0] == "first":
            runs = runs[1:]  # already scored by an earlier run
    elif kept:
        raise SystemExit(f"the kept database holds {kept:,} leads, not {n:,}")
    else:
        t = time.perf_counter()
        activities = load(store, n)
        if store.dialect == "postgresql":
            with store.engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
        print(
            f"  loaded {n:,} leads, {activities:,} activities in {time.perf_counter() - t:.1f}s",
            flush=True,
        )
    settings = Settings(_env_file=None, database_url=url, rescore_interval_minutes=0)  # type: ignore[call-arg]
    runtime = build_runtime(settings, store=store)
    clocks = {
        "first": NOW,
        "same": NOW,
        "decay": NOW + timedelta(days=1),
        "decay2": NOW + timedelta(days=2),
        "repeat": NOW + timedelta(days=2),
        "hour": NOW + timedelta(days=2, hours=1),
    }
    for run in runs:
        report = rescore_all(runtime, batch=batch, now=clocks[run])
        print(
            f"  {run:<6} {report.leads / report.seconds:>9,.0f} leads/s  ({report.seconds:.1f}s; "
            f"{report.changed:,} written, {report.recorded:,} score_changed, "
            f"{report.announced:,} announced, {report.planned:,} from stored plans)",
            flush=True,
        )
    store.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sizes", default="100000")
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument(
        "--pg-url",
        default=os.environ.get(
            "LEADBOT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        ),
    )
    ap.add_argument("--batch", type=int, default=10_000)
    ap.add_argument("--runs", default="first,same,decay")
    ap.add_argument(
        "--decay-only",
        action="store_true",
        help="runs first (skipped on a kept, scored database), then decay (+1 day),"
        " decay2 (+2 days), repeat (+2 days again: nothing changes) and hour"
        " (+2 days 1 hour: serve's default interval): the periodic case,"
        " scored from stored plans",
    )
    ap.add_argument(
        "--keep",
        metavar="NAME",
        help="keep the generated database between runs: a SQLite file"
        " /tmp/NAME-SIZE.db, a PostgreSQL database NAME_SIZE (reused if it"
        " holds the leads; drop it by hand)",
    )
    args = ap.parse_args()
    if args.decay_only:
        args.runs = "first,decay,decay2,repeat,hour"
    import logging

    logging.basicConfig(level=logging.INFO, format="    %(message)s")
    print(f"load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} CPUs, batch {args.batch:,}")
    for n in (int(s) for s in args.sizes.split(",")):
        for backend in args.backends.split(","):
            print(f"{backend}, {n:,} leads", flush=True)
            if backend == "sqlite" and args.keep:
                bench(
                    f"sqlite:////tmp/{args.keep}-{n}.db",
                    n,
                    batch=args.batch,
                    runs=args.runs.split(","),
                )
                continue
            if backend == "sqlite":
                with tempfile.TemporaryDirectory() as tmp:
                    bench(
                        f"sqlite:///{tmp}/bench.db", n, batch=args.batch, runs=args.runs.split(",")
                    )
                continue
            name = f"{args.keep}_{n}" if args.keep else f"leadbot_bench_{uuid.uuid4().hex[:8]}"
            admin = sa.create_engine(args.pg_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                found = conn.exec_driver_sql(
                    "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
                ).scalar()
                if not found:
                    conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
            try:
                url = sa.engine.make_url(args.pg_url).set(database=name)
                bench(
                    url.render_as_string(hide_password=False),
                    n,
                    batch=args.batch,
                    runs=args.runs.split(","),
                )
            finally:
                if not args.keep:
                    with admin.connect() as conn:
                        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                admin.dispose()
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
