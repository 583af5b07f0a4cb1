"""`/metrics` in the Prometheus text format and `/readyz`, read through the real app on both
backends; JSON logs; the start-up summary line."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update
from starlette.testclient import TestClient

from bot import logs
from bot.runtime import Runtime
from bot.serve import startup_summary
from bot.web import create_app
from storage.models import OutboxMessage, RawInput, utcnow

MAIL = (
    b"From: Jane Roe <jane@acme.example>\r\nTo: leads@leads.example.com\r\n"
    b"Subject: Pricing for 200 seats\r\nMessage-ID: <m1@acme.example>\r\n\r\n"
    b"We need pricing and a demo this week, budget approved.\r\n"
)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def test_metrics_count_what_the_database_knows(runtime: Runtime) -> None:
    raw_id, _ = runtime.pipeline.accept(MAIL, channel="smtp")
    runtime.pipeline.process(raw_id)
    runtime.pipeline.accept(b"From: x\r\n\r\nbroken\r\n", channel="smtp")
    with TestClient(create_app(runtime)) as client:
        resp = client.get("/metrics")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/plain")
    got = samples(resp.text)
    assert got[("leadbot_store_up", ())] == 1
    assert got[("leadbot_inputs", (("channel", "smtp"), ("status", "processed")))] == 1
    assert got[("leadbot_inputs", (("channel", "smtp"), ("status", "pending")))] == 1
    assert sum(v for (n, _), v in got.items() if n == "leadbot_leads") == 1
    assert ("leadbot_speed_to_lead_seconds_bucket", (("le", "+Inf"),)) in got
    assert ("leadbot_outbox_depth", ()) in got and ("leadbot_outbox_dead", ()) in got


def test_readyz_reports_a_backlog_and_dead_letters(runtime: Runtime) -> None:
    with TestClient(create_app(runtime)) as client:
        assert client.get("/readyz").json() == {"ready": True, "problems": []}
        runtime.pipeline.accept(MAIL, channel="smtp")
        with runtime.store.session() as s:
            s.execute(update(RawInput).values(received_at=utcnow() - timedelta(minutes=10)))
            s.add(OutboxMessage(kind="announce", lead_id=None, payload={}, status="dead"))
        resp = client.get("/readyz")
    assert resp.status_code == 503
    problems = " ".join(resp.json()["problems"])
    assert "inputs wait" in problems and "1 dead letter" in problems
    assert client.get("/healthz").status_code == 200  # liveness stays cheap and green


def test_json_logs_are_one_object_a_line(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure(verbose=False, json_lines=True)
    try:
        logging.getLogger("leadbot.test").warning("lead #%s claimed by %s", 7, "U1")
        line = capsys.readouterr().err.strip().splitlines()[-1]
        entry = json.loads(line)
        assert entry["level"] == "WARNING" and entry["message"] == "lead #7 claimed by U1"
        assert entry["logger"] == "leadbot.test" and entry["time"].endswith("+00:00")
    finally:
        logs.configure(verbose=False, json_lines=False)


def test_startup_summary_says_how_it_is_set_up(runtime: Runtime) -> None:
    line = startup_summary(runtime, jobs=["pending sweep", "prune"])
    assert "Slack off" in line and "built-in rules" in line and "ourco.example" in line
    assert "jobs: pending sweep, prune" in line
