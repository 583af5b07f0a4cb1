"""`GET /metrics` (Prometheus text format) and `GET /readyz`.

Two kinds of figures. What the database knows (inputs by status and channel, leads, activities
such as announcements and claims, the outbox and its dead letters, speed to lead) is read at
scrape time, so every `serve` process and worker process is counted whatever did the work.
What only a process knows (SMTP replies by code, Slack call latency and errors, rescore
duration) is counted where it happens with prometheus_client's default registry.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from storage.db import Store
from storage.errors import StoreUnavailable
from storage.health import Health, read_health
from storage.models import utcnow

SPEED_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
BACKLOG_AGE = timedelta(minutes=5)  # pending input or outbox older than this: not ready


class StoreCollector(Collector):
    """The database's view, read at each scrape."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[Any]:
        up = GaugeMetricFamily("leadbot_store_up", "1 when the database answered this scrape")
        try:
            with self.store.reading() as session:
                health = read_health(session)
        except StoreUnavailable:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from _families(health)


def _families(h: Health) -> Iterator[Any]:
    inputs = GaugeMetricFamily(
        "leadbot_inputs", "Raw inputs stored, by status and channel", labels=["status", "channel"]
    )
    for (status, channel), n in sorted(h.inputs.items()):
        inputs.add_metric([status, channel], n)
    yield inputs
    leads = GaugeMetricFamily(
        "leadbot_leads", "Leads by status and temperature", labels=["status", "temperature"]
    )
    for (status, temperature), n in sorted(h.leads.items()):
        leads.add_metric([status, temperature], n)
    yield leads
    acts = GaugeMetricFamily(
        "leadbot_activities", "Activities by kind (announced, claimed, won, …)", labels=["kind"]
    )
    for kind, n in sorted(h.activities.items()):
        acts.add_metric([kind], n)
    yield acts
    outbox = GaugeMetricFamily(
        "leadbot_outbox_messages", "Outbox messages by kind and status", labels=["kind", "status"]
    )
    for (kind, status), n in sorted(h.outbox.items()):
        outbox.add_metric([kind, status], n)
    yield outbox
    depth = GaugeMetricFamily("leadbot_outbox_depth", "Outbox messages waiting to be sent")
    depth.add_metric([], sum(n for (_, status), n in h.outbox.items() if status == "pending"))
    yield depth
    dead = GaugeMetricFamily("leadbot_outbox_dead", "Dead letters: messages Slack refused")
    dead.add_metric([], sum(n for (_, status), n in h.outbox.items() if status == "dead"))
    yield dead
    now = utcnow()
    for name, oldest in (
        ("leadbot_input_backlog_age_seconds", h.oldest_pending_input),
        ("leadbot_outbox_backlog_age_seconds", h.oldest_pending_outbox),
    ):
        age = GaugeMetricFamily(name, "Age of the oldest waiting item (0: none waits)")
        age.add_metric([], max((now - oldest).total_seconds(), 0.0) if oldest else 0.0)
        yield age
    speed = HistogramMetricFamily(
        "leadbot_speed_to_lead_seconds",
        "From a lead's first message to its announcement, leads announced in the last 7 days",
    )
    counts: list[tuple[str, float]] = []
    values = sorted(h.speed_to_lead)
    i = 0
    for bound in SPEED_BUCKETS:
        while i < len(values) and values[i] <= bound:
            i += 1
        counts.append((str(bound), float(i)))
    counts.append(("+Inf", float(len(values))))
    speed.add_metric([], counts, float(sum(values)))
    yield speed


def metrics_routes(store: Store) -> list[BaseRoute]:
    registry = CollectorRegistry()
    registry.register(StoreCollector(store))

    async def metrics(request: Request) -> Response:
        body = generate_latest(REGISTRY) + await asyncio.to_thread(generate_latest, registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    async def readyz(request: Request) -> Response:
        """Ready: the database answers, nothing waits too long, and no dead letter waits."""
        try:
            health = await asyncio.to_thread(_health, store)
        except StoreUnavailable as e:
            return JSONResponse({"ready": False, "problems": [str(e)]}, status_code=503)
        problems = []
        now = utcnow()
        if health.oldest_pending_input and now - health.oldest_pending_input > BACKLOG_AGE:
            problems.append("inputs wait to be processed for more than 5 minutes")
        if health.oldest_pending_outbox and now - health.oldest_pending_outbox > BACKLOG_AGE:
            problems.append("Slack messages wait to be sent for more than 5 minutes")
        dead = sum(n for (_, status), n in health.outbox.items() if status == "dead")
        if dead:
            problems.append(f"{dead} dead letter(s): `leadbot outbox list --dead`")
        return JSONResponse(
            {"ready": not problems, "problems": problems}, status_code=503 if problems else 200
        )

    return [
        Route("/metrics", metrics, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
    ]


def _health(store: Store) -> Health:
    with store.reading() as session:
        return read_health(session)
