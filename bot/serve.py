"""`leadbot serve`: SMTP receiver, HTTP app, outbox dispatcher and scheduled jobs in one process.

Two steps: `build` makes every part from the runtime (nothing listens yet), `run` starts them, waits
for SIGINT/SIGTERM and stops them in order. Periodic work (the pending sweep, rescoring, the Slack
job) goes through the one scheduler of bot.jobs.schedule.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field

import uvicorn

from bot.dispatcher import Dispatcher, LogSender, Sender
from bot.http_edge import Limits, http_config, quiet_exhaustion
from bot.jobs import workers as rescore_workers
from bot.jobs.rescore import rescore_all
from bot.jobs.schedule import Job, run_periodic
from bot.jobs.sla import JOB_INTERVAL_S, slack_tick
from bot.runtime import Runtime, build_imap_poller, build_pipeline
from bot.slack.sender import SlackSender
from bot.slack.socket_mode import socket_mode_starter
from bot.web import create_app
from ingest.imap import imap_starter
from ingest.smtp import InboxHandler, start_smtp
from ingest.worker import freeze_startup_objects, process_pool_queue
from storage.migrate import upgrade

log = logging.getLogger("leadbot.serve")
SWEEP_INTERVAL_S = 60.0  # inputs left pending by a database outage are finished once it answers

Task = Callable[[asyncio.Event], Awaitable[None]]  # a background task, until the event is set


def make_sender(runtime: Runtime) -> Sender:
    if runtime.settings.slack_enabled:
        return SlackSender.from_runtime(runtime)
    log.info("no SLACK_BOT_TOKEN: announcements are written to this log")
    return LogSender(runtime.store)


def schedule(runtime: Runtime) -> list[Job]:
    """The periodic jobs the settings turn on."""
    settings = runtime.settings
    jobs = [Job("pending sweep", SWEEP_INTERVAL_S, runtime.pipeline.process_pending)]
    if settings.rescore_interval_minutes > 0:
        jobs.append(
            Job("rescore", settings.rescore_interval_minutes * 60, lambda: rescore_all(runtime))
        )
    if settings.slack_enabled:  # new activity into threads, SLA reminders and escalations
        jobs.append(Job("Slack", JOB_INTERVAL_S, lambda: slack_tick(runtime), first_after_s=0))
    return jobs


@dataclass
class Service:
    """Everything `serve` runs, built and not yet started."""

    runtime: Runtime
    host: str
    smtp_port: int
    handler: InboxHandler
    work_pool: Executor
    http: uvicorn.Server
    dispatcher: Dispatcher
    jobs: list[Job]
    tasks: list[Task] = field(default_factory=list)  # Socket Mode, IMAP polling


def build(runtime: Runtime, *, host: str, smtp_port: int, http_port: int) -> Service:
    settings = runtime.settings
    # Parsing and recording run in worker processes: a hostile message costs that process seconds
    # of CPU, never the event loop that answers the next sender (SPEC: parser stalls).
    work_pool, queue = process_pool_queue(build_pipeline, settings, workers=settings.ingest_workers)
    handler = InboxHandler(runtime.pipeline, inbox_domains=settings.inbox_domains, queue=queue)
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
        work_pool=work_pool,
        http=uvicorn.Server(config),
        dispatcher=Dispatcher(runtime.store, make_sender(runtime)),
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
    smtp = await start_smtp(
        service.handler,
        host=service.host,
        port=service.smtp_port,
        max_message_bytes=settings.max_message_bytes,
    )
    http = asyncio.create_task(service.http.serve(), name="http")
    others = [asyncio.create_task(service.dispatcher.run(stop), name="outbox")]
    others += [asyncio.create_task(run_periodic(job, stop), name=job.name) for job in service.jobs]
    others += [asyncio.ensure_future(task(stop)) for task in service.tasks]
    url = runtime.store.url
    log.info(
        "LeadBot serving: SMTP %s:%s (inbox domains: %s), HTTP http://%s:%s, database %s",
        service.host,
        service.smtp_port,
        ", ".join(sorted(settings.inbox_domains)) or "none",
        service.http.config.host,
        service.http.config.port,
        url.split("@")[-1] if "@" in url else url,
    )
    freeze_startup_objects()
    await stop.wait()
    log.info("shutting down")
    service.http.should_exit = True  # uvicorn finishes its own shutdown
    smtp.close()
    await smtp.wait_closed()
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
