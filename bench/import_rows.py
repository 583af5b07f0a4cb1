"""`leadbot import` throughput: rows/s of a CSV of historical leads, SQLite and PostgreSQL (by hand).

.venv/bin/python bench/import_rows.py --rows 100000 --backends sqlite,postgresql \
    --pg-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres

Writes a CSV (email, name, title, company, phone, country, three fields, an outcome on a third of
the rows, 1% repeated addresses, 0.5% invalid), then runs the command as a person would, through
`bot.cli.main(["import", FILE])`, into a fresh database: every lead created, its `imported`
activity, the outcomes closed and every lead scored. Runs it again (every row exists: the
idempotent path). Prints rows/s of each run; issue 13 asks at least 3,000 rows/s for 100,000 rows
on SQLite. The reference of the same run: reading the CSV alone (scoring.learn.read_csv_rows).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import os
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.cli import main as leadbot  # noqa: E402
from scoring.learn import read_csv_rows  # noqa: E402

TITLES = ["CTO", "Head of Operations", "Marketing Manager", "Student", "VP Sales", "Engineer"]
INDUSTRIES = ["Software", "Retail", "Education", "Logistics", "Finance"]
COUNTRIES = ["DE", "US", "GB", "FR", "NL", "IN"]


def write_csv(path: Path, rows: int, *, seed: int = 7) -> None:
    rng = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(
            ["Email", "Name", "Title", "Company", "Phone", "Country", "Industry", "Employees",
             "Notes", "Converted"]
        )  # fmt: skip
        for i in range(rows):
            n = rng.randrange(i) if i and rng.random() < 0.01 else i  # a person seen twice
            email = f"person{n}@firm{n % 5000}.example" if rng.random() > 0.005 else "nobody"
            outcome = rng.choice(["Yes", "No", ""]) if rng.random() < 0.34 else ""
            w.writerow(
                [email, f"Person {n}", rng.choice(TITLES), f"Firm {n % 5000}",
                 f"+4930{rng.randrange(10**6, 10**7)}", rng.choice(COUNTRIES),
                 rng.choice(INDUSTRIES), rng.choice(["10", "80", "500"]),
                 "met at the fair", outcome]
            )  # fmt: skip


def run(url: str, path: Path, rows: int) -> None:
    os.environ["LEADBOT_DATABASE_URL"] = url
    os.environ["LEADBOT_RESCORE_INTERVAL_MINUTES"] = "0"
    t0 = time.perf_counter()
    read_csv_rows(path, {"Converted": "outcome"})
    ref = time.perf_counter() - t0
    backend = url.split(":", 1)[0].split("+", 1)[0]
    print(f"{backend}: reading the CSV alone {rows / ref:,.0f} rows/s ({ref:.2f}s)")
    for label in ("first import", "again (all exist)"):
        out = io.StringIO()
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(out):
            code = leadbot(["import", str(path), "--outcome", "Converted"])
        seconds = time.perf_counter() - t0
        assert code == 0, out.getvalue()
        print(
            f"{backend}: {label:<18} {rows / seconds:8,.0f} rows/s ({seconds:.1f}s, "
            f"{ref / seconds:.2f}x reading alone): {out.getvalue().strip()}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument(
        "--pg-url",
        default=os.environ.get(
            "LEADBOT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        ),
        help="a database to connect to while a scratch one is created and dropped",
    )
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="leadbot-bench-import-") as tmp:
        path = Path(tmp) / "history.csv"
        write_csv(path, args.rows)
        os.chdir(tmp)  # no stray .env
        for backend in args.backends.split(","):
            if backend == "sqlite":
                run(f"sqlite:///{tmp}/bench.db", path, args.rows)
                continue
            name = f"leadbot_bench_{uuid.uuid4().hex[:8]}"
            admin = sa.create_engine(args.pg_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
            try:
                url = sa.engine.make_url(args.pg_url).set(database=name)
                run(url.render_as_string(hide_password=False), path, args.rows)
            finally:
                with admin.connect() as conn:
                    conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                admin.dispose()
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
