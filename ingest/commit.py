"""Group commit for receivers: what concurrent sessions accept at the same moment shares one commit.

Every accepted message must be committed before its `250` (SPEC). One transaction per message
makes the commit the receiver's ceiling: an fsync each on PostgreSQL, a write-lock handover each on
SQLite. Here one thread owns the commits: a session hands over its message and awaits the answer;
while a commit runs, the next messages queue up and go together in the following one. A lone
sender waits for exactly one commit, as before; eight senders share theirs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading

from ingest.pipeline import Pipeline
from ingest.worker import batch_length
from storage.errors import StoreUnavailable
from storage.raw import RawDraft

log = logging.getLogger("leadbot.commit")

Accepted = tuple[int, bool]  # (raw id, new)


class GroupCommit:
    """One committing thread for a receiver; `commit` is awaited on the receiver's event loop."""

    def __init__(
        self, pipeline: Pipeline, *, max_batch: int = 64, max_bytes: int = 32 * 2**20
    ) -> None:
        self.pipeline = pipeline
        self.max_batch = max_batch
        self.max_bytes = max_bytes
        self._queue: list[_Waiting] = []
        self._cond = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None

    async def commit(self, draft: RawDraft) -> Accepted:
        """Commit one checked input (`Pipeline.draft`) with whatever else is waiting; raises
        StoreUnavailable when the store does not answer."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Accepted] = loop.create_future()
        with self._cond:
            if self._closed:
                raise StoreUnavailable("the receiver is shutting down")
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="commit", daemon=True)
                self._thread.start()
            self._queue.append(_Waiting(draft, loop, done))
            self._cond.notify()
        return await done

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

    def _take(self) -> list[_Waiting]:
        """The oldest waiting inputs, up to `max_batch` and (after the first) `max_bytes`."""
        n = batch_length(
            (len(w.draft.content) for w in self._queue), self.max_batch, self.max_bytes
        )
        batch, self._queue[:n] = self._queue[:n], []
        return batch

    def _commit(self, batch: list[_Waiting]) -> None:
        try:
            results = self.pipeline.accept_many([w.draft for w in batch])
        except StoreUnavailable as e:  # every sender in the batch gets its 451
            for w in batch:
                w.fail(e)
            return
        except Exception as e:
            if len(batch) > 1:  # one input must not cost the others their commit
                log.warning("committing %d inputs together failed (%s); one by one", len(batch), e)
                for one in batch:
                    self._commit([one])
                return
            batch[0].fail(e)
            return
        for w, result in zip(batch, results, strict=True):
            w.answer(result)


class _Waiting:
    """A session's input and the future its DATA handler awaits on its own event loop.

    Answered with `call_soon_threadsafe` (one wake-up of the loop), which costs less than
    chaining a concurrent future into an asyncio one for every message.
    """

    __slots__ = ("done", "draft", "loop")

    def __init__(
        self, draft: RawDraft, loop: asyncio.AbstractEventLoop, done: asyncio.Future[Accepted]
    ) -> None:
        self.draft, self.loop, self.done = draft, loop, done

    def answer(self, result: Accepted) -> None:
        self._settle(result, None)

    def fail(self, error: BaseException) -> None:
        self._settle(None, error)

    def _settle(self, result: Accepted | None, error: BaseException | None) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting
            self.loop.call_soon_threadsafe(_settle, self.done, result, error)


def _settle(
    done: asyncio.Future[Accepted], result: Accepted | None, error: BaseException | None
) -> None:
    if done.done():  # the session went away (client disconnected, server closing)
        return
    if error is not None:
        done.set_exception(error)
    else:
        assert result is not None
        done.set_result(result)
