"""Group commit for receivers: what concurrent sessions accept at the same moment shares one commit.

Every accepted message must be committed before its `250` (SPEC). One transaction per message
makes the commit the receiver's ceiling: an fsync each on PostgreSQL, a write-lock handover each on
SQLite. Here one thread owns the commits: a session hands over its message and awaits the answer;
while a commit runs, the next messages queue up and go together in the following one. A lone
sender waits for exactly one commit, as before; eight senders share theirs.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import Future

from ingest.pipeline import Pipeline
from storage.errors import StoreUnavailable
from storage.raw import RawDraft

log = logging.getLogger("leadbot.commit")

Accepted = tuple[int, bool]  # (raw id, new)


class GroupCommit:
    """One committing thread for a receiver; `accept` is called on the event loop."""

    def __init__(
        self, pipeline: Pipeline, *, max_batch: int = 64, max_bytes: int = 32 * 2**20
    ) -> None:
        self.pipeline = pipeline
        self.max_batch = max_batch
        self.max_bytes = max_bytes
        self._queue: list[tuple[RawDraft, Future[Accepted]]] = []
        self._cond = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None

    async def commit(self, draft: RawDraft) -> Accepted:
        """Commit one checked input (`Pipeline.draft`) with whatever else is waiting; raises
        StoreUnavailable when the store does not answer."""
        done: Future[Accepted] = Future()
        with self._cond:
            if self._closed:
                raise StoreUnavailable("the receiver is shutting down")
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="commit", daemon=True)
                self._thread.start()
            self._queue.append((draft, done))
            self._cond.notify()
        return await asyncio.wrap_future(done)

    def close(self) -> None:
        """Commit what is queued, then stop the thread."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(60)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if not self._queue:
                    return
                batch = self._take()
            self._commit(batch)

    def _take(self) -> list[tuple[RawDraft, Future[Accepted]]]:
        """The oldest waiting inputs, up to `max_batch` and (after the first) `max_bytes`."""
        size, n = 0, 0
        for draft, _ in self._queue[: self.max_batch]:
            size += len(draft.content)
            if n and size > self.max_bytes:
                break
            n += 1
        batch, self._queue[:n] = self._queue[:n], []
        return batch

    def _commit(self, batch: list[tuple[RawDraft, Future[Accepted]]]) -> None:
        try:
            results = self.pipeline.accept_many([draft for draft, _ in batch])
        except StoreUnavailable as e:  # every sender in the batch gets its 451
            for _, done in batch:
                done.set_exception(e)
            return
        except Exception as e:
            if len(batch) > 1:  # one input must not cost the others their commit
                log.warning("committing %d inputs together failed (%s); one by one", len(batch), e)
                for one in batch:
                    self._commit([one])
                return
            batch[0][1].set_exception(e)
            return
        for (_, done), result in zip(batch, results, strict=True):
            done.set_result(result)
