"""Latency of `/lead` and Claim at 100k and 1M leads, SQLite and PostgreSQL (run by hand).

    .venv/bin/python bench/slack.py --sizes 100000,1000000 --backends sqlite,postgresql

For each backend and size: synthetic leads are bulk-loaded (executemany in one transaction on
SQLite, COPY on PostgreSQL, search index built once after the load), then measured twice:
  * storage: `find_leads` and `lifecycle.claim` called directly;
  * http: signed requests into the real `POST /slack/events` (the app served by uvicorn on a free
    port), `/lead` slash commands and Claim clicks; the Web API (`LEADBOT_SLACK_API_URL`) is a
    local fake that answers ok, so nothing leaves the machine.
A Claim click is acknowledged at once and claimed in Bolt's worker thread; "claim done" is the
time until every clicked lead is claimed in the database, divided by the clicks.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import random
import socket
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.config import Settings
from bot.runtime import build_runtime
from bot.web import create_app
from storage import lifecycle
from storage.db import Store
from storage.migrate import upgrade
from storage.models import Lead
from storage.search import find_leads, repair_search_index
from storage.stats import funnel


def words(text: str) -> list[str]:
    return text.split()


SECRET = "bench-signing-secret"
FIRST = words(
    """
    james mary john patricia robert jennifer michael linda william elizabeth david barbara
    richard susan joseph jessica thomas sarah charles karen christopher nancy daniel lisa
    matthew betty anthony margaret mark sandra donald ashley steven kimberly paul emily
    andrew donna joshua michelle kenneth dorothy kevin carol brian amanda george melissa
    edward deborah ronald stephanie timothy rebecca jason sharon jeffrey laura ryan cynthia
    jacob kathleen gary amy nicholas shirley eric angela jonathan helen stephen anna larry
    brenda justin pamela scott nicole brandon emma benjamin samantha samuel katherine frank
    christine gregory debra raymond rachel alexander catherine patrick carolyn jack janet
    dennis ruth jerry maria tyler heather aaron diane jose virginia henry julie adam joyce
    douglas victoria nathan olivia peter kelly zachary christina kyle lauren walter joan
    harold evelyn jeremy judith ethan megan carl cheryl keith andrea roger hannah gerald
    martha christian jacqueline terry frances sean gloria arthur ann austin teresa noah
    kathryn lawrence sara jesse janice joe jean bryan alice billy madison jordan doris
    albert abigail dylan julia bruce judy willie grace gabriel denise alan amber juan
    marilyn logan beverly wayne danielle ralph theresa roy sophia eugene marie randy diana
    vincent brittany russell natalie louis isabella philip charlotte bobby rose johnny
    alexis bradley kayla jane
    """
)
LAST = words(
    """
    smith johnson williams brown jones garcia miller davis rodriguez martinez hernandez
    lopez gonzalez wilson anderson thomas taylor moore jackson martin lee perez thompson
    white harris sanchez clark ramirez lewis robinson walker young allen king wright scott
    torres nguyen hill flores green adams nelson baker hall rivera campbell mitchell carter
    roberts gomez phillips evans turner diaz parker cruz edwards collins reyes stewart
    morris morales murphy cook rogers gutierrez ortiz morgan cooper peterson bailey reed
    kelly howard ramos kim cox ward richardson watson brooks chavez wood james bennett gray
    mendoza ruiz hughes price alvarez castillo sanders patel myers long ross foster jimenez
    powell jenkins perry russell sullivan bell coleman butler henderson barnes gonzales
    fisher vasquez simmons romero jordan patterson alexander hamilton graham reynolds
    griffin wallace moreno west cole hayes bryant herrera gibson ellis tran medina aguilar
    stevens murray ford castro marshall owens harrison fernandez mcdonald woods washington
    kennedy wells vargas henry chen freeman webb tucker guzman burns crawford olson simpson
    porter hunter gordon mendez silva shaw snyder mason dixon munoz hunt hicks holmes palmer
    wagner black robertson boyd rose stone salazar fox warren mills meyer rice schmidt garza
    daniels ferguson nichols stephens soto weaver ryan gardner payne grant dunn kelley
    spencer hawkins arnold pierce vazquez hansen peters santos hart bradley knight elliott
    cunningham duncan armstrong hudson carroll lane riley andrews alvarado ray delgado berry
    perkins hoffman johnston matthews pena richards willis carpenter lawrence sandoval doe
    """
)
WORDS = words(
    """
    acme globex initech umbrella stark wayne wonka cyberdyne tyrell soylent hooli vandelay
    massive dynamic aperture oscorp nakatomi gringotts monarch pied piper zorg sirius
    virtucon nimbus quantum vertex summit pinnacle apex nova orbit lumen helix atlas titan
    zenith polar cobalt ember falcon harbor maple cedar river stone iron silver golden blue
    red green bright clear swift
    """
)
KINDS = words(
    """
    robotics systems labs software analytics logistics foods energy health capital media
    networks devices studios partners consulting foundry works group holdings
    """
)
TLDS = ("com", "io", "example", "co", "net", "de")
CHUNK = 20_000


def synthetic(n: int, seed: int = 4) -> Iterator[dict[str, Any]]:
    rnd = random.Random(seed)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(n):
        first, last = rnd.choice(FIRST), rnd.choice(LAST)
        company = f"{rnd.choice(WORDS).title()} {rnd.choice(KINDS).title()}"
        if rnd.random() < 0.3:
            company = f"{rnd.choice(WORDS).title()} {company}"
        slug = company.lower().replace(" ", "")
        domain = f"{slug}{i % 97 if rnd.random() < 0.5 else ''}.{rnd.choice(TLDS)}"
        at = t0 + timedelta(minutes=i % 500_000)
        yield {
            "email": f"{first}.{last}{i}@{domain}",
            "domain": domain,
            "name": f"{first.title()} {last.title()}",
            "company": company,
            "source": "bench",
            "latest_source": "bench",
            "status": "announced" if i % 10 == 0 else "nurturing",
            "temperature": "hot" if i % 10 == 0 else "cold",
            "score": round(rnd.random() * 100, 2),
            "fit_score": 0.0,
            "engagement_score": 0.0,
            "reasons": [],
            "fields": {},
            "edited_fields": [],
            "created_at": at,
            "updated_at": at,
            "announced_at": at if i % 10 == 0 else None,
        }


COLUMNS = list(next(synthetic(1)).keys())


def load(store: Store, n: int) -> float:
    """Bulk-load n leads, the search index built once at the end; returns seconds."""
    started = time.perf_counter()
    table: sa.Table = Lead.__table__  # type: ignore[attr-defined]
    if store.dialect == "sqlite":
        with store.engine.begin() as conn:
            for trigger in ("lead_search_ai", "lead_search_ad", "lead_search_au",
                            "lead_words_ai", "lead_words_ad", "lead_words_au"):  # fmt: skip
                conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {trigger}")
            batch: list[dict[str, Any]] = []
            for row in synthetic(n):
                batch.append(row)
                if len(batch) == CHUNK:
                    conn.execute(table.insert(), batch)
                    batch = []
            if batch:
                conn.execute(table.insert(), batch)
    else:
        with store.engine.begin() as conn:
            conn.exec_driver_sql("DROP INDEX IF EXISTS ix_lead_search_trgm")
            conn.exec_driver_sql("DROP INDEX IF EXISTS ix_lead_words")
        raw = store.engine.raw_connection()
        try:
            cur = raw.cursor()
            with cur.copy(f"COPY lead ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for row in synthetic(n):
                    copy.write_row(
                        [json.dumps(v) if isinstance(v, list | dict) else v for v in row.values()]
                    )
            raw.commit()
        finally:
            raw.close()
    repair_search_index(store.engine)
    if store.dialect == "postgresql":  # after the index: ANALYZE samples its expression too
        with store.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE lead")
    return time.perf_counter() - started


def lead_count(store: Store) -> int:
    with store.session() as s:
        return int(s.scalar(sa.text("SELECT count(*) FROM lead")) or 0)


def queries(n: int, count: int, seed: int = 7) -> list[tuple[str, str]]:
    """(kind, text) lookups a rep would type, about the leads that synthetic() made."""
    rows = list(synthetic(min(n, 50_000)))
    rnd = random.Random(seed)
    out: list[tuple[str, str]] = []
    for k in range(count):
        r = rnd.choice(rows)
        first, last = r["name"].lower().split()
        kind = ("email", "domain", "name", "typo", "company", "partial")[k % 6]
        if kind == "email":
            text = r["email"].upper()
        elif kind == "domain":
            text = "@" + r["domain"]
        elif kind == "name":
            text = r["name"]
        elif kind == "typo":
            i = rnd.randrange(len(first) - 1)
            text = first[:i] + first[i + 1] + first[i] + first[i + 2 :] + " " + last
        elif kind == "company":
            text = r["company"][:-1]  # a letter missing at the end
        else:
            text = r["company"].split()[-1][:5]
        out.append((kind, text))
    return out


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] * 1000


def summary(label: str, values: list[float]) -> str:
    return (
        f"{label:<28} n={len(values):<5} p50={pct(values, 50):8.2f} ms  "
        f"p99={pct(values, 99):8.2f} ms  max={max(values) * 1000:8.2f} ms"
    )


def timed(fn: Callable[[], Any]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def announced_ids(store: Store, count: int, *, offset: int) -> list[int]:
    with store.session() as s:
        stmt = sa.text(
            "SELECT id FROM lead WHERE status = 'announced' ORDER BY id LIMIT :n OFFSET :o"
        )
        return list(s.scalars(stmt, {"n": count, "o": offset}))


def bench_storage(store: Store, n: int, count: int) -> list[str]:
    lines = []
    by_kind: dict[str, list[float]] = {}
    for kind, text in queries(n, count):

        def lookup(text: str = text) -> None:
            with store.session() as s:
                find_leads(s, text, limit=10)

        by_kind.setdefault(kind, []).append(timed(lookup))
    every = [v for vs in by_kind.values() for v in vs]
    lines.append(summary("storage find_leads (all)", every))
    lines += [summary(f"  {k}", vs) for k, vs in by_kind.items()]
    claims = []
    for lead_id in announced_ids(store, count, offset=0):

        def claim(lead_id: int = lead_id) -> None:
            with store.session() as s:
                lifecycle.claim(s, lead_id=lead_id, user="UBENCH")

        claims.append(timed(claim))
    lines.append(summary("storage claim", claims))

    def stats() -> None:
        with store.session() as s:
            funnel(s)

    lines.append(summary("storage funnel", [timed(stats) for _ in range(5)]))
    return lines


# --- the HTTP side ---------------------------------------------------------------------------


class FakeSlack(BaseHTTPRequestHandler):
    """Answers every Web API method with ok (auth.test with the fields Bolt reads)."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        body: dict[str, Any] = {"ok": True}
        if self.path.endswith("auth.test"):
            body |= {"user_id": "UBOT", "bot_id": "BBOT", "team_id": "T1", "url": "x"}
        if self.path.endswith("chat.postMessage") or self.path.endswith("chat.update"):
            body |= {"channel": "C1", "ts": "1.000001"}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(url: str) -> Iterator[str]:
    fake = ThreadingHTTPServer(("127.0.0.1", 0), FakeSlack)
    threading.Thread(target=fake.serve_forever, daemon=True).start()
    settings = Settings(
        _env_file=None,
        database_url=url,
        slack_bot_token="xoxb-bench",
        slack_signing_secret=SECRET,
        slack_api_url=f"http://127.0.0.1:{fake.server_address[1]}/api/",
        hot_channel="C1",
    )
    runtime = build_runtime(settings)
    port = free_port()
    config = uvicorn.Config(create_app(runtime), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/slack/events"
    finally:
        server.should_exit = True
        thread.join(10)
        fake.shutdown()
        runtime.store.dispose()


def signed(body: bytes, content_type: str) -> dict[str, str]:
    ts = str(int(time.time()))
    mac = hmac.new(SECRET.encode(), b"v0:" + ts.encode() + b":" + body, hashlib.sha256)
    return {
        "content-type": content_type,
        "x-slack-request-timestamp": ts,
        "x-slack-signature": "v0=" + mac.hexdigest(),
    }


def slash(text: str) -> bytes:
    form = {
        "token": "x",
        "team_id": "T1",
        "team_domain": "bench",
        "channel_id": "C1",
        "channel_name": "leads",
        "user_id": "U1",
        "user_name": "rep",
        "command": "/lead",
        "text": text,
        "api_app_id": "A1",
        "response_url": "http://127.0.0.1:9/response",
        "trigger_id": "1.2.3",
    }
    return urllib.parse.urlencode(form).encode()


def claim_click(lead_id: int, user: str) -> bytes:
    payload = {
        "type": "block_actions",
        "team": {"id": "T1", "domain": "bench"},
        "user": {"id": user, "team_id": "T1"},
        "api_app_id": "A1",
        "token": "x",
        "trigger_id": "1.2.3",
        "container": {"type": "message", "channel_id": "C1", "message_ts": "1.000001"},
        "channel": {"id": "C1", "name": "leads"},
        "message": {"ts": "1.000001", "text": "hot lead"},
        "response_url": "http://127.0.0.1:9/response",
        "actions": [
            {
                "type": "button",
                "action_id": "lead_claim",
                "block_id": "b1",
                "value": str(lead_id),
                "action_ts": "1.1",
            }
        ],
    }
    return urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()


def bench_http(store: Store, n: int, count: int) -> list[str]:
    form = "application/x-www-form-urlencoded"
    lines = []
    with serving(store.url) as endpoint, httpx.Client(timeout=10) as http:
        for _ in range(3):  # warm-up: Bolt's lazy auth.test, connection pools
            http.post(endpoint, content=slash("warm"), headers=signed(slash("warm"), form))
        lookups = []
        for _kind, text in queries(n, count, seed=11):
            body = slash(text)
            t = time.perf_counter()
            r = http.post(endpoint, content=body, headers=signed(body, form))
            lookups.append(time.perf_counter() - t)
            assert r.status_code == 200, r.text
        lines.append(summary("http /lead", lookups))
        ids = announced_ids(store, count, offset=count)
        clicks = []
        started = time.perf_counter()
        for lead_id in ids:
            body = claim_click(lead_id, "U2")
            t = time.perf_counter()
            r = http.post(endpoint, content=body, headers=signed(body, form))
            clicks.append(time.perf_counter() - t)
            assert r.status_code == 200, r.text
        lines.append(summary("http Claim (ack)", clicks))
        claimed = 0
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with store.session() as s:
                # Only the leads clicked in this run: a kept database holds earlier claims.
                done = sa.select(sa.func.count()).where(
                    Lead.id.in_(ids),  # type: ignore[union-attr]
                    Lead.owner == "U2",  # type: ignore[arg-type]
                    Lead.status == "claimed",  # type: ignore[arg-type]
                )
                claimed = s.scalar(done) or 0
            if claimed >= len(ids):
                break
            time.sleep(0.05)
        per = (time.perf_counter() - started) / max(1, len(ids)) * 1000
        lines.append(f"{'http Claim (done)':<28} {claimed}/{len(ids)} claimed, {per:.2f} ms/click")
    return lines


def database(
    backend: str, size: int, pg_url: str, workdir: Path, *, keep: Path | None = None
) -> tuple[str, Callable[[], None]]:
    """A scratch database and how to drop it; with `keep`, a named one that outlives the run."""
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        if backend == "sqlite":
            return f"sqlite:///{keep / f'bench_{size}.db'}", lambda: None
        name = f"leadbot_bench_keep_{size}"
        admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            if conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}):
                pass
            else:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        return sa.engine.make_url(pg_url).set(database=name).render_as_string(False), lambda: None
    if backend == "sqlite":
        path = workdir / f"bench_{size}_{uuid.uuid4().hex[:6]}.db"

        def remove() -> None:
            for p in workdir.glob(path.name + "*"):
                p.unlink(missing_ok=True)

        return f"sqlite:///{path}", remove
    name = f"leadbot_bench_{size}_{uuid.uuid4().hex[:6]}"
    admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return sa.engine.make_url(pg_url).set(database=name).render_as_string(False), drop


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--count", type=int, default=300, help="lookups and claims per run")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("LEADBOT_TEST_POSTGRES_URL")
        or "postgresql+psycopg://postgres@127.0.0.1:5432/test",
        help="a PostgreSQL server URL; a scratch database is created and dropped",
    )
    parser.add_argument("--no-http", action="store_true", help="storage layer only")
    parser.add_argument(
        "--keep",
        type=Path,
        metavar="DIR",
        help="keep the databases between runs (SQLite files in DIR, PostgreSQL databases named "
        "leadbot_bench_keep_SIZE) and load only when the lead count differs; drop them by hand",
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    backends = [b for b in args.backends.split(",") if b]
    with tempfile.TemporaryDirectory(prefix="leadbot-bench-") as tmp:
        for backend in backends:
            for size in sizes:
                url, drop = database(backend, size, args.pg_url, Path(tmp), keep=args.keep)
                try:
                    store = Store(url)
                    upgrade(store)
                    have = lead_count(store) if args.keep is not None else 0
                    if have == size:
                        loaded = "kept from an earlier run"
                    elif have:
                        raise SystemExit(f"{url} holds {have} leads, not {size}: drop it first")
                    else:
                        loaded = f"loaded in {load(store, size):.1f} s"
                    print(f"\n== {backend}, {size:,} leads ({loaded}) ==", flush=True)
                    for line in bench_storage(store, size, args.count):
                        print(line, flush=True)
                    if not args.no_http:
                        for line in bench_http(store, size, args.count):
                            print(line, flush=True)
                    store.dispose()
                finally:
                    drop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
