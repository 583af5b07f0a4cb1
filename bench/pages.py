"""The lead page and the dashboard: time per request through the real app, beside /healthz in
the same run (the reference: the same app, routing and database round trip, nothing rendered).

    .venv/bin/python bench/pages.py [--leads 20000] [--activities 300] [--db URL]

Builds a throwaway SQLite database (or uses --db, which it fills: use an empty one), with
`--leads` leads, a tenth of them (at most 400) announced and half of those claimed, and one lead with
`--activities` page visits and notes; prints the median of 30 requests of each page.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from starlette.testclient import TestClient

from bot.config import Settings
from bot.pages.links import page_link
from bot.runtime import build_runtime
from bot.web import create_app
from storage import lifecycle
from storage.db import Store
from storage.leads import add_note
from storage.migrate import upgrade
from storage.models import Activity, Lead, utcnow


def fill(store: Store, leads: int, activities: int) -> int:
    now = utcnow()
    with store.session() as s:
        rows = [
            Lead(email=f"p{i}@bench{i % 500}.example", name=f"Person {i}", company=f"Co {i % 500}")
            for i in range(leads)
        ]
        s.add_all(rows)
        s.flush()
        ids = [r.id for r in rows]
        for n, lead_id in enumerate(ids[: min(leads // 10, 400)]):
            lifecycle.announce(s, lead_id=lead_id, now=now - timedelta(days=n % 20, hours=2))
            if n % 2 == 0:
                lifecycle.claim(s, lead_id=lead_id, user="U1", now=now - timedelta(days=n % 20))
        busy = ids[-1]
        s.add_all(
            Activity(
                lead_id=busy,
                kind="page_visit",
                occurred_at=now - timedelta(hours=i),
                detail=f"/page/{i}",
                data={"url": f"https://www.example.com/page/{i}"},
            )
            for i in range(activities)
        )
        for i in range(activities // 10):
            add_note(s, lead_id=busy, author="U1", text=f"note {i} " * 20, now=now)
    assert busy is not None
    return busy


def median_ms(client: TestClient, path: str, n: int = 30) -> float:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        r = client.get(path)
        times.append(time.perf_counter() - started)
        assert r.status_code == 200, (path, r.status_code)
    return statistics.median(times) * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--leads", type=int, default=20_000)
    ap.add_argument("--activities", type=int, default=300)
    ap.add_argument("--db")
    args = ap.parse_args()
    url = args.db or f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    store = Store(url)
    upgrade(store)
    busy = fill(store, args.leads, args.activities)
    settings = Settings(_env_file=None, database_url=url, rescore_interval_minutes=0)  # type: ignore[call-arg]
    rt = build_runtime(settings, store=store)
    with TestClient(create_app(rt)) as client:
        health = median_ms(client, "/healthz")
        lead = median_ms(client, page_link(rt, person="bench", lead_id=busy))
        dash = median_ms(client, page_link(rt, person="bench"))
    print(f"{store.url.split('://')[0]}, {args.leads} leads, {args.activities} activities on one")
    print(f"  /healthz (reference)      {health:7.2f} ms")
    print(f"  lead page                 {lead:7.2f} ms  ({lead / health:5.1f}x the reference)")
    print(f"  dashboard                 {dash:7.2f} ms  ({dash / health:5.1f}x the reference)")


if __name__ == "__main__":
    main()
