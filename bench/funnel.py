"""The funnel's cost on synthetic leads, SQLite and PostgreSQL (run by hand, not in tests).

.venv/bin/python bench/funnel.py --sizes 50000 --backends sqlite,postgresql \
    --pg-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres

Per size and backend: bulk-load leads created over 90 days with their lifecycle (announced,
claimed, a note, won or lost) into a scratch database, then time `storage.stats.report` (the
SQL aggregates behind `leadbot stats` and `/leads stats`) for the last 30 days and all time, with
no breakdown and by each of source, campaign, rep and product, and `export_rows` (the CSV export).
The reference, measured in the same run: fetching the same leads and activities (only the columns
the funnel needs) and computing the cohort's stages, medians and p90s in Python. Prints
milliseconds and the ratio reference / SQL (above 1: the database's aggregation is faster).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from storage.db import Store  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import Activity, Lead  # noqa: E402
from storage.stats import BY, export_rows, report  # noqa: E402

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
SOURCES = ["email", "form:pricing", "form:contact", "webhook:typeform", "inbound:mailgun"]
CAMPAIGNS = [None, "spring", "webinar-q1", "partner", "retarget"]
REPS = [f"U{i:03d}" for i in range(12)]
PRODUCTS = [None, "analytics", "integrations"]
LEAD = Lead.__table__  # type: ignore[attr-defined]
ACT = Activity.__table__  # type: ignore[attr-defined]


def load(store: Store, n: int, *, seed: int = 7) -> int:
    rnd = random.Random(seed)
    leads: list[dict[str, Any]] = []
    acts: list[dict[str, Any]] = []
    for i in range(1, n + 1):
        created = NOW - timedelta(minutes=rnd.randrange(90 * 24 * 60))
        campaign = rnd.choice(CAMPAIGNS)
        lead: dict[str, Any] = {
            "id": i,
            "email": f"p{i}@c{i % 5000}.example",
            "domain": f"c{i % 5000}.example",
            "source": rnd.choice(SOURCES),
            "first_touch": {"channel": "form", **({"utm_campaign": campaign} if campaign else {})},
            "product": rnd.choice(PRODUCTS),
            "created_at": created,
            "updated_at": created,
            "status": "nurturing",
        }
        leads.append(lead)

        def act(kind: str, at: datetime, actor: str = "leadbot", i: int = i) -> None:
            acts.append({"lead_id": i, "kind": kind, "occurred_at": at, "actor": actor,
                         "detail": "", "source": "", "data": {}})  # fmt: skip

        act("email_inquiry", created, lead["email"])
        if rnd.random() < 0.35:
            announced = created + timedelta(seconds=rnd.expovariate(1 / 120))
            act("announced", announced)
            lead["status"] = "announced"
            if rnd.random() < 0.75:
                rep = rnd.choice(REPS)
                claimed = announced + timedelta(seconds=rnd.expovariate(1 / 1800))
                act("claimed", claimed, rep)
                lead["status"], lead["owner"] = "claimed", rep
                if rnd.random() < 0.6:
                    act("note_added", claimed + timedelta(seconds=rnd.expovariate(1 / 3600)), rep)
                if rnd.random() < 0.5:
                    closed = claimed + timedelta(days=rnd.expovariate(1 / 7))
                    won = rnd.random() < 0.4
                    act("won" if won else "lost", closed, rep)
                    lead["status"] = "won" if won else "lost"
                    lead["deal_value"] = rnd.choice([5000.0, 12000.0, 40000.0]) if won else None
                    lead["reason_code"] = (
                        None if won else rnd.choice(["budget", "competitor", None])
                    )
    keys = sorted({k for row in leads for k in row})
    rows = [{k: row.get(k) for k in keys} for row in leads]
    with store.engine.begin() as conn:
        for start in range(0, len(rows), 5000):
            conn.execute(sa.insert(LEAD), rows[start : start + 5000])
        for start in range(0, len(acts), 10000):
            conn.execute(sa.insert(ACT), acts[start : start + 10000])
    return len(acts)


def in_python(store: Store, *, since: datetime | None) -> dict[str, Any]:
    """The reference: the cohort's stages and speed from rows fetched to Python."""
    with store.engine.connect() as conn:
        stmt = sa.select(LEAD.c.id, LEAD.c.created_at, LEAD.c.deal_value).where(
            LEAD.c.created_at <= NOW
        )
        if since is not None:
            stmt = stmt.where(LEAD.c.created_at >= since)
        leads = {r.id: r for r in conn.execute(stmt)}
        acts = conn.execute(
            sa.select(ACT.c.lead_id, ACT.c.kind, ACT.c.occurred_at, ACT.c.actor)
            .where(ACT.c.kind.in_(("announced", "claimed", "won", "lost", "note_added")))
            .where(ACT.c.occurred_at <= NOW)
            .order_by(ACT.c.occurred_at)
        ).all()
    first: dict[int, dict[str, datetime]] = {}
    for a in acts:
        if a.lead_id in leads:
            first.setdefault(a.lead_id, {}).setdefault(a.kind, a.occurred_at)
    legs: dict[str, list[float]] = {"a": [], "c": []}
    for lead_id, kinds in first.items():
        if "announced" in kinds:
            legs["a"].append((kinds["announced"] - leads[lead_id].created_at).total_seconds())
            if "claimed" in kinds:
                legs["c"].append((kinds["claimed"] - kinds["announced"]).total_seconds())
    return {
        "leads": len(leads),
        "won": sum("won" in k for k in first.values()),
        "median": {k: statistics.median(v) if v else None for k, v in legs.items()},
        "p90": {k: sorted(v)[-(-9 * len(v) // 10) - 1] if v else None for k, v in legs.items()},
    }


def timed(fn: Callable[[], Any], runs: int = 3) -> float:
    best = float("inf")
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best * 1000


def bench(url: str, n: int) -> None:
    store = Store(url)
    upgrade(store)
    t = time.perf_counter()
    acts = load(store, n)
    if store.dialect == "postgresql":
        with store.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
    print(f"  loaded {n:,} leads, {acts:,} activities in {time.perf_counter() - t:.1f}s")
    for label, since in (("30 days", NOW - timedelta(days=30)), ("all time", None)):
        ref = timed(lambda since=since: in_python(store, since=since))
        print(f"  {label}: reference (rows to Python, stages and two legs) {ref:8.1f} ms")
        for by in (None, *BY):

            def run(by: str | None = by, since: datetime | None = since) -> None:
                with store.session() as s:
                    report(s, now=NOW, since=since, by=by)

            ms = timed(run)
            print(f"    report by {by or '-':<9} {ms:8.1f} ms   reference / this {ref / ms:5.2f}")

    def export() -> None:
        with store.session() as s:
            for _ in export_rows(s, now=NOW):
                pass

    print(f"  export_rows, every lead {timed(export, runs=1):8.1f} ms")
    store.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sizes", default="50000")
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument(
        "--pg-url",
        default=os.environ.get(
            "LEADBOT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        ),
    )
    args = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} CPUs")
    for n in (int(s) for s in args.sizes.split(",")):
        for backend in args.backends.split(","):
            print(f"{backend}, {n:,} leads", flush=True)
            if backend == "sqlite":
                with tempfile.TemporaryDirectory() as tmp:
                    bench(f"sqlite:///{tmp}/bench.db", n)
                continue
            name = f"leadbot_funnel_{uuid.uuid4().hex[:8]}"
            admin = sa.create_engine(args.pg_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
            try:
                url = sa.engine.make_url(args.pg_url).set(database=name)
                bench(url.render_as_string(hide_password=False), n)
            finally:
                with admin.connect() as conn:
                    conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                admin.dispose()
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
