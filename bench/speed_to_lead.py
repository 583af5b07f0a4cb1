"""Speed to lead: from the SMTP `250` to `chat.postMessage`, through a real `leadbot serve`.

    .venv/bin/python bench/speed_to_lead.py [--singles 20] [--burst 200] [--channels 10]
        [--postgres-url postgresql+psycopg://postgres@127.0.0.1:5432/test] [--sqlite-only]

For each backend (a scratch SQLite file; a scratch PostgreSQL database when a server URL is given
or LEADBOT_TEST_POSTGRES_URL is set) a `leadbot serve` process is started against the local Web
API stand-in (tests/bot/fake_slack.py, in this process, enforcing Slack's per-channel limit of
about one post a second: faster posts are answered 429). Hot inquiries go in through smtplib; the
time of each is from the moment smtplib has the `250` to the moment the stand-in receives the
card's chat.postMessage (one clock: both are in this process).

- singles: one inquiry at a time, the next a second after the previous card (so pacing never
  delays one); the first two are warm-up and not counted.
- burst: `--burst` inquiries at once over 4 connections, spread over `--channels` channels by
  routing rules. Slack's limit makes the k-th card of a channel wait about (k - 3) seconds, so
  the figure printed beside it is that floor: the last card's time against it.

The reference measured in the same run is the floor of the parts: a bare chat.postMessage to the
stand-in and an SMTP transaction's time to `250`, beside the singles' p50 (their ratio).
Digests are off (LEADBOT_SLACK_BURST=0): every lead gets its card, the hardest case for limits.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


from slack_sdk import WebClient  # noqa: E402

from tests.bot.fake_slack import FakeSlack  # noqa: E402

TOKEN = re.compile(r"lead[a-z]+\d+x(?=@)")
RATE, SLACK_BURST = 1.0, 4  # the stand-in's limit per channel: 1 a second, 4 at once
PACER_BURST = 3  # bot/dispatcher.py BURST
HOT_BODY = (
    "Hello,\n\nWe would like pricing and a quote for {seats} seats, and a demo next week if"
    " possible.\nOur budget is approved for this quarter.\n\nBest regards,\nPat {n}\n"
    "Head of Operations\nCompany {n}\n+1 415 555 {phone:04d}\n"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def hot_message(tag: str, n: int, channels: int) -> tuple[str, bytes]:
    token = f"lead{tag}{n}x"
    msg = EmailMessage()
    msg["From"] = f"Pat {n} <{token}@d{n % channels}.example>"
    msg["To"] = "leads@leads.example.com"
    msg["Subject"] = f"Pricing for {n % 90 + 10} seats"
    msg["Message-ID"] = f"<{token}@bench.example>"
    msg.set_content(HOT_BODY.format(seats=n % 90 + 10, n=n, phone=n % 10000))
    return token, msg.as_bytes()


def scratch_db(base: str | None, tmp: Path, tag: str) -> str:
    if base is None:
        return f"sqlite:///{tmp / f'speed-{tag}.db'}"
    import sqlalchemy as sa

    name = f"leadbot_speed_{tag}_{os.getpid()}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return sa.engine.make_url(base).set(database=name).render_as_string(hide_password=False)


def drop_db(base: str | None, url: str) -> None:
    if base is None:
        return
    import sqlalchemy as sa

    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        name = sa.engine.make_url(url).database
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


class Cards:
    """Which inquiry each chat.postMessage announced, by the token in its card."""

    def __init__(self, fake: FakeSlack) -> None:
        self.fake, self.seen, self.at = fake, 0, {}

    def scan(self) -> None:
        answers = list(self.fake.answers)  # calls answered (a 429 is not: no card yet)
        for call, answer in answers[self.seen :]:
            if call.method == "chat.postMessage" and answer.get("ok"):
                for token in set(TOKEN.findall(json.dumps(call.args))):
                    self.at.setdefault(token, call.at)
        self.seen = len(answers)

    def wait(self, tokens: list[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.scan()
            if all(t in self.at for t in tokens):
                return
            time.sleep(0.002)
        missing = [t for t in tokens if t not in self.at]
        raise SystemExit(f"{len(missing)} card(s) never posted, e.g. {missing[:3]}")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def line(label: str, ms: list[float]) -> str:
    return (
        f"  {label:<28} n={len(ms):<4} p50 {pct(ms, 50):7.1f} ms  p95 {pct(ms, 95):7.1f} ms"
        f"  p99 {pct(ms, 99):7.1f} ms  max {max(ms):7.1f} ms"
    )


def start_serve(
    url: str, fake: FakeSlack, channels: int, tmp: Path
) -> tuple[subprocess.Popen[bytes], int, float]:
    smtp_port, http_port = free_port(), free_port()
    routes = ",".join(f"domain:d{k}.example=C{k}" for k in range(channels))
    env = {
        **os.environ,
        "LEADBOT_DATABASE_URL": url,
        "LEADBOT_INBOX_DOMAINS": "leads.example.com",
        "SLACK_BOT_TOKEN": "xoxb-bench",
        "SLACK_SIGNING_SECRET": "bench-secret",
        "LEADBOT_SLACK_API_URL": fake.url,
        "LEADBOT_HOT_CHANNEL": "CHOT",
        "LEADBOT_SLACK_ROUTES": routes,
        "LEADBOT_SLACK_BURST": "0",
        "LEADBOT_RESCORE_INTERVAL_MINUTES": "0",
        "LEADBOT_ENV_FILE": str(tmp / "none.env"),
    }
    (tmp / "none.env").write_text("")
    started = time.perf_counter()
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "leadbot"),
            "serve",
            "--smtp-port",
            str(smtp_port),
            "--http-port",
            str(http_port),
        ],
        cwd=tmp,
        env={**env, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=open(tmp / f"serve-{smtp_port}.log", "wb"),  # noqa: SIM115
    )
    deadline = time.monotonic() + 120
    while True:
        try:
            with smtplib.SMTP("127.0.0.1", smtp_port, timeout=5) as s:
                s.noop()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"serve did not start: see {tmp}/serve-{smtp_port}.log") from None
            time.sleep(0.05)
    return proc, smtp_port, time.perf_counter() - started


def send(port: int, raws: list[tuple[str, bytes]], sent: dict[str, float]) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as s:
        for token, raw in raws:
            s.sendmail(f"{token}@d.example", ["leads@leads.example.com"], raw)
            sent[token] = time.perf_counter()


def bare_post_ms(fake: FakeSlack) -> float:
    """The median of 20 bare chat.postMessage calls to the stand-in (each its own channel)."""
    client = WebClient(token="xoxb-bench", base_url=fake.url)
    times = []
    for i in range(20):
        t = time.perf_counter()
        client.chat_postMessage(channel=f"CFLOOR{i}", text="floor")
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def run_backend(name: str, base: str | None, args: argparse.Namespace, tmp: Path) -> None:
    fake = FakeSlack(channel_rate=(RATE, SLACK_BURST)).start()
    url = scratch_db(base, tmp, name)
    proc, port, boot = start_serve(url, fake, args.channels, tmp)
    try:
        post_floor = bare_post_ms(fake)
        cards = Cards(fake)
        sent: dict[str, float] = {}
        singles: list[float] = []
        smtp_ms: list[float] = []
        for n in range(args.singles + 2):
            token, raw = hot_message(f"s{name}", n, args.channels)
            t = time.perf_counter()
            send(port, [(token, raw)], sent)
            smtp_ms.append((sent[token] - t) * 1000)
            cards.wait([token], timeout=30)
            if n >= 2:
                singles.append((cards.at[token] - sent[token]) * 1000)
            time.sleep(1.0)
        time.sleep(SLACK_BURST / RATE)  # every channel's bucket full again
        burst = [hot_message(f"b{name}", n, args.channels) for n in range(args.burst)]
        chunks = [burst[i::4] for i in range(4)]
        threads = [threading.Thread(target=send, args=(port, c, sent)) for c in chunks]
        first = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        tokens = [t for t, _ in burst]
        cards.wait(tokens, timeout=args.burst / RATE + 120)
        lat = [(cards.at[t] - sent[t]) * 1000 for t in tokens]
        last = max(cards.at[t] for t in tokens) - first
        per_channel = -(-args.burst // args.channels)
        floor_s = max(0.0, (per_channel - PACER_BURST) / RATE)
        answered = [c for c, _ in fake.answers if c.method == "chat.postMessage"]
        refused = len(fake.to("chat.postMessage")) - len(answered)
        order = misordered(fake, tokens, sent)
    finally:
        proc.terminate()
        proc.wait(30)
        fake.stop()
        drop_db(base, url)
    print(f"{name}: serve answered SMTP {boot:.1f} s after start (its workers ready first)")
    print(f"  reference: bare chat.postMessage {post_floor:.1f} ms, SMTP to 250 p50 "
          f"{statistics.median(smtp_ms):.1f} ms; floor {post_floor + statistics.median(smtp_ms):.1f} ms")  # fmt: skip
    print(line("singles, 250 -> postMessage", singles))
    print(
        f"  singles p50 / floor: {pct(singles, 50) / (post_floor + statistics.median(smtp_ms)):.1f}x"
    )
    print(line(f"burst of {args.burst}, {args.channels} channels", lat))
    print(f"  burst: last card {last:.1f} s after the first 250; Slack's limit allows {floor_s:.1f} s"
          f" ({last / floor_s if floor_s else 0:.2f}x); 429 answered {refused}; out of order {order}")  # fmt: skip


def misordered(fake: FakeSlack, tokens: list[str], sent: dict[str, float]) -> int:
    """Cards of a channel posted before a card of an inquiry accepted earlier there."""
    posted: dict[str, list[str]] = {}
    wanted = set(tokens)
    for call, answer in fake.answers:
        if call.method != "chat.postMessage" or not answer.get("ok"):
            continue
        for t in set(TOKEN.findall(json.dumps(call.args))) & wanted:
            posted.setdefault(str(call.args.get("channel")), []).append(t)
    bad = 0
    for order in posted.values():
        accepted = [sent[t] for t in order]
        bad += sum(1 for a, b in itertools.pairwise(accepted) if b < a)
    return bad


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--singles", type=int, default=20)
    p.add_argument("--burst", type=int, default=200)
    p.add_argument("--channels", type=int, default=10)
    p.add_argument("--postgres-url", default=os.environ.get("LEADBOT_TEST_POSTGRES_URL"))
    p.add_argument("--sqlite-only", action="store_true")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        run_backend("sqlite", None, args, tmp)
        if args.postgres_url and not args.sqlite_only:
            run_backend("postgresql", args.postgres_url, args, tmp)


if __name__ == "__main__":
    main()
