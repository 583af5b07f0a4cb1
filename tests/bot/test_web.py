"""The one ASGI app: health answers for the database, errors are JSON."""

from __future__ import annotations

import socket

from starlette.testclient import TestClient

from bot.runtime import Runtime, build_runtime
from bot.web import create_app
from tests.conftest import make_settings


def test_healthz_is_200_when_the_database_answers(runtime: Runtime) -> None:
    with TestClient(create_app(runtime)) as client:
        answer = client.get("/healthz")
    assert answer.status_code == 200 and answer.json() == {"status": "ok"}


def test_healthz_is_503_when_it_does_not() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    rt = build_runtime(make_settings(f"postgresql+psycopg://postgres@127.0.0.1:{port}/x"))
    with TestClient(create_app(rt)) as client:
        answer = client.get("/healthz")
    assert answer.status_code == 503 and answer.json()["status"] == "unavailable"


def test_unknown_routes_and_methods_answer_json(runtime: Runtime) -> None:
    with TestClient(create_app(runtime)) as client:
        missing = client.get("/nope")
        wrong = client.post("/healthz")
    assert missing.status_code == 404 and "error" in missing.json()
    assert wrong.status_code == 405 and "error" in wrong.json()
