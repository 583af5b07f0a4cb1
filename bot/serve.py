"""`leadbot serve`: SMTP receiver, HTTP app, outbox dispatcher and scheduler in one process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import Any

import uvicorn

from bot.dispatcher import Dispatcher, LogSender, Sender
from bot.runtime import Runtime
from bot.web import create_app
from ingest.smtp import InboxHandler, start_smtp
from ingest.worker import freeze_startup_objects, process_pool_queue
from storage.migrate import upgrade

log = logging.getLogger("leadbot.serve")


def make_sender(runtime: Runtime) -> Sender:
    if runtime.settings.slack_enabled:
        try:
            from bot.slack.sender import SlackSender
        except ModuleNotFoundError:
            log.warning("Slack support is not installed; announcements go to the log")
        else:
            return SlackSender.from_runtime(runtime)
    log.info("no SLACK_BOT_TOKEN: announcements are written to this log")
    return LogSender(runtime.store)


async def _periodic(stop: asyncio.Event, interval_s: float, job: Any, name: str) -> None:
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval_s)
            return
        except TimeoutError:
            pass
        try:
            await asyncio.to_thread(job)
        except Exception:
            log.exception("scheduled %s failed", name)


async def serve(runtime: Runtime, *, host: str, smtp_port: int, http_port: int) -> None:
    settings = runtime.settings
    await asyncio.to_thread(upgrade, runtime.store)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(RuntimeError):  # not the main thread (embedded use)
            loop.add_signal_handler(sig, stop.set)

    # Start-up finishes what was accepted but not processed before a crash.
    finished = await asyncio.to_thread(runtime.pipeline.process_pending)
    if finished:
        log.info("processed %d message(s) accepted before the last stop", finished)

    # Parsing and recording run in a worker process: a hostile message costs that process seconds
    # of CPU, never the event loop that answers the next sender (SPEC: parser stalls).
    work_pool, queue = process_pool_queue(settings, workers=settings.ingest_workers)
    handler = InboxHandler(
        runtime.pipeline,
        inbox_domains=settings.inbox_domains,
        queue=queue,
    )
    runtime.extras["smtp_handler"] = handler
    smtp = await start_smtp(
        handler, host=host, port=smtp_port, max_message_bytes=settings.max_message_bytes
    )
    app = create_app(runtime)
    server = uvicorn.Server(
        uvicorn.Config(
            app, host=host, port=http_port, log_level="info", lifespan="on", access_log=False
        )
    )
    dispatcher = Dispatcher(runtime.store, make_sender(runtime))
    tasks = [
        asyncio.create_task(server.serve(), name="http"),
        asyncio.create_task(dispatcher.run(stop), name="outbox"),
    ]
    # Inputs left pending by a database outage are finished once it answers again.
    tasks.append(
        asyncio.create_task(
            _periodic(stop, 60, runtime.pipeline.process_pending, "pending sweep"), name="sweep"
        )
    )
    if settings.rescore_interval_minutes > 0:
        from bot.jobs.rescore import rescore_all

        tasks.append(
            asyncio.create_task(
                _periodic(
                    stop,
                    settings.rescore_interval_minutes * 60,
                    lambda: rescore_all(runtime),
                    "rescore",
                ),
                name="rescore",
            )
        )
    if settings.slack_enabled:  # SLA/activity job, and Socket Mode when SLACK_APP_TOKEN is set
        from bot.slack.background import install as install_slack

        install_slack(runtime)
    if settings.imap_url is not None:  # IMAP polling for teams that cannot point mail at us
        from ingest.imap import imap_starter

        runtime.extras.setdefault("background", []).append(imap_starter(runtime))
    for starter in runtime.extras.get("background", []):
        tasks.append(asyncio.create_task(starter(stop)))
    log.info(
        "LeadBot serving: SMTP %s:%s (inbox domains: %s), HTTP http://%s:%s, database %s",
        host,
        smtp_port,
        ", ".join(sorted(settings.inbox_domains)) or "none",
        host,
        http_port,
        runtime.store.url.split("@")[-1] if "@" in runtime.store.url else runtime.store.url,
    )
    freeze_startup_objects()
    await stop.wait()
    log.info("shutting down")
    server.should_exit = True
    smtp.close()
    await smtp.wait_closed()
    await handler.close()
    for task in tasks:
        if task.get_name() != "http":  # uvicorn finishes its own shutdown after should_exit
            task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    work_pool.shutdown(wait=True)
    from storage.rescore_parallel import shutdown as stop_rescore_workers

    stop_rescore_workers()
