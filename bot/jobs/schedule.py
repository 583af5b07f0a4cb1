"""The one periodic-job mechanism of `serve`: each job runs in a thread, every `interval_s`.

A job's failure is logged and the next run comes as planned: an error of ours (the database is
away, …) as a warning, anything else with its traceback. A run never overlaps the previous one
of the same job, and stopping waits for none of them to start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from storage.errors import LeadBotError

log = logging.getLogger("leadbot.jobs")


@dataclass(frozen=True)
class Job:
    name: str
    interval_s: float
    run: Callable[[], Any]
    first_after_s: float | None = None  # the first run's delay (None: one interval)


async def run_periodic(job: Job, stop: asyncio.Event) -> None:
    """Run `job` until `stop` is set."""
    delay = job.interval_s if job.first_after_s is None else job.first_after_s
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=delay)
            return
        delay = job.interval_s
        try:
            await asyncio.to_thread(job.run)
        except LeadBotError as e:
            log.warning("scheduled %s paused: %s", job.name, e)
        except Exception:
            log.exception("scheduled %s failed", job.name)
