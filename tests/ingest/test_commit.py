"""GroupCommit: concurrent sessions share commits, each sender gets its own answer, nothing is lost."""

from __future__ import annotations

import asyncio
import smtplib
import sqlite3
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from bot.runtime import build_runtime
from ingest.commit import GroupCommit
from ingest.pipeline import Pipeline
from ingest.smtp import InboxHandler, SMTPServerThread
from storage.db import Store, insert_ignore_many, table
from storage.models import Lead, RawInput
from storage.raw import RawDraft, store_raws
from tests.conftest import make_settings
from tests.ingest.test_smtp import MAX_BYTES, inquiry


class CountingPipeline(Pipeline):
    """The real pipeline, recording how many inputs each commit carried; `poison` fails a batch."""

    poison = b"X-Poison: yes"

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.batches: list[int] = []

    def accept_many(self, drafts: Sequence[RawDraft]) -> list[tuple[int, bool]]:
        self.batches.append(len(drafts))
        if any(self.poison in d.content for d in drafts):
            raise ValueError("a bug that one input triggers")
        return super().accept_many(drafts)


def counting(store: Store, **settings: object) -> CountingPipeline:
    rt = build_runtime(make_settings(store.url, **settings), store=store)
    return CountingPipeline(
        rt.pipeline.store, scorer=rt.pipeline.scorer, context=rt.pipeline.context
    )


def test_the_same_bytes_in_one_batch_and_before_it_are_stored_once(store: Store) -> None:
    one, two = bytes(inquiry(msgid="<a@x>")), bytes(inquiry(msgid="<b@x>"))
    [(first, new)] = store_raws(store, [RawDraft(one, "email", "smtp")])
    assert new
    results = store_raws(
        store,
        [
            RawDraft(two, "email", "smtp"),
            RawDraft(one, "email", "pipe"),
            RawDraft(two, "email", "smtp"),
        ],
    )
    assert results[1] == (first, False)
    assert results[0][1] is True and results[2] == (results[0][0], False)
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(RawInput)) == 2


def test_concurrent_smtp_sessions_share_commits_and_every_message_is_kept(sqlite_url: str) -> None:
    store = Store(sqlite_url)
    pipeline = counting(store)
    handler = InboxHandler(pipeline, inbox_domains={"leads.example.com"})
    server = SMTPServerThread(handler, max_message_bytes=MAX_BYTES).start()
    # Another connection holds SQLite's write lock, so the first commit waits and the other
    # sessions' messages queue up behind it, as they do behind a worker recording a batch.
    path = sqlite_url.removeprefix("sqlite:///")
    blocker = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    blocker.execute("BEGIN IMMEDIATE")

    def release() -> None:  # once the other sessions wait behind the first commit (or after 10 s)
        deadline = time.monotonic() + 10
        while sum(pipeline.batches) + len(handler.committer._queue) < 8:
            if time.monotonic() > deadline:
                break
            time.sleep(0.01)
        blocker.rollback()

    threading.Thread(target=release).start()

    def send(n: int) -> None:
        with smtplib.SMTP("127.0.0.1", server.port, timeout=30) as c:
            c.sendmail(
                "x@acme.example",
                ["leads@leads.example.com"],
                bytes(inquiry(f"Person {n} <p{n}@acme{n}.example>", msgid=f"<m{n}@x>")),
            )

    try:
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(send, range(8)))
        server.drain()
    finally:
        server.stop()
        blocker.close()
    assert sum(pipeline.batches) == 8
    assert max(pipeline.batches) > 1, pipeline.batches  # sessions shared a commit
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(Lead)) == 8
        assert set(s.scalars(select(RawInput.status))) == {"processed"}
    store.dispose()


def test_an_input_that_breaks_a_shared_commit_costs_only_its_own_sender(store: Store) -> None:
    pipeline = counting(store)
    committer = GroupCommit(pipeline)
    good = [bytes(inquiry(msgid=f"<g{n}@x>")) for n in range(3)]
    bad = b"X-Poison: yes\n" + bytes(inquiry(msgid="<p@x>"))

    async def run() -> list[object]:
        return await asyncio.gather(
            *(committer.commit(pipeline.draft(c)) for c in [good[0], bad, good[1], good[2]]),
            return_exceptions=True,
        )

    results = asyncio.run(run())
    committer.close()
    assert isinstance(results[1], ValueError)
    assert all(isinstance(r, tuple) and r[1] for r in results[::2] + results[3:])
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(RawInput)) == 3


def test_close_commits_what_is_queued_then_refuses_more(store: Store) -> None:
    pipeline = counting(store)
    committer = GroupCommit(pipeline)

    async def run() -> tuple[int, bool]:
        task = asyncio.ensure_future(committer.commit(pipeline.draft(bytes(inquiry()))))
        await asyncio.sleep(0)  # queued
        await asyncio.to_thread(committer.close)
        return await task

    raw_id, new = asyncio.run(run())
    assert new
    with store.session() as s:
        assert s.get(RawInput, raw_id) is not None
    with pytest.raises(Exception, match="shutting down"):
        asyncio.run(committer.commit(pipeline.draft(bytes(inquiry(msgid="<later@x>")))))


def test_a_sqlite_writer_takes_the_lock_as_soon_as_it_is_released(sqlite_url: str) -> None:
    """Not SQLite's 1-2-5-10-15 ms busy sleeps: polling takes the lock within a millisecond or so."""
    store = Store(sqlite_url)
    path = sqlite_url.removeprefix("sqlite:///")
    blocker = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    blocker.execute("BEGIN IMMEDIATE")
    released: list[float] = []

    def release() -> None:
        time.sleep(0.3)
        released.append(time.monotonic())
        blocker.rollback()

    threading.Thread(target=release).start()
    [(_, new)] = store_raws(store, [RawDraft(bytes(inquiry()), "email", "smtp")])
    got = time.monotonic()
    assert new and released and got >= released[0]
    with store.engine.connect() as conn:  # the busy timeout is back for everything else
        # (the store's 30 s, less 0.5 s of grace and the 2 s of fine polling that come first)
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 27_500
    blocker.close()
    store.dispose()


def test_a_writer_still_blocked_after_polling_falls_back_to_the_busy_timeout(
    sqlite_url: str,
) -> None:
    from storage.db import _poll_write_lock

    path = sqlite_url.removeprefix("sqlite:///")
    blocker = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    blocker.execute("BEGIN IMMEDIATE")
    waiter = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    waiter.execute("PRAGMA busy_timeout=30000")
    assert _poll_write_lock(waiter, patience=0.05) is False
    assert waiter.execute("PRAGMA busy_timeout").fetchone() == (30_000,)
    assert not waiter.in_transaction
    blocker.rollback()
    assert _poll_write_lock(waiter) is True
    assert waiter.in_transaction
    waiter.rollback()
    blocker.close()
    waiter.close()


def test_reading_the_accepted_inputs_never_waits_for_a_writer(sqlite_url: str) -> None:
    """Workers read what to process without SQLite's write lock, which the receiver needs."""
    store = Store(sqlite_url)
    [(raw_id, _)] = store_raws(store, [RawDraft(bytes(inquiry()), "email", "smtp")])
    path = sqlite_url.removeprefix("sqlite:///")
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # a writer holds the lock for the whole read
    try:
        with store.reading() as s:
            assert s.get(RawInput, raw_id) is not None
        writer = sqlite3.connect(path, isolation_level=None, timeout=0)
        with pytest.raises(sqlite3.OperationalError, match="locked"):  # a writer would wait
            writer.execute("BEGIN IMMEDIATE")
        writer.close()
    finally:
        blocker.rollback()
        blocker.close()
        store.dispose()


def test_the_sqlite_fast_insert_stores_what_sqlalchemy_would(sqlite_url: str) -> None:
    """store_raws writes SQLite rows on the DBAPI cursor: the same text as SQLAlchemy's types."""
    store = Store(sqlite_url)
    at = datetime(2026, 11, 30, 3, 0, 0, 250, tzinfo=timezone(timedelta(hours=2)))
    envelope = {"mail_from": "a@b.example", "rcpt_to": ["x@leads.example.com"], "peer": None}
    [(fast, _)] = store_raws(
        store, [RawDraft(b"From: a@b\n\nx", "email", "smtp", None, envelope, at)]
    )
    with store.transaction() as conn:
        values = {
            "kind": "email",
            "channel": "smtp",
            "sha256": "0" * 64,
            "content": b"y",
            "content_type": None,
            "size": 1,
            "envelope": envelope,
            "received_at": at,
        }
        [(reference, _)] = insert_ignore_many(conn, table(RawInput), [values], "sha256")
    columns = "envelope, received_at, status, attempts, reason, lead_id, message_id, processed_at"
    path = sqlite_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        rows = [db.execute(f"SELECT {columns} FROM raw_input WHERE id = ?", (i,)).fetchone()
                for i in (fast, reference)]  # fmt: skip
    assert rows[0] == rows[1]
    with store.session() as s:
        raw = s.get(RawInput, fast)
        assert raw is not None
        assert (raw.received_at, raw.envelope, raw.status) == (at, envelope, "pending")
    store.dispose()
