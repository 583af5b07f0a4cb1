"""A receiver with a tiny descriptor limit, run as a child process by test_smtp_limits.py.

`python -m tests.ingest.emfile_server DB_URL SPARE SECONDS` prints its port, serves SMTP for
SECONDS with RLIMIT_NOFILE lowered to SPARE descriptors more than it has open and the session
caps out of the way, and logs to stderr as `leadbot serve` does.
"""

from __future__ import annotations

import asyncio
import logging
import os
import resource
import sys

from bot.runtime import build_runtime
from ingest.listen import ClientGate
from ingest.smtp import InboxHandler, start_smtp
from ingest.smtp_server import SMTPOptions
from tests.conftest import make_settings


async def main(url: str, spare: int, seconds: float) -> None:
    runtime = build_runtime(make_settings(url))
    handler = InboxHandler(runtime.pipeline, inbox_domains={"leads.example.com"})
    gate = ClientGate(max_per_client=100_000, max_sessions=100_000)  # let the descriptors run out
    server = await start_smtp(
        handler,
        host="127.0.0.1",
        port=0,
        options=SMTPOptions(hostname="mx.leads.example.com", timeout_s=600),
        gate=gate,
    )
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (len(os.listdir("/proc/self/fd")) + spare, hard))
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.sleep(seconds)
    print(f"held {gate.total}", flush=True)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3])))
