"""Form posts and POST /events in batches: concurrent requests share commits, each gets its own
answer (its lead, its field at fault, its 429), and nothing accepted is lost; both backends."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import select

from bot.runtime import Runtime, build_runtime
from bot.web import create_app
from storage import limits
from storage.db import Store
from storage.models import Activity, Lead, RawInput
from tests.conftest import make_settings

KEY = "wk_batch_www_0123"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0"
FORMS = f"""
[forms.demo]
required = ["email"]
burst = 1000
[forms.tiny]
rate_per_minute = 1
burst = 3
[sites.www]
key = "{KEY}"
"""


def _runtime(store: Store, tmp_path: Path, **overrides: object) -> Runtime:
    forms = tmp_path / "forms.toml"
    forms.write_text(FORMS)
    settings = make_settings(store.url, LEADBOT_FORMS=str(forms), **overrides)
    return build_runtime(settings, store=store)


def _commits(store: Store) -> list[int]:
    count = [0]
    sa.event.listen(store.engine, "commit", lambda conn: count.__setitem__(0, count[0] + 1))
    return count


async def _burst(rt: Runtime, requests: list[tuple[str, dict[str, Any]]]) -> list[httpx.Response]:
    transport = httpx.ASGITransport(app=create_app(rt))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await asyncio.gather(*(client.post(path, **kw) for path, kw in requests))


def _form(n: int, **fields: str) -> tuple[str, dict[str, Any]]:
    data = {"email": f"person{n}@company{n}.example", "message": "Pricing for 40 seats?"}
    data.update(fields)
    return "/forms/demo", {"data": data, "headers": {"accept": "application/json"}}


def _events(n: int, **extra: Any) -> tuple[str, dict[str, Any]]:
    body = {
        "key": KEY,
        "email": f"reader{n % 4}@company{n % 4}.example",
        "events": [{"id": f"ev-{n}", "type": "page_view", "url": f"https://www.example.com/p/{n}"}],
        **extra,
    }
    headers = {"content-type": "application/json", "user-agent": BROWSER}
    return "/events", {"content": json.dumps(body).encode(), "headers": headers}


def test_concurrent_form_posts_share_commits_and_each_gets_its_answer(
    store: Store, tmp_path: Path
) -> None:
    rt = _runtime(store, tmp_path)
    commits = _commits(store)
    posts = [_form(n) for n in range(24)]
    posts[5] = _form(5, email="not an address")  # its own 422, naming the field
    answers = asyncio.run(_burst(rt, posts))
    assert [r.status_code for r in answers] == [422 if n == 5 else 201 for n in range(24)]
    assert answers[5].json()["field"] == "email"
    leads = {r.json()["lead_id"] for n, r in enumerate(answers) if n != 5}
    assert len(leads) == 23 and None not in leads
    # One by one that was two commits a post (the raw input, then its lead); together, fewer
    # than one.
    assert commits[0] < 24
    assert rt.committer.batches < 24
    with store.session() as s:
        raws = list(s.exec(select(RawInput)))
        emails = {lead.email for lead in s.exec(select(Lead))}
    assert len(raws) == 24 and {r.status for r in raws} == {"processed", "failed"}
    assert emails == {f"person{n}@company{n}.example" for n in range(24) if n != 5}


def test_a_rate_limit_holds_inside_a_batch(store: Store, tmp_path: Path) -> None:
    rt = _runtime(store, tmp_path)
    posts = [("/forms/tiny", _form(n)[1]) for n in range(6)]
    answers = asyncio.run(_burst(rt, posts))
    assert sorted(r.status_code for r in answers) == [201, 201, 201, 429, 429, 429]
    assert all(int(r.headers["retry-after"]) >= 1 for r in answers if r.status_code == 429)


def test_concurrent_event_posts_share_commits_and_are_all_recorded(
    store: Store, tmp_path: Path
) -> None:
    rt = _runtime(store, tmp_path, tracking_burst=1000)
    commits = _commits(store)
    posts = [_events(n) for n in range(24)]
    posts[7] = (
        "/events",
        {**posts[7][1], "content": b'{"key": "' + KEY.encode() + b'", "events": 3}'},
    )
    answers = asyncio.run(_burst(rt, posts))
    assert [r.status_code for r in answers] == [422 if n == 7 else 200 for n in range(24)]
    assert "events" in answers[7].json()["error"]
    assert all(r.json()["recorded"] == 1 for n, r in enumerate(answers) if n != 7)
    assert commits[0] < 12  # one by one, at least one a request
    with store.session() as s:
        visits = list(s.exec(select(Activity).where(Activity.kind == "page_visit")))
    assert sorted(a.dedup_key for a in visits) == sorted(
        f"ev:www:ev-{n}" for n in range(24) if n != 7
    )


def test_event_rate_limit_holds_inside_a_batch(store: Store, tmp_path: Path) -> None:
    rt = _runtime(store, tmp_path, tracking_burst=3, tracking_rate_per_minute=1)
    answers = asyncio.run(_burst(rt, [_events(n) for n in range(6)]))
    assert sorted(r.status_code for r in answers) == [200, 200, 200, 429, 429, 429]
    with store.session() as s:
        assert len(list(s.exec(select(Activity).where(Activity.kind == "page_visit")))) == 3


def test_a_replayed_event_batch_is_recorded_once(store: Store, tmp_path: Path) -> None:
    rt = _runtime(store, tmp_path, tracking_burst=1000)
    answers = asyncio.run(_burst(rt, [_events(1), _events(1), _events(1)]))
    assert [r.status_code for r in answers] == [200, 200, 200]
    assert sorted(r.json()["recorded"] for r in answers) == [0, 0, 1]
    assert sorted(r.json()["duplicate"] for r in answers) == [0, 1, 1]


def test_buckets_and_one_time_tokens_in_the_database(store: Store) -> None:
    t = limits.Take("form:x", "192.0.2.1", rate=1 / 60, burst=2)
    other = limits.Take("form:x", "192.0.2.2", rate=1 / 60, burst=2)
    with store.session() as s:
        assert [limits.take(s, t, now=1000.0) for _ in range(3)] == [0.0, 0.0, 60.0]
        assert limits.take(s, t, now=1030.0) == pytest.approx(30.0)
        assert limits.take(s, t, now=1061.0) == 0.0
        # Several takes of one client in one statement: spent in order, the rest wait in turn.
        waits = limits.take_many(s, [t, t, t, other], now=1200.0)
        assert waits[:2] == [0.0, 0.0] and waits[2] == pytest.approx(60.0) and waits[3] == 0.0
        assert limits.claim_once(s, "mailgun", "tok", now=1.0, ttl=10.0)
        assert not limits.claim_once(s, "mailgun", "tok", now=5.0, ttl=10.0)
        assert limits.claim_once(s, "mailgun", "tok", now=12.0, ttl=10.0)  # the window ran out
        limits.release(s, "mailgun", "tok")
        assert limits.claim_once(s, "mailgun", "tok", now=13.0, ttl=10.0)
        assert limits.prune(s, now=1e12) == 3  # two full buckets and the token


def test_two_transactions_recording_for_one_person_at_once_both_count(
    store: Store, tmp_path: Path
) -> None:
    """PostgreSQL: the second waits for the first's lock on the lead, then scores from what it
    wrote (otherwise it would write the lead from the row both read, losing the first's points)."""
    import threading

    from ingest.tracking.events import TrackedEvent
    from ingest.tracking.record import record_events
    from storage.models import utcnow

    if store.single_writer:
        pytest.skip("SQLite has one writer at a time: nothing to interleave")
    rt = _runtime(store, tmp_path)

    def event(email: str, key: str, kind: str) -> TrackedEvent:
        return TrackedEvent(
            kind=kind,
            occurred_at=utcnow(),
            dedup_key=f"{email}:{key}",
            source="web:www",
            detail=key,
            text="pricing guide demo",
            fields={"page_url": f"https://www.example.com/{key}"},
            email=email,
        )

    def record(*events: TrackedEvent) -> None:
        with store.session() as s:
            record_events(s, list(events), scorer=rt.scorer, now=utcnow())

    for email in ("jane@acme.example", "john@acme.example"):
        record(event(email, "first", "page_visit"))
    # One after the other for John: the reference.
    record(event("john@acme.example", "a", "download"))
    record(event("john@acme.example", "b", "webinar"))
    # At once for Jane: the first holds its transaction open while the second starts.
    written, release = threading.Event(), threading.Event()

    def first() -> None:
        with store.session() as s:
            record_events(
                s, [event("jane@acme.example", "a", "download")], scorer=rt.scorer, now=utcnow()
            )
            written.set()
            release.wait(10)

    t1 = threading.Thread(target=first)
    t1.start()
    assert written.wait(10)
    t2 = threading.Thread(target=record, args=(event("jane@acme.example", "b", "webinar"),))
    t2.start()
    t2.join(0.5)
    assert t2.is_alive()  # waiting for the lock on Jane
    release.set()
    t1.join(10)
    t2.join(10)
    with store.session() as s:
        jane, john = (
            s.exec(select(Lead).where(Lead.email == e)).one()
            for e in ("jane@acme.example", "john@acme.example")
        )
    assert jane.score == john.score and jane.score > 0
