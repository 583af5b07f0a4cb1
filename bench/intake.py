"""Intake benchmark: form posts and tracking events per second end to end, beside a bare endpoint.

    .venv/bin/python bench/intake.py [--rounds 3] [--requests 400] [--clients 64]
                                     [--backends sqlite,postgresql] [--postgres-url URL]

Two servers, run the same way and up at the same time: child processes with uvicorn on a free
port, one worker, as `leadbot serve` runs it; the clients are threads with keep-alive connections
in this process, `--clients` of them at once, the same client for every target. Each round sends
a burst of `--requests` to each target in turn, so every ratio compares bursts seconds apart (the
machine's load drifts over minutes); the table gives the median rate and ratio over the rounds,
the range of the ratio, and the latencies of all bursts.

- `bare`: a Starlette app of one route that reads the body and answers 201 with a small JSON
  body: the reference, what the server and this client cost with no work at all.
- `forms`: POST /forms/{key} (urlencoded) -> raw committed -> parsed -> lead recorded -> scored
  -> 201 with the lead id, every request a new lead.
- `events`: POST /events, one page view per request of one of 200 people (so they become
  scored activities of known leads) -> recorded -> 200.

Afterwards the rows in the database are counted: every accepted post must be there. PostgreSQL runs use a fresh database
that is dropped afterwards; the URL comes from --postgres-url or LEADBOT_TEST_POSTGRES_URL.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa

KEY = "wk_bench_intake"
FORMS = f"""[defaults]
rate_per_minute = 1e12
burst = 1000000000

[sites.www]
key = "{KEY}"
"""
PEOPLE = 200
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_bare(port: int) -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def endpoint(request: Request) -> JSONResponse:
        await request.body()
        return JSONResponse({"status": "accepted", "lead_id": 1}, status_code=201)

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    app = Starlette(routes=[Route("/post", endpoint, methods=["POST"]), Route("/healthz", healthz)])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def serve_leadbot(database_url: str, forms_file: str, port: int) -> None:
    import logging

    import uvicorn

    from bot.config import Settings
    from bot.runtime import build_runtime
    from bot.web import create_app
    from storage.migrate import upgrade

    logging.disable(logging.INFO)
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        database_url=database_url,
        LEADBOT_FORMS=forms_file,
        rescore_interval_minutes=0,
        tracking_rate_per_minute=1e12,
        tracking_burst=1_000_000_000,
    )
    runtime = build_runtime(settings)
    upgrade(runtime.store)
    uvicorn.run(
        create_app(runtime), host="127.0.0.1", port=port, log_level="warning", access_log=False
    )


def wait_ready(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("server did not start")


def form_body(run: str, n: int) -> bytes:
    return urlencode(
        {
            "email": f"person{n}@company{n}-{run}.example",
            "name": f"Person {n}",
            "company": f"Company {n}",
            "phone": "+1 415 555 2671",
            "message": f"We would like pricing for {n % 90 + 10} seats and a demo next week.",
            "utm_campaign": "bench",
        }
    ).encode()


def event_body(run: str, n: int) -> bytes:
    person = n % PEOPLE
    return json.dumps(
        {
            "key": KEY,
            "email": f"reader{person}@company{person}-{run}.example",
            "events": [
                {
                    "id": f"{run}-{n}",
                    "type": "page_view",
                    "url": f"https://www.example.com/docs/page-{n}",
                    "title": f"Page {n}",
                }
            ],
        }
    ).encode()


TARGETS = {
    # name: (path, content type, body, expected status)
    "bare": ("/post", "application/x-www-form-urlencoded", form_body, 201),
    "forms": ("/forms/bench", "application/x-www-form-urlencoded", form_body, 201),
    "events": ("/events", "application/json", event_body, 200),
}


def client(
    port: int,
    target: str,
    run: str,
    numbers: list[int],
    latencies: list[float],
    errors: list[str],
) -> None:
    path, media, make, expected = TARGETS[target]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"content-type": media, "accept": "application/json", "user-agent": BROWSER}
    for n in numbers:
        start = time.perf_counter()
        conn.request("POST", path, body=make(run, n), headers=headers)
        response = conn.getresponse()
        response.read()
        latencies.append(time.perf_counter() - start)
        if response.status != expected:
            errors.append(str(response.status))
    conn.close()


def start(target: str, port: int, database_url: str | None, forms_file: str) -> Any:
    ctx = multiprocessing.get_context("spawn")
    if target == "bare":
        proc = ctx.Process(target=serve_bare, args=(port,), daemon=True)
    else:
        proc = ctx.Process(target=serve_leadbot, args=(database_url, forms_file, port), daemon=True)
    proc.start()
    return proc


def burst(
    port: int, target: str, run: str, first: int, clients: int, requests: int
) -> tuple[float, list[float]]:
    """`requests` posts from `clients` threads at once: (requests/s, latencies)."""
    numbers = list(range(first, first + requests))
    shares = [numbers[i::clients] for i in range(clients)]
    latencies: list[float] = []
    errors: list[str] = []
    threads = [
        threading.Thread(target=client, args=(port, target, run, share, latencies, errors))
        for share in shares
    ]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    if errors:
        raise SystemExit(f"{target}: {len(errors)} requests failed: {sorted(set(errors))}")
    return requests / elapsed, latencies


def run_backend(
    database_url: str, clients: int, requests: int, rounds: int
) -> dict[str, dict[str, float]]:
    """Both servers up at once; rounds of bare, forms, events bursts one after the other, so
    each ratio compares runs a few seconds apart (the machine's load drifts over minutes)."""
    with tempfile.TemporaryDirectory() as tmp:
        forms = Path(tmp) / "forms.toml"
        forms.write_text(FORMS)
        ports = {"bare": free_port(), "leadbot": free_port()}
        procs = [
            start("bare", ports["bare"], None, str(forms)),
            start("leadbot", ports["leadbot"], database_url, str(forms)),
        ]
        try:
            for port in ports.values():
                wait_ready(port)
            run = uuid.uuid4().hex[:8]
            # A short warm-up of each (imports, caches, the first leads and connections).
            burst(ports["bare"], "bare", run, 10**8, clients, clients * 4)
            burst(ports["leadbot"], "forms", run, 10**8, clients, clients * 4)
            burst(ports["leadbot"], "events", run, 10**8, clients, clients * 4)
            rates: dict[str, list[float]] = {t: [] for t in TARGETS}
            ratios: dict[str, list[float]] = {t: [] for t in TARGETS}
            latencies: dict[str, list[float]] = {t: [] for t in TARGETS}
            for r in range(rounds):
                for target in TARGETS:
                    port = ports["bare" if target == "bare" else "leadbot"]
                    rate, lat = burst(port, target, run, r * requests, clients, requests)
                    rates[target].append(rate)
                    latencies[target] += lat
                for target in TARGETS:
                    ratios[target].append(rates[target][-1] / rates["bare"][-1])
            counted = {t: count_rows(database_url, t) - clients * 4 for t in ("forms", "events")}
        finally:
            for proc in procs:
                proc.terminate()
                proc.join(timeout=10)
    out: dict[str, dict[str, float]] = {}
    for target in TARGETS:
        lat = sorted(latencies[target])
        out[target] = {
            "rate": statistics.median(rates[target]),
            "ratio": statistics.median(ratios[target]),
            "low": min(ratios[target]),
            "high": max(ratios[target]),
            "p50": statistics.median(lat) * 1000,
            "p95": lat[int(len(lat) * 0.95) - 1] * 1000,
            "rows": float(counted.get(target, -1)),
        }
    return out


def count_rows(database_url: str, target: str) -> int:
    engine = sa.create_engine(database_url)
    sql = {
        "forms": "SELECT count(*) FROM raw_input WHERE status = 'processed'",
        "events": "SELECT count(*) FROM activity WHERE kind = 'page_visit'",
    }[target]
    with engine.connect() as conn:
        n = int(conn.execute(sa.text(sql)).scalar_one())
    engine.dispose()
    return n


def fresh_pg(server_url: str) -> tuple[str, str]:
    name = f"leadbot_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = sa.engine.make_url(server_url).set(database=name)
    return url.render_as_string(hide_password=False), name


def drop_pg(server_url: str, name: str) -> None:
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=400, help="per burst")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--postgres-url", default=os.environ.get("LEADBOT_TEST_POSTGRES_URL"))
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    print(
        f"load average {os.getloadavg()[0]:.1f}; {args.rounds} rounds of {args.requests} requests"
    )
    print(
        f"{'backend':<11} {'target':<7} {'clients':>7} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'vs bare':>8} {'range':>13} {'rows':>6}"
    )
    backends = [b for b in args.backends.split(",") if b == "sqlite" or args.postgres_url]
    total = args.requests * args.rounds
    for backend in backends:
        if backend == "sqlite":
            tmp = tempfile.mkdtemp(prefix="leadbot-bench-")
            url, cleanup = f"sqlite:///{tmp}/bench.db", None
        else:
            url, cleanup = fresh_pg(args.postgres_url)
        try:
            result = run_backend(url, args.clients, args.requests, args.rounds)
        finally:
            if cleanup:
                drop_pg(args.postgres_url, cleanup)
        for target, r in result.items():
            rows = "-" if target == "bare" else f"{int(r['rows'])}"
            spread = f"{r['low']:.3f}-{r['high']:.3f}"
            print(
                f"{backend:<11} {target:<7} {args.clients:>7} {r['rate']:>8.1f} {r['p50']:>8.1f} "
                f"{r['p95']:>8.1f} {r['ratio']:>8.3f} {spread:>13} {rows:>6}",
                flush=True,
            )
            if target != "bare" and int(r["rows"]) != total:
                raise SystemExit(f"{target}: {total} accepted but {int(r['rows'])} rows recorded")


if __name__ == "__main__":
    main()
