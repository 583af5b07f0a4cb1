"""`leadbot serve`: SMTP receiver, HTTP app, outbox dispatcher and scheduled jobs in one process.

Two steps: `build` makes every part from the runtime (nothing listens yet), `run` starts them, waits
for SIGINT/SIGTERM and stops them in order. Periodic work (the pending sweep, rescoring, the Slack
job) goes through the one scheduler of bot.jobs.schedule.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from bot.config import Settings
from bot.dispatcher import Dispatcher, LogSender, Sender
from bot.http_edge import Limits, http_config, quiet_exhaustion
from bot.jobs import workers as rescore_workers
from bot.jobs.rescore import rescore_all
from bot.jobs.schedule import Job, run_periodic
from bot.jobs.sla import JOB_INTERVAL_S, slack_tick
from bot.jobs.weekly import CHECK_INTERVAL_S, weekly_tick
from bot.privacy import prune, prune_visits
from bot.runtime import Runtime, build_pipeline
from bot.slack.routing import parse_routes
from bot.slack.sender import SlackSender
from bot.slack.socket_mode import socket_mode_starter
from bot.web import create_app
from ingest.imap import ImapPoller, imap_starter, parse_imap_url
from ingest.listen import ClientGate
from ingest.smtp import InboxHandler, start_smtp
from ingest.smtp_server import SMTPOptions, server_tls_context
from ingest.worker import freeze_startup_objects, process_pool_queue
from storage.identity import database_fingerprint
from storage.migrate import upgrade

log = logging.getLogger("leadbot.serve")
PRUNE_INTERVAL_S = 6 * 3600.0  # raw-input retention: a few times a day is plenty

Task = Callable[[asyncio.Event], Awaitable[None]]  # a background task, until the event is set


READY_TIMEOUT_S = 120.0  # ingest workers starting (spawn, imports, rules) before SMTP answers


class WakingExecutor(Executor):
    """The ingest pool, waking the outbox dispatcher as each batch is recorded: the batch's
    announcements are in the outbox, so the card goes out now, not at the next poll."""

    def __init__(self, inner: Executor, wake: Callable[[], None]) -> None:
        self.inner, self.wake = inner, wake

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future = self.inner.submit(fn, *args, **kwargs)
        future.add_done_callback(lambda _: self.wake())
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self.inner.shutdown(wait, cancel_futures=cancel_futures)


async def workers_ready(pool: Executor, workers: int) -> None:
    """Until the ingest workers answer: `serve` takes no mail it cannot process yet."""
    loop = asyncio.get_running_loop()
    calls = [loop.run_in_executor(pool, os.getpid) for _ in range(workers)]
    try:
        await asyncio.wait_for(asyncio.gather(*calls), timeout=READY_TIMEOUT_S)
    except Exception as e:  # the queue logs what fails; accepted mail waits for the sweep
        log.error("ingest workers not ready: %s", e)


def make_sender(runtime: Runtime) -> Sender:
    if runtime.settings.slack_enabled:
        return SlackSender.from_runtime(runtime)
    log.info("no SLACK_BOT_TOKEN: announcements are written to this log")
    return LogSender(runtime.store)


def smtp_options(settings: Settings) -> SMTPOptions:
    """How SMTP and LMTP talk; a certificate that cannot be loaded is a ConfigError here."""
    cert = settings.smtp_tls_cert
    return SMTPOptions(
        max_message_bytes=settings.max_message_bytes,
        hostname=settings.smtp_hostname,
        tls_context=server_tls_context(cert, settings.smtp_tls_key) if cert else None,
        require_tls=settings.smtp_require_tls,
        timeout_s=settings.smtp_timeout_seconds,
    )


def client_gate(settings: Settings) -> ClientGate:
    return ClientGate(
        allowed=settings.smtp_allowed_clients,
        max_per_client=settings.smtp_max_connections_per_ip,
        max_sessions=settings.smtp_max_sessions,
    )


def schedule(runtime: Runtime) -> list[Job]:
    """The periodic jobs the settings turn on."""
    settings = runtime.settings
    # Inputs left pending (a database outage, a worker that died) are finished once it answers.
    jobs = [Job("pending sweep", settings.sweep_interval_seconds, runtime.pipeline.process_pending)]
    if settings.rescore_interval_minutes > 0:
        jobs.append(
            Job("rescore", settings.rescore_interval_minutes * 60, lambda: rescore_all(runtime))
        )
    if settings.raw_retention_days > 0:
        days = settings.raw_retention_days
        jobs.append(Job("prune", PRUNE_INTERVAL_S, lambda: prune(runtime.store, days=days)))
    if settings.tracking_anonymous_days > 0:
        visits = settings.tracking_anonymous_days
        job = Job(
            "prune visits", PRUNE_INTERVAL_S, lambda: prune_visits(runtime.store, days=visits)
        )
        jobs.append(job)
    if settings.slack_enabled:  # new activity into threads, SLA reminders and escalations
        jobs.append(Job("Slack", JOB_INTERVAL_S, lambda: slack_tick(runtime), first_after_s=0))
    if settings.slack_enabled and settings.weekly_digest:  # LEADBOT_WEEKLY_DIGEST="mon 09:00"
        weekly = Job(
            "weekly digest", CHECK_INTERVAL_S, lambda: weekly_tick(runtime), first_after_s=0
        )
        jobs.append(weekly)
    return jobs


def startup_summary(runtime: Runtime, *, jobs: list[str]) -> str:
    """One line saying how this process is set up: what an admin checks first in the log."""
    s = runtime.settings
    if not s.slack_enabled:
        slack = "Slack off (announcements to the log)"
    else:
        mode = "Socket Mode" if s.slack_app_token else "HTTP (/slack/events)"
        routes = len(parse_routes(s.slack_routes))
        slack = f"Slack {mode}, hot channel {s.hot_channel or 'NOT SET'}, {routes} route(s)"
    rules = str(s.scoring_rules) if s.scoring_rules else "built-in rules"
    forms = str(s.forms_file) if s.forms_file else "no forms file"
    return (
        f"{slack}; scoring: {rules} (hot at {runtime.scorer.hot_threshold:g}); {forms};"
        f" internal domains: {', '.join(sorted(s.internal_domains)) or 'none'};"
        f" {s.ingest_workers} ingest worker(s); jobs: {', '.join(jobs) or 'none'}"
    )


@dataclass
class Service:
    """Everything `serve` runs, built and not yet started."""

    runtime: Runtime
    host: str
    smtp_port: int
    handler: InboxHandler
    smtp_options: SMTPOptions
    gate: ClientGate  # SMTP and LMTP sessions together
    work_pool: Executor
    http: uvicorn.Server
    dispatcher: Dispatcher
    jobs: list[Job]
    tasks: list[Task] = field(default_factory=list)  # Socket Mode, IMAP polling


def build(runtime: Runtime, *, host: str, smtp_port: int, http_port: int) -> Service:
    settings = runtime.settings
    options = smtp_options(settings)  # before any process starts: a bad certificate stops here
    # Parsing and recording run in worker processes: a hostile message costs that process seconds
    # of CPU, never the event loop that answers the next sender (SPEC: parser stalls).
    work_pool, queue = process_pool_queue(build_pipeline, settings, workers=settings.ingest_workers)
    dispatcher = Dispatcher(runtime.store, make_sender(runtime))
    queue.executor = WakingExecutor(work_pool, dispatcher.wake)  # announcements pushed, not polled
    runtime.pipeline.on_announced(dispatcher.wake)  # and those recorded here (forms, IMAP)
    handler = InboxHandler(
        runtime.pipeline,
        inbox_domains=settings.inbox_domains,
        queue=queue,
        committer=runtime.committer,  # shared with the web forms: one commit for both
        store_fingerprint=database_fingerprint(settings.database_url),  # for `leadbot ingest`
    )
    app = create_app(runtime, queue=queue)
    config = http_config(app, host=host, port=http_port, limits=Limits.from_settings(settings))
    tasks: list[Task] = []
    token = settings.slack_app_token
    if settings.slack_enabled and token is not None and token.get_secret_value():
        tasks.append(socket_mode_starter(runtime))
    if settings.imap_url is not None:  # IMAP polling for teams that cannot point mail at us
        tasks.append(imap_starter(build_imap_poller(runtime)))
    return Service(
        runtime=runtime,
        host=host,
        smtp_port=smtp_port,
        handler=handler,
        smtp_options=options,
        gate=client_gate(settings),
        work_pool=work_pool,
        http=uvicorn.Server(config),
        dispatcher=dispatcher,
        jobs=schedule(runtime),
        tasks=tasks,
    )


async def run(service: Service) -> None:
    """Start every part, wait for SIGINT/SIGTERM, stop them."""
    runtime, settings = service.runtime, service.runtime.settings
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    quiet_exhaustion(loop)  # at the descriptor limit: one log line a minute, not a traceback each
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(RuntimeError):  # not the main thread (embedded use)
            loop.add_signal_handler(sig, stop.set)
    await workers_ready(service.work_pool, settings.ingest_workers)
    listeners = [
        await start_smtp(
            service.handler,
            host=service.host,
            port=port,
            options=service.smtp_options,
            gate=service.gate,
            lmtp=lmtp,
        )
        for port, lmtp in [(service.smtp_port, False), (settings.lmtp_port, True)]
        if port is not None
    ]
    http = asyncio.create_task(service.http.serve(), name="http")
    others = [asyncio.create_task(service.dispatcher.run(stop), name="outbox")]
    others += [asyncio.create_task(run_periodic(job, stop), name=job.name) for job in service.jobs]
    others += [asyncio.ensure_future(task(stop)) for task in service.tasks]
    url = runtime.store.url
    log.info(
        "LeadBot serving: SMTP %s:%s%s%s (inbox domains: %s), HTTP http://%s:%s, database %s",
        service.host,
        service.smtp_port,
        " with STARTTLS" if service.smtp_options.tls_context else "",
        f", LMTP {service.host}:{settings.lmtp_port}" if settings.lmtp_port is not None else "",
        ", ".join(sorted(settings.inbox_domains)) or "none",
        service.http.config.host,
        service.http.config.port,
        url.split("@")[-1] if "@" in url else url,
    )
    log.info("%s", startup_summary(runtime, jobs=[job.name for job in service.jobs]))
    freeze_startup_objects()
    await stop.wait()
    log.info("shutting down")
    service.http.should_exit = True  # uvicorn finishes its own shutdown
    for listener in listeners:
        listener.close()
    for listener in listeners:
        await listener.wait_closed()
    await service.handler.close()
    for task in others:
        task.cancel()
    await asyncio.gather(http, *others, return_exceptions=True)
    service.work_pool.shutdown(wait=True)
    rescore_workers.shutdown()


async def serve(runtime: Runtime, *, host: str, smtp_port: int, http_port: int) -> None:
    """Migrate, finish what was accepted before the last stop, then build and run."""
    await asyncio.to_thread(upgrade, runtime.store)
    # Start-up finishes what was accepted but not processed before a crash.
    finished = await asyncio.to_thread(runtime.pipeline.process_pending)
    if finished:
        log.info("processed %d message(s) accepted before the last stop", finished)
    service = build(runtime, host=host, smtp_port=smtp_port, http_port=http_port)
    await run(service)


def build_imap_poller(runtime: Runtime) -> ImapPoller:
    """The IMAP poller of LEADBOT_IMAP_URL, feeding the runtime's pipeline (here, not in the
    runtime: only `serve` polls, and IMAPClient and ssl would load with every command)."""
    settings = runtime.settings
    assert settings.imap_url is not None
    return ImapPoller(
        runtime.pipeline,
        parse_imap_url(settings.imap_url.get_secret_value()),
        processed_folder=settings.imap_processed_folder,
        poll_seconds=settings.imap_poll_seconds,
        max_message_bytes=settings.max_message_bytes,
    )
