"""Form intake benchmark: submissions per second end to end, through a real uvicorn.

    .venv/bin/python bench/intake.py [--requests 400] [--clients 1,4,16] [--postgres-url URL]

End to end means: HTTP POST /forms/{key} (urlencoded) -> raw committed -> parsed -> lead
recorded -> scored -> 201 with the lead id, every request a new lead. The server runs in a child
process (uvicorn on a free port, one worker, as `leadbot serve` runs it); the clients are threads
with keep-alive connections in this process. PostgreSQL runs use a fresh database that is dropped
afterwards; the URL comes from --postgres-url or LEADBOT_TEST_POSTGRES_URL (skipped when neither).
"""

from __future__ import annotations

import argparse
import http.client
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
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa

FORMS = "[defaults]\nrate_per_minute = 1e12\nburst = 1000000000\n"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(database_url: str, forms_file: str, port: int) -> None:
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
    )
    runtime = build_runtime(settings)
    upgrade(runtime.store)
    uvicorn.run(
        create_app(runtime), host="127.0.0.1", port=port, log_level="warning", access_log=False
    )


def wait_ready(port: int, timeout: float = 30) -> None:
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


def body(run: str, n: int) -> bytes:
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


def client(
    port: int, run: str, numbers: list[int], latencies: list[float], errors: list[str]
) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"content-type": "application/x-www-form-urlencoded", "accept": "application/json"}
    for n in numbers:
        start = time.perf_counter()
        conn.request("POST", "/forms/bench", body=body(run, n), headers=headers)
        response = conn.getresponse()
        response.read()
        latencies.append(time.perf_counter() - start)
        if response.status != 201:
            errors.append(str(response.status))
    conn.close()


def run_once(database_url: str, clients: int, requests: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        forms = Path(tmp) / "forms.toml"
        forms.write_text(FORMS)
        port = free_port()
        proc = multiprocessing.get_context("spawn").Process(
            target=serve, args=(database_url, str(forms), port), daemon=True
        )
        proc.start()
        try:
            wait_ready(port)
            run = uuid.uuid4().hex[:8]
            shares = [list(range(i, requests, clients)) for i in range(clients)]
            latencies: list[float] = []
            errors: list[str] = []
            threads = [
                threading.Thread(target=client, args=(port, run, share, latencies, errors))
                for share in shares
            ]
            start = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.perf_counter() - start
        finally:
            proc.terminate()
            proc.join(timeout=10)
    if errors:
        raise SystemExit(f"{len(errors)} requests failed: {sorted(set(errors))}")
    latencies.sort()
    return {
        "rate": requests / elapsed,
        "p50": statistics.median(latencies) * 1000,
        "p95": latencies[int(len(latencies) * 0.95) - 1] * 1000,
    }


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
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--clients", default="1,4,16")
    parser.add_argument("--postgres-url", default=os.environ.get("LEADBOT_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    counts = [int(c) for c in args.clients.split(",")]
    print(
        f"{'backend':<11} {'clients':>7} {'requests':>8} {'subm/s':>8} {'p50 ms':>8} {'p95 ms':>8}"
    )
    backends = ["sqlite"] + (["postgresql"] if args.postgres_url else [])
    for backend in backends:
        for clients in counts:
            if backend == "sqlite":
                tmp = tempfile.mkdtemp(prefix="leadbot-bench-")
                url, cleanup = f"sqlite:///{tmp}/bench.db", None
            else:
                url, name = fresh_pg(args.postgres_url)
                cleanup = name
            try:
                r = run_once(url, clients, args.requests)
            finally:
                if cleanup:
                    drop_pg(args.postgres_url, cleanup)
            print(
                f"{backend:<11} {clients:>7} {args.requests:>8} {r['rate']:>8.1f} "
                f"{r['p50']:>8.1f} {r['p95']:>8.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
