"""A client-side deadline on PostgreSQL calls, for a network that stalls rather than resets.

`statement_timeout` and `lock_timeout` are the server's: when the path to the server stalls (a
NAT entry dropped, a frozen proxy, a paused VM), the server's error never arrives and a blocking
read waits for TCP's retransmissions, minutes. Every statement, commit, rollback and checkout ping
is armed here with a deadline; when one passes, a watchdog thread shuts the connection's socket
down, which wakes the blocked read with an error (OperationalError, then StoreUnavailable) and
makes SQLAlchemy discard the connection.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import threading
import time
from typing import Any

log = logging.getLogger("leadbot.store")


class Watchdog:
    """Deadlines per DBAPI connection, enforced by one daemon thread (started on first use)."""

    def __init__(self) -> None:
        self._armed: dict[int, tuple[float, Any]] = {}  # id(connection): (deadline, connection)
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._wake = math.inf  # when the thread wakes next on its own (inf: only when told)
        self.cut = 0  # connections shut down so far (tests, logs)

    def arm(self, dbapi_conn: Any, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        with self._cond:
            self._armed[id(dbapi_conn)] = (deadline, dbapi_conn)
            if self._thread is None or not self._thread.is_alive():  # a fork has no threads
                self._wake = math.inf
                self._thread = threading.Thread(target=self._run, name="db-watchdog", daemon=True)
                self._thread.start()
            elif deadline < self._wake:
                # Only a deadline before the thread's next wake-up needs it now; the usual one
                # (every statement armed for the same seconds) comes later and is seen then, so
                # a busy store does not wake the thread at every statement.
                self._cond.notify()

    def disarm(self, dbapi_conn: Any) -> None:
        with self._cond:
            self._armed.pop(id(dbapi_conn), None)

    def _run(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                for key, (deadline, conn) in list(self._armed.items()):
                    if deadline <= now:
                        # Under the lock: a call that ends now cannot disarm and then lose its
                        # connection to a cut meant for the call before.
                        del self._armed[key]
                        self._cut_off(conn)
                nearest = min((d for d, _ in self._armed.values()), default=None)
                if nearest is None:
                    self._wake = math.inf
                    self._cond.wait()
                else:
                    self._wake = max(now + 0.01, nearest)
                    self._cond.wait(self._wake - now)

    def _cut_off(self, dbapi_conn: Any) -> None:
        try:
            fd = dbapi_conn.fileno()  # raises once the connection is closed: nothing to cut
        except Exception:
            return
        try:
            # shutdown() acts on the socket, not the descriptor: a duplicate reaches it
            # without closing the descriptor the driver still owns.
            with socket.socket(fileno=os.dup(fd)) as sock:
                sock.shutdown(socket.SHUT_RDWR)
        except OSError as e:
            log.warning("could not cut off a database connection past its deadline: %s", e)
            return
        self.cut += 1
        log.warning("database call past its deadline: connection cut off")


WATCHDOG = Watchdog()  # one per process: spawned workers make their own
