"""`leadbot serve`'s worker processes, as real processes: each accepted input is processed exactly
once while the pending sweep runs beside them, and no worker outlives a serve killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import smtplib
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.bot.fake_slack import wait_until
from tests.serving import LEADBOT, free_port, start_serve

pytestmark = pytest.mark.skipif(not LEADBOT.exists(), reason="the leadbot script is in the venv")

INBOX = "leads.example.com"


@contextmanager
def serving(
    tmp_path: Path, db_url: str, **extra: str
) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """A `leadbot serve` process on free ports; stopped with SIGTERM unless the test killed it."""
    smtp_port, http_port = free_port(), free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "LEADBOT_DATABASE_URL": db_url,
        "LEADBOT_INBOX_DOMAINS": INBOX,
        "LEADBOT_RESCORE_INTERVAL_MINUTES": "0",
        **extra,
    }
    proc = start_serve(env, tmp_path, smtp_port=smtp_port, http_port=http_port)
    try:
        yield proc, smtp_port
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)


def _message(n: int) -> bytes:
    return (
        f"From: Buyer {n} <buyer{n}@acme{n}.example>\r\nTo: sales@{INBOX}\r\n"
        f"Subject: Pricing for {n} seats\r\nMessage-ID: <stream-{n}@acme.example>\r\n\r\n"
        "We need a quote for 40 seats and a demo next week.\r\n\r\nJo\r\nCTO\r\n"
    ).encode()


def test_each_input_is_processed_once_while_the_sweep_runs(tmp_path: Path, db_url: str) -> None:
    """Four connections stream mail for about three seconds, past some ten sweeps (every 0.3 s):
    the sweep takes only what no worker holds, so nothing is processed twice or marked duplicate."""
    per_connection, connections = 60, 4
    with serving(
        tmp_path, db_url, LEADBOT_INGEST_WORKERS="1", LEADBOT_SWEEP_INTERVAL_SECONDS="0.3"
    ) as (_, port):
        started = time.monotonic()
        failures: list[BaseException] = []

        def stream(first: int) -> None:
            try:
                with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
                    for n in range(first, first + per_connection):
                        client.sendmail(
                            f"buyer{n}@acme{n}.example", [f"sales@{INBOX}"], _message(n)
                        )
                        time.sleep(0.04)  # a steady stream, not one burst before the first sweep
            except BaseException as e:
                failures.append(e)

        threads = [
            threading.Thread(target=stream, args=(c * per_connection,)) for c in range(connections)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        streamed_for = time.monotonic() - started
        assert not failures, failures
        engine = sa.create_engine(db_url, poolclass=sa.pool.NullPool)

        def counts() -> dict[tuple[str, int], int]:
            with engine.connect() as conn:
                rows = conn.execute(
                    sa.text("SELECT status, attempts, count(*) FROM raw_input GROUP BY 1, 2")
                )
                return {(str(s), int(a)): int(c) for s, a, c in rows}

        total = per_connection * connections

        def settled() -> bool:
            now = counts()
            return sum(now.values()) == total and not any(s == "pending" for s, _ in now)

        wait_until(settled, timeout=60, interval=0.3)
        found = counts()
        with engine.connect() as conn:
            leads = conn.scalar(sa.text("SELECT count(*) FROM lead"))
        engine.dispose()
    assert streamed_for > 1.5  # the stream did run past several sweeps
    assert found == {("processed", 1): total}, found  # no duplicate, none processed twice
    assert leads == total


def _children(pid: int) -> set[int]:
    """Every living descendant of `pid` (from /proc: zombies waiting for a reaper are gone)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rpartition(")")[2].split()
        if fields[0] != "Z":
            parents[int(entry)] = int(fields[1])
    found, todo = set(), [pid]
    while todo:
        parent = todo.pop()
        kids = {p for p, pp in parents.items() if pp == parent}
        found |= kids
        todo += list(kids)
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
def test_worker_processes_exit_when_serve_is_killed(tmp_path: Path, sqlite_url: str) -> None:
    with serving(tmp_path, sqlite_url, LEADBOT_INGEST_WORKERS="2") as (proc, port):
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:  # the workers are working
            client.sendmail("buyer1@acme1.example", [f"sales@{INBOX}"], _message(1))
        wait_until(lambda: len(_children(proc.pid)) >= 2, timeout=30, interval=0.1)
        everyone = _children(proc.pid)  # the workers and multiprocessing's resource tracker
        workers = {p for p in everyone if b"spawn_main" in Path(f"/proc/{p}/cmdline").read_bytes()}
        assert len(workers) == 2
        proc.kill()  # SIGKILL: serve runs no clean-up at all
        proc.wait(10)
        killed = time.monotonic()
        while any(_alive(p) for p in workers) and time.monotonic() - killed < 10:
            time.sleep(0.05)
        gone_after = time.monotonic() - killed
        while any(_alive(p) for p in everyone) and time.monotonic() - killed < 20:
            time.sleep(0.1)  # the tracker follows once the workers' ends of its pipe close
    assert not [p for p in workers if _alive(p)]
    assert gone_after < 5.0, gone_after
    assert not [p for p in everyone if _alive(p)]
