"""HTTP fuzzing by hand: every route, grown from the samples in tests/data, for as long as asked.

    .venv/bin/python bench/fuzz.py [--minutes 5] [--routes forms,inbound,slack] [--seed 1]
                                   [--database-url URL] [--hostile]

The strategies of tests/fuzz.py (the suite's quick run uses them too) against the real ASGI app,
with the Web API stand-in for Slack. Prints, per route, the tries, the answers by status, the
failures (any 5xx, a 4xx without a JSON error, an error body that leaks an internal error) with
the smallest request that showed each, the internal errors kept with stored inputs, and the
inputs that cost the most CPU. `--hostile` instead prints the CPU each of the issue's hostile
inputs costs (run it from an older checkout for the figures before a change).
`--database-url` takes an empty PostgreSQL database (it is migrated); the default is SQLite.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hypothesis import HealthCheck, given, settings
from hypothesis import seed as hypothesis_seed
from sqlmodel import col, select
from starlette.testclient import TestClient

from bot.runtime import build_runtime
from bot.web import create_app
from storage.db import Store
from storage.migrate import upgrade
from storage.models import RawInput
from tests.bot.fake_slack import FakeSlack
from tests.bot.slack_helpers import SIGNING_SECRET
from tests.conftest import make_settings
from tests.fuzz import (
    FORMS_TOML,
    SECRETS,
    Request,
    check,
    form_requests,
    inbound_requests,
    sign_slack,
    slack_requests,
)

ROUTES: dict[str, Any] = {
    "forms": form_requests,
    "inbound": inbound_requests,
    "slack": slack_requests,
}
BATCH = 200  # examples per hypothesis run; runs repeat with new seeds until time is up


class Fuzzer:
    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.tries: Counter[str] = Counter()
        self.statuses: dict[str, Counter[int]] = {name: Counter() for name in ROUTES}
        self.failures: dict[str, Request] = {}  # first line of the problem -> smallest request
        self.costly: list[tuple[float, str]] = []

    def send(self, route: str, request: Request) -> None:
        headers = dict(request.headers)
        if request.slack_signed:
            headers.update(sign_slack(request.body, SIGNING_SECRET, int(time.time())))
        raw = {k: v.encode("latin-1") for k, v in headers.items()}
        start = time.process_time()
        r = self.client.request(request.method, request.path, content=request.body, headers=raw)  # type: ignore[arg-type]
        spent = time.process_time() - start
        self.tries[route] += 1
        self.statuses[route][r.status_code] += 1
        self.costly = sorted([*self.costly, (spent, request.short()[:160])], reverse=True)[:5]
        problem = check(request, r.status_code, r.content)
        if problem is not None:
            key = problem.split(" for ", 1)[0][:80] + f" ({route})"
            known = self.failures.get(key)
            if known is None or len(request.body) < len(known.body):
                self.failures[key] = request

    def run(self, route: str, *, seed: int) -> None:
        strategy = ROUTES[route]()

        @hypothesis_seed(seed)
        @settings(
            max_examples=BATCH,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(strategy)
        def one(request: Request) -> None:
            self.send(route, request)

        one()


def store_for(url: str | None) -> Store:
    if url is None:
        url = f"sqlite:///{tempfile.mkdtemp(prefix='leadbot-fuzz-')}/fuzz.db"
    store = Store(url)
    upgrade(store)
    return store


def internal_errors(store: Store) -> list[str]:
    with store.session() as s:
        rows = s.exec(select(RawInput).where(col(RawInput.reason).startswith("internal error")))
        return [f"raw {r.id} ({r.channel}): {(r.reason or '')[:160]}" for r in rows]


def fuzz(args: argparse.Namespace) -> int:
    store = store_for(args.database_url)
    fake = FakeSlack().start()
    forms = Path(tempfile.mkdtemp(prefix="leadbot-fuzz-")) / "forms.toml"
    forms.write_text(FORMS_TOML)
    settings_ = make_settings(
        store.url,
        LEADBOT_FORMS=str(forms),
        SLACK_BOT_TOKEN="xoxb-fuzz",
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        slack_api_url=fake.url,
        hot_channel="CHOT",
        **SECRETS,
    )
    runtime = build_runtime(settings_, store=store)
    routes = [r.strip() for r in args.routes.split(",") if r.strip()]
    deadline = time.monotonic() + args.minutes * 60
    with TestClient(create_app(runtime), raise_server_exceptions=False) as client:
        fuzzer = Fuzzer(client)
        seed = args.seed
        while time.monotonic() < deadline:
            for route in routes:
                fuzzer.run(route, seed=seed)
                seed += 1
    fake.stop()
    print(f"database: {store.url.split('@')[-1]}  minutes: {args.minutes}")
    for route in routes:
        answers = ", ".join(f"{s}: {n}" for s, n in sorted(fuzzer.statuses[route].items()))
        print(f"{route:8s} {fuzzer.tries[route]:6d} tries  ({answers})")
    print(f"failures: {len(fuzzer.failures)}")
    for problem, request in sorted(fuzzer.failures.items()):
        print(f"  {problem}\n    smallest: {request.short()}")
        print(f"    headers: {request.headers}\n    body: {request.body[:3000]!r}")
    kept = internal_errors(store)
    print(f"inputs kept with an internal error: {len(kept)}")
    for line in kept[:20]:
        print(f"  {line}")
    print("most CPU per request:")
    for spent, what in fuzzer.costly:
        print(f"  {spent * 1000:8.1f} ms  {what}")
    return 1 if fuzzer.failures else 0


def hostile_inputs() -> list[tuple[str, str, dict[str, str], bytes]]:
    """The issue's hostile inputs: (label, path, headers, body)."""
    boundary = "B0undary"
    params = "; ".join(f"p{i}=v{i}" for i in range(20_000))
    part = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="email"\r\n'
        f"Content-Type: text/plain; {params}\r\n\r\njane@acme.example\r\n--{boundary}--\r\n"
    ).encode()
    multipart = {"content-type": f"multipart/form-data; boundary={boundary}"}
    many = "".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="f{i}"\r\n\r\nv\r\n'
        for i in range(5000)
    )
    out = [
        ("form: part Content-Type with 20,000 parameters", "/forms/demo", multipart, part),
        ("sendgrid: the same body", "/inbound/sendgrid?key=sg", multipart, part),
        ("form: 5,000 parts", "/forms/demo", multipart, (many + f"--{boundary}--\r\n").encode()),
    ]
    for header, value in (("from", "é." * 500), ("to", "é a " * 250), ("from", "(" * 500)):
        fields = {"from": "Ann <ann@acme.example>", "text": "Quote for 25 seats", header: value}
        body = (
            "".join(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
                for k, v in fields.items()
            )
            + f"--{boundary}--\r\n"
        )
        label = f"sendgrid parsed: 1 KB {header.title()} {value[:6]!r}…"
        out.append((label, "/inbound/sendgrid?key=sg", multipart, body.encode()))
    postmark = json.loads(
        (Path(__file__).parents[1] / "tests/data/inbound/postmark-inbound.json").read_text()
    )
    postmark["To"] = "é." * 500
    postmark["Headers"] = []
    out.append(("postmark: 1 KB To", "/inbound/postmark?key=pm", {"content-type": "application/json"},
                json.dumps(postmark).encode()))  # fmt: skip
    deep = b'{"a":' * 100_000 + b"1" + b"}" * 100_000
    out.append(("postmark: 100k-deep JSON", "/inbound/postmark?key=pm",
                {"content-type": "application/json"}, deep))  # fmt: skip
    return out


def hostile(args: argparse.Namespace) -> int:
    store = store_for(args.database_url)
    forms = Path(tempfile.mkdtemp(prefix="leadbot-fuzz-")) / "forms.toml"
    forms.write_text(FORMS_TOML + "max_body_bytes = 400000\n")
    runtime = build_runtime(
        make_settings(store.url, LEADBOT_FORMS=str(forms), **SECRETS), store=store
    )
    logging.getLogger("leadbot").setLevel(logging.CRITICAL)  # a reader's traceback is not a figure
    with TestClient(create_app(runtime), raise_server_exceptions=False) as client:
        print(f"{'input':52s} {'bytes':>7s} {'CPU s':>7s}  answer; stored as")
        for label, path, headers, body in hostile_inputs():
            start = time.process_time()
            r = client.post(path, content=body, headers=headers)
            spent = time.process_time() - start
            try:
                answer = r.json()
            except ValueError:
                answer = {}
            raw_id = answer.get("raw_id") or answer.get("submission_id")
            kept = ""
            if raw_id:
                with store.session() as s:
                    raw = s.get(RawInput, raw_id)
                kept = f"; {raw.status} {(raw.reason or '')[:40]}" if raw else ""
            said = str(answer.get("error") or answer.get("status") or r.text)[:40]
            print(f"{label:52s} {len(body):7d} {spent:7.3f}  {r.status_code} {said}{kept}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--routes", default="forms,inbound,slack")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--hostile", action="store_true", help="CPU per hostile input instead")
    args = parser.parse_args()
    return hostile(args) if args.hostile else fuzz(args)


if __name__ == "__main__":
    raise SystemExit(main())
