"""A real `leadbot serve` for the tests that run it as an admin would: a free port, a started
process that answers /healthz, and the check itself."""

from __future__ import annotations

import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.bot.fake_slack import wait_until

LEADBOT = Path(sys.executable).with_name("leadbot")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def start_serve(
    env: dict[str, str], cwd: Path, *, smtp_port: int, http_port: int, timeout: float = 60
) -> subprocess.Popen[str]:
    """`leadbot serve` on these ports, once /healthz answers; its output is in `stdout`. The
    caller stops it; one that never answers is killed here and fails with what it printed."""
    proc = subprocess.Popen(
        [str(LEADBOT), "serve", "--smtp-port", str(smtp_port), "--http-port", str(http_port)],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_until(
            lambda: healthy(http_port) or proc.poll() is not None, timeout=timeout, interval=0.2
        )
    except AssertionError:
        proc.kill()
        raise
    if proc.poll() is not None:
        raise AssertionError(f"leadbot serve exited {proc.returncode}: {proc.communicate()[0]}")
    return proc
