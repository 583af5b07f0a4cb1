"""Peak memory of one big message in every process of `leadbot serve`: the receiver and the worker.

    .venv/bin/python bench/memory.py [--mib 25] [--database-url URL] [--rounds 2]

Runs a real `leadbot serve` (one ingest worker) on a scratch database, sends one message of about
`--mib` MiB (a short inquiry and a random attachment, base64 as a mail client sends it) with
smtplib and waits until it is processed. For each process the peak resident set is reset just
before (Linux: /proc/PID/clear_refs) and read after (VmHWM); the figure is the growth of the
peak over the resident set before, as a multiple of the message's size (the reference measured in
the same run). The goal (issue 11): under 5x in every process.
"""

from __future__ import annotations

import argparse
import os
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ingest import drop_scratch, fresh_url  # noqa: E402

LEADBOT = Path(sys.executable).with_name("leadbot")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def status(pid: int, field: str) -> int:
    """A /proc/PID/status figure in bytes (VmRSS, VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                found.append(int(entry))
    return found


def cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def big_message(size: int, n: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Big Sender <big@bigcorp.example>"
    msg["To"] = "leads@leads.example.com"
    msg["Subject"] = f"Quote request with a large attachment {n}"
    msg["Message-ID"] = f"<big-{n}-{time.time_ns()}@bigcorp.example>"
    msg.set_content("Please quote 500 seats; our requirements are attached.\n\nJo Big\nCTO\n")
    msg.add_attachment(
        os.urandom(int(size / 1.37)),  # base64 with line breaks grows by ~1.37
        maintype="application",
        subtype="octet-stream",
        filename="spec.bin",
    )
    return msg.as_bytes(policy=SMTP_POLICY)


def wait_processed(url: str, n: int, timeout: float = 300) -> None:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                done = conn.scalar(
                    sa.text("SELECT count(*) FROM raw_input WHERE status <> 'pending'")
                )
            if done and done >= n:
                return
            time.sleep(0.2)
    finally:
        engine.dispose()
    raise TimeoutError("the message was not processed")


def run(args: argparse.Namespace, tmp: Path) -> None:
    url = fresh_url(args.database_url, tmp, "memory")
    smtp_port, http_port = free_port(), free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "LEADBOT_DATABASE_URL": url,
        "LEADBOT_INBOX_DOMAINS": "leads.example.com",
        "LEADBOT_INGEST_WORKERS": "1",
        "LEADBOT_RESCORE_INTERVAL_MINUTES": "0",
        "LEADBOT_MAX_MESSAGE_BYTES": str(64 * 2**20),
    }
    serve = subprocess.Popen(
        [str(LEADBOT), "serve", "--smtp-port", str(smtp_port), "--http-port", str(http_port)],
        env=env,
        cwd=tmp,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", smtp_port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or serve.poll() is not None:
                    raise RuntimeError("serve did not start") from None
                time.sleep(0.2)
        time.sleep(3)  # the worker has imported everything and built its pipeline
        workers = [p for p in children(serve.pid) if "spawn_main" in cmdline(p)]
        processes = {"receiver (serve)": serve.pid, **{f"worker {p}": p for p in workers}}
        print(f"{'round':>5} {'message MiB':>11} {'process':<18} {'before MiB':>10} "
              f"{'peak MiB':>9} {'growth MiB':>10} {'x message':>9}")  # fmt: skip
        for n in range(args.rounds):
            raw = big_message(int(args.mib * 2**20), n)
            before = {}
            for name, pid in processes.items():
                Path(f"/proc/{pid}/clear_refs").write_text("5")  # peak RSS := RSS now
                before[name] = status(pid, "VmRSS")
            with smtplib.SMTP("127.0.0.1", smtp_port, timeout=300) as client:
                client.sendmail("big@bigcorp.example", ["leads@leads.example.com"], raw)
            wait_processed(url, n + 1)
            for name, pid in processes.items():
                peak = status(pid, "VmHWM")
                growth = peak - before[name]
                print(
                    f"{n + 1:>5} {len(raw) / 2**20:>11.1f} {name:<18} {before[name] / 2**20:>10.0f}"
                    f" {peak / 2**20:>9.0f} {growth / 2**20:>10.0f} {growth / len(raw):>9.2f}"
                )
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(60)
        drop_scratch(args.database_url, url)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mib", type=float, default=25.0, help="message size in MiB")
    parser.add_argument("--rounds", type=int, default=2, help="messages, one after the other")
    parser.add_argument("--database-url", help="PostgreSQL server URL; default SQLite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run(args, Path(tmp))


if __name__ == "__main__":
    main()
