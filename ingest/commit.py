"""Group commit for receivers: what concurrent sessions accept at the same moment shares one commit.

Every accepted message must be committed before its `250` (SPEC), every form post before its
`201`. One transaction per input makes the commit the receiver's ceiling: an fsync each on
PostgreSQL, a write-lock handover each on SQLite. Here one thread owns a kind of work: a session
or a request hands over its input and awaits the answer; while a batch runs, the next inputs queue
up and go together in the following one. A lone sender waits for exactly one batch, as before;
eight senders share theirs.

`Batcher` is that thread for any work done in batches (one result, or one exception, per input);
`GroupCommit` commits raw inputs with it (SMTP, web forms); ingest.http.forms reads what it
committed in batches, ingest.http.tracking records tracking events in batches, and
ingest.http.limits takes rate-limit tokens in batches, each with a Batcher of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any, Generic, Protocol, TypeVar

from ingest.pipeline import Pipeline
from ingest.worker import batch_length
from storage.errors import Refused, StoreUnavailable
from storage.raw import RawDraft, store_raws_on

log = logging.getLogger("leadbot.commit")

Accepted = tuple[int, bool]  # (raw id, new)
T = TypeVar("T")
R = TypeVar("R")
RETRY_AFTER_S = 5
IDLE_S = 30.0  # a thread with nothing to do for this long ends (the next input starts another)


class Batcher(Generic[T, R]):
    """One thread running `run` on batches of inputs; `submit` is awaited on any event loop.

    `run(inputs)` returns one result or one exception per input, in order; an exception it raises
    fails the whole batch, except that a batch of several is then retried input by input (one
    input must not cost the others their answer), unless it is StoreUnavailable. More than
    `max_waiting` inputs queued are refused with 503 instead of piling up.
    """

    def __init__(
        self,
        run: Callable[[list[T]], Sequence[R | BaseException]],
        *,
        name: str,
        max_batch: int = 64,
        max_bytes: int = 32 * 2**20,
        size: Callable[[T], int] = lambda _: 0,
        max_waiting: int | None = None,
        threads: int = 1,
    ) -> None:
        self.run = run
        self.threads = threads  # batches run at once (waits for the database overlap)
        self.name = name
        self.max_batch = max_batch
        self.max_bytes = max_bytes
        self.size = size
        self.max_waiting = max_waiting
        self.batches = 0  # batches run so far (tests, the bench)
        self._queue: list[_Waiting[T, R]] = []
        self._cond = threading.Condition()
        self._closed = False
        self._running: set[threading.Thread] = set()
        self._busy = 0  # threads running a batch

    async def submit(self, item: T) -> R:
        """`item`'s result, once its batch ran; raises what `run` gave for it."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[R] = loop.create_future()
        with self._cond:
            if self._closed:
                raise StoreUnavailable("the receiver is shutting down")
            if self.max_waiting is not None and len(self._queue) >= self.max_waiting:
                raise Refused(
                    503,
                    "busy with other submissions, retry later",
                    headers={"Retry-After": str(RETRY_AFTER_S)},
                )
            self._queue.append(_Waiting(item, loop, done))
            if len(self._running) - self._busy < 1 and len(self._running) < self.threads:
                thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
                self._running.add(thread)
                thread.start()
            self._cond.notify()
        return await done

    def close(self) -> None:
        """Run what is queued, then stop the thread."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            running = list(self._running)
        for thread in running:
            thread.join(60)

    def _loop(self) -> None:
        me = threading.current_thread()
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    if not self._cond.wait(IDLE_S) and not self._queue:
                        self._running.discard(me)
                        return
                if not self._queue:
                    self._running.discard(me)
                    return
                batch = self._take()
                self.batches += 1
                self._busy += 1
            try:
                self._run(batch)
            finally:
                with self._cond:
                    self._busy -= 1

    def _take(self) -> list[_Waiting[T, R]]:
        """The oldest waiting inputs, up to `max_batch` and (after the first) `max_bytes`."""
        n = batch_length((self.size(w.item) for w in self._queue), self.max_batch, self.max_bytes)
        batch, self._queue[:n] = self._queue[:n], []
        return batch

    def _run(self, batch: list[_Waiting[T, R]]) -> None:
        try:
            results = self.run([w.item for w in batch])
        except StoreUnavailable as e:  # every sender in the batch gets its 451 / 503
            _settle_all([(w, None, e) for w in batch])
            return
        except Exception as e:
            if len(batch) > 1:  # one input must not cost the others their answer
                log.warning(
                    "%s: %d inputs together failed (%s); one by one", self.name, len(batch), e
                )
                for one in batch:
                    self._run([one])
                return
            if not isinstance(e, Refused):
                log.exception("%s: an input failed", self.name)
            batch[0].settle(None, e)
            return
        _settle_all(
            [
                (w, None, result) if isinstance(result, BaseException) else (w, result, None)
                for w, result in zip(batch, results, strict=True)
            ]
        )


class Limited(Exception):
    """The shared rate limit said no, in the commit's transaction: nothing was committed."""

    def __init__(self, wait: float) -> None:
        super().__init__(f"rate limited for {wait:.1f} s")
        self.wait = wait


class Gate(Protocol):
    """Takes of a shared rate limit made in a commit's transaction (ingest.http.limits.Limits)."""

    def take_in(self, session: Any, takes: list[Any]) -> list[float]: ...


class GroupCommit(Batcher[tuple[RawDraft, Any], Accepted]):
    """The raw inputs of the receivers committed together: `commit` is awaited on any event loop.

    An input may come with a take of a shared rate limit (`gate`, a web form's): it is made in
    the same transaction, so the limit costs no commit of its own, and an input refused by it
    raises Limited and is not committed.
    """

    def __init__(
        self,
        pipeline: Pipeline,
        *,
        gate: Gate | None = None,
        max_batch: int = 64,
        max_bytes: int = 32 * 2**20,
    ) -> None:
        super().__init__(
            self._accept,
            name="commit",
            max_batch=max_batch,
            max_bytes=max_bytes,
            size=lambda item: len(item[0].content),
        )
        self.pipeline = pipeline
        self.gate = gate

    async def commit(self, draft: RawDraft, *, take: Any = None) -> Accepted:
        """Commit one checked input (`Pipeline.draft`) with whatever else is waiting; raises
        StoreUnavailable when the store does not answer, Limited when `take` is refused."""
        return await self.submit((draft, take))

    def _accept(self, items: list[tuple[RawDraft, Any]]) -> list[Accepted | BaseException]:
        takes = [(i, take) for i, (_, take) in enumerate(items) if take is not None]
        if not takes or self.gate is None:
            return list(self.pipeline.accept_many([draft for draft, _ in items]))
        out: list[Accepted | BaseException] = [Limited(0.0)] * len(items)
        with self.pipeline.store.transaction() as conn:
            waits = self.gate.take_in(conn, [take for _, take in takes])
            refused = {i: wait for (i, _), wait in zip(takes, waits, strict=True) if wait > 0}
            kept = [i for i in range(len(items)) if i not in refused]
            accepted = store_raws_on(conn, [items[i][0] for i in kept])
        for i, wait in refused.items():
            out[i] = Limited(wait)
        for i, result in zip(kept, accepted, strict=True):
            out[i] = result
        return out


class _Waiting(Generic[T, R]):
    """An input and the future its handler awaits on its own event loop.

    Answered with `call_soon_threadsafe` (one wake-up of the loop), which costs less than
    chaining a concurrent future into an asyncio one for every input; a batch's answers go to
    each loop in one call (`_settle_all`): one wake-up for the batch, not one per input.
    """

    __slots__ = ("done", "item", "loop")

    def __init__(self, item: T, loop: asyncio.AbstractEventLoop, done: asyncio.Future[R]) -> None:
        self.item, self.loop, self.done = item, loop, done

    def settle(self, result: R | None, error: BaseException | None) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting
            self.loop.call_soon_threadsafe(_settle, self.done, result, error)


def _settle_all(answers: list[tuple[_Waiting[Any, Any], Any, BaseException | None]]) -> None:
    """Each input's result or error, handed to its loop: one call per loop for all of them."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any, Any]]] = {}
    for w, result, error in answers:
        by_loop.setdefault(w.loop, []).append((w.done, result, error))
    for loop, settled in by_loop.items():
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting
            loop.call_soon_threadsafe(_settle_many, settled)


def _settle_many(settled: list[tuple[asyncio.Future[Any], Any, Any]]) -> None:
    for done, result, error in settled:
        _settle(done, result, error)


def _settle(done: asyncio.Future[R], result: R | None, error: BaseException | None) -> None:
    if done.done():  # the session went away (client disconnected, server closing)
        return
    if error is not None:
        done.set_exception(error)
    else:
        done.set_result(result)  # type: ignore[arg-type]
