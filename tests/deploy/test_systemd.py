"""deploy/leadbot.service: the settings docs/operations.md promises, and systemd's own checks
(`systemd-analyze verify` and `security`) where systemd-analyze is installed."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[2] / "deploy" / "leadbot.service"
ANALYZE = shutil.which("systemd-analyze")


def directives(text: str) -> dict[str, dict[str, list[str]]]:
    """{section: {key: [values, in order]}}: systemd keys repeat, and an empty one resets a list."""
    found: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        found[section][key.strip()].append(value.strip())
    return found


def last(unit: dict[str, dict[str, list[str]]], key: str) -> str:
    values = unit["Service"][key]
    assert values, f"{key} is not set"
    return values[-1]


def test_the_unit_stops_the_workers_restarts_on_failure_and_runs_unprivileged() -> None:
    unit = directives(UNIT.read_text())
    assert last(unit, "KillMode") == "control-group"  # the ingest workers go with `serve`
    assert last(unit, "Restart") == "on-failure"
    assert last(unit, "RestartPreventExitStatus") == "78"  # a broken setting is not retried
    assert last(unit, "User") not in ("", "root") and last(unit, "Group")
    assert last(unit, "ExecStart").split()[-1] == "serve"
    assert "LEADBOT_ENV_FILE=/etc/leadbot/leadbot.env" in unit["Service"]["Environment"]
    assert last(unit, "EnvironmentFile").startswith("-")  # optional: uvicorn's variables
    assert int(last(unit, "LimitNOFILE")) >= 65536
    assert last(unit, "StateDirectory") == "leadbot"
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "CapabilityBoundingSet": "",  # no capability: Postfix takes port 25
    }.items():
        assert last(unit, key) == value, key
    assert "AmbientCapabilities" not in unit["Service"]


def test_uncommenting_the_port_25_lines_grants_only_binding_low_ports() -> None:
    text = re.sub(r"^#((?:Ambient|CapabilityBounding)\w*=CAP_NET_BIND_SERVICE)$", r"\1",
                  UNIT.read_text(), flags=re.M)  # fmt: skip
    unit = directives(text)
    bounding = unit["Service"]["CapabilityBoundingSet"]
    assert bounding[-1] == "CAP_NET_BIND_SERVICE" and "" in bounding  # reset, then only this
    assert unit["Service"]["AmbientCapabilities"] == ["CAP_NET_BIND_SERVICE"]


def installable(tmp_path: Path, text: str) -> Path:
    """The unit with its ExecStart pointing at this venv's leadbot (verify checks that it exists)."""
    leadbot = Path(sys.executable).with_name("leadbot")
    unit = tmp_path / "leadbot.service"
    unit.write_text(text.replace("/opt/leadbot/.venv/bin/leadbot", str(leadbot)))
    return unit


@pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed (Debian's systemd)")
def test_systemd_analyze_verifies_the_unit_without_a_warning(tmp_path: Path) -> None:
    assert ANALYZE is not None
    unit = installable(tmp_path, UNIT.read_text())
    done = subprocess.run(
        [ANALYZE, "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stdout + done.stderr) == (0, "")
    # The check can fail: systemd warns about a directive it does not know or cannot parse.
    typo = installable(tmp_path, UNIT.read_text().replace("KillMode=control-group", "KillMode=cg"))
    done = subprocess.run(
        [ANALYZE, "verify", str(typo)], capture_output=True, text=True, timeout=60
    )
    assert "Failed to parse kill mode" in done.stderr


@pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed (Debian's systemd)")
def test_systemd_rates_the_units_exposure_ok(tmp_path: Path) -> None:
    assert ANALYZE is not None
    unit = installable(tmp_path, UNIT.read_text())
    done = subprocess.run(
        [ANALYZE, "security", "--offline=yes", "--no-pager", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    m = re.search(r"Overall exposure level for leadbot\.service: ([\d.]+) (\w+)", done.stdout)
    assert m, done.stdout + done.stderr
    assert float(m.group(1)) <= 2.0, done.stdout  # "OK" is under 4; without hardening it is 9.6
