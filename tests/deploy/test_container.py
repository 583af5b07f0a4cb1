"""Dockerfile, .dockerignore and compose.yaml: what docs/operations.md promises of the image and
the compose set-up. No Docker daemon or registry is reached from here: the files are read, and
`docker compose config` validates compose.yaml wherever Docker Compose is installed."""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.config import Settings

REPO = Path(__file__).resolve().parents[2]


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", (REPO / "Dockerfile").read_text())
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            found.append((word.upper(), " ".join(rest.split())))
    return found


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last_from:]


def test_the_image_runs_serve_as_its_own_user_and_checks_healthz() -> None:
    stage = final_stage()
    users = [args for word, args in stage if word == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert ("ENTRYPOINT", '["leadbot"]') in stage and ("CMD", '["serve"]') in stage
    (health,) = [args for word, args in stage if word == "HEALTHCHECK"]
    assert "/healthz" in health
    env = " ".join(args for word, args in stage if word == "ENV")
    assert "LEADBOT_HOST=0.0.0.0" in env  # inside the container; compose publishes on loopback
    assert "sqlite:////var/lib/leadbot/" in env and ("VOLUME", '["/var/lib/leadbot"]') in stage
    assert ("STOPSIGNAL", "SIGTERM") in stage


def test_the_image_installs_what_running_needs_not_the_dev_tools() -> None:
    runs = " ".join(args for word, args in instructions() if word == "RUN")
    assert "pip install ." in runs
    assert "[dev]" not in runs and "-e " not in runs  # not editable: /src stays in the build stage
    copied = {args.split()[0] for word, args in final_stage() if word == "COPY"}
    assert copied == {"--from=build"}  # the final image holds the venv, not the sources


def ignored(name: str, patterns: list[str]) -> bool:
    """Docker's rule for a top-level path: the last matching pattern wins, `!` re-includes."""
    verdict = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        if fnmatch.fnmatch(name, pattern.lstrip("!").rstrip("/")):
            verdict = not negate
    return verdict


def test_the_build_context_holds_no_secret_database_or_venv() -> None:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    patterns = [p.strip() for p in lines if p.strip() and not p.startswith("#")]
    for name in (".env", ".venv", "leadbot.db", "leadbot.env", "tests", ".git", "deploy"):
        assert ignored(name, patterns), name
    copied = {args.split()[0].rstrip("/") for word, args in instructions() if word == "COPY"}
    copied.discard("--from=build")
    for name in {*copied, "pyproject.toml", "README.md"}:
        assert not ignored(name, patterns), name


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO / "compose.yaml").read_text())
    return loaded


def test_compose_runs_leadbot_on_postgresql_once_it_is_healthy() -> None:
    services = compose()["services"]
    leadbot, db = services["leadbot"], services["db"]
    assert leadbot["depends_on"]["db"]["condition"] == "service_healthy"
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    url = leadbot["environment"]["LEADBOT_DATABASE_URL"]
    assert url.startswith("postgresql+psycopg://leadbot:${POSTGRES_PASSWORD:?")
    assert url.endswith("@db:5432/" + db["environment"]["POSTGRES_DB"])
    assert "/healthz" in " ".join(leadbot["healthcheck"]["test"])
    assert leadbot["init"] is True  # the ingest worker processes are reaped
    assert leadbot["read_only"] is True and leadbot["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in leadbot["security_opt"]
    for port in leadbot["ports"]:
        assert port.startswith("127.0.0.1:"), port  # Postfix and the proxy on the host, in front
    gateway = compose()["networks"]["default"]["ipam"]["config"][0]["gateway"]
    assert leadbot["environment"]["LEADBOT_SMTP_ALLOWED_CLIENTS"] == gateway
    assert leadbot["environment"]["FORWARDED_ALLOW_IPS"] == gateway
    Settings(smtp_allowed_clients=gateway)  # a value LeadBot accepts
    assert {"leadbot-data", "db-data"} <= set(compose()["volumes"])


def docker_compose() -> list[str] | None:
    if found := shutil.which("docker-compose"):
        return [found]
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    ):
        return [docker, "compose"]
    return None


@pytest.mark.skipif(docker_compose() is None, reason="Docker Compose is not installed")
def test_docker_compose_validates_the_file(tmp_path: Path) -> None:
    command = docker_compose()
    assert command is not None
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "POSTGRES_PASSWORD": "pw"}
    check = [*command, "-f", str(REPO / "compose.yaml"), "config", "--quiet"]
    done = subprocess.run(check, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    env.pop("POSTGRES_PASSWORD")
    done = subprocess.run(check, env=env, capture_output=True, text=True, timeout=60)
    assert "set POSTGRES_PASSWORD" in done.stderr  # no database without a password
