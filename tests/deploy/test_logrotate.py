"""deploy/logrotate/leadbot, run by Debian's logrotate on a log of its own."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

CONF = Path(__file__).resolve().parents[2] / "deploy" / "logrotate" / "leadbot"
LOGROTATE = shutil.which("logrotate") or "/usr/sbin/logrotate"


@pytest.mark.skipif(not Path(LOGROTATE).exists(), reason="logrotate is not installed")
def test_logrotate_rotates_the_log_in_place_for_the_process_writing_it(tmp_path: Path) -> None:
    logs = tmp_path / "log"
    logs.mkdir()
    user = "root" if os.geteuid() == 0 else os.environ.get("USER", "")
    text = CONF.read_text().replace("/var/log/leadbot", str(logs))
    conf = tmp_path / "leadbot.conf"
    conf.write_text(text.replace("su leadbot leadbot", f"su {user} {user}" if user else ""))
    serve_log = logs / "serve.log"
    with serve_log.open("a") as writer:  # as `serve` holds it open
        writer.write("2026-12-04 INFO leadbot.serve: LeadBot serving\n")
        writer.flush()
        done = subprocess.run(
            [LOGROTATE, "--force", "--state", str(tmp_path / "state"), str(conf)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        writer.write("after the rotation\n")
    assert (logs / "serve.log.1").read_text().startswith("2026-12-04 INFO")
    # copytruncate: the open file was emptied, so the process goes on writing at its start
    # (a file opened for appending), not into the rotated copy.
    assert serve_log.read_text() == "after the rotation\n"
