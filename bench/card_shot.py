"""The Slack card as a rep sees it: a forwarded inquiry through the real pipeline and sender, every
message and modal rendered to HTML (bench/blockkit_page.py) and screenshotted by headless Chromium.

    .venv/bin/python bench/card_shot.py --out /tmp/cards [--no-shot]

A rep (rita@ourco.example, Slack U0REP) forwards Jane's inquiry with a note; it is announced,
Joe (U0JOE) claims it, Jane replies, Joe marks it won. The Web API is the tests' local stand-in,
so nothing leaves the machine; what the bot sent is read back from it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select

from bench.blockkit_page import message_html, modal_html, page
from bot.config import Settings
from bot.dispatcher import Dispatcher
from bot.jobs.sla import slack_tick
from bot.runtime import build_runtime
from bot.slack import blocks, surfaces
from bot.slack.sender import SlackSender
from storage import lifecycle
from storage import slack as slack_store
from storage.db import Store
from storage.migrate import upgrade
from storage.models import Lead, utcnow
from tests.bot.fake_slack import FakeSlack

FORWARD = """can someone pick it up? I'm travelling

---------- Forwarded message ---------
From: Jane Doe <jane@acme-robotics.example>
Date: Wed, Dec 2, 2026 at 9:12 AM
Subject: Pricing and a demo for 120 seats
To: <rita@ourco.example>

Hello,

we are evaluating analytics tools for our operations team and would need pricing for
120 seats, ideally with annual billing. Could we also get a demo next week? We want to
decide this quarter.

Thanks,
Jane Doe
VP Operations, Acme Robotics
+1 415 555 0100
"""

REPLY = """Hi again, one more thing: can we pay by invoice?

Jane

On Wed, Dec 2, 2026 at 9:12 AM Jane Doe <jane@acme-robotics.example> wrote:
> we are evaluating analytics tools
"""


def email(sender: str, subject: str, body: str, msgid: str, when: Any, **headers: str) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, "leads@leads.example.com", subject
    msg["Date"], msg["Message-ID"] = format_datetime(when), msgid
    for k, v in headers.items():
        msg[k.replace("_", "-")] = v
    msg.set_content(body)
    return msg.as_bytes()


def run(out: Path) -> list[tuple[str, str]]:
    fake = FakeSlack(users_by_email={"rita@ourco.example": "U0REP"}).start()
    tmp = Path(tempfile.mkdtemp())
    store = Store(f"sqlite:///{tmp / 'card.db'}")
    upgrade(store)
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=store.url, inbox_domains="leads.example.com", internal_domains="ourco.example",
        SLACK_BOT_TOKEN="xoxb-card", slack_api_url=fake.url, hot_channel="CHOT",
        rescore_interval_minutes=0,
    )  # fmt: skip
    runtime = build_runtime(settings, store=store)
    send = Dispatcher(store, SlackSender.from_runtime(runtime), worker="card").run_once
    now = utcnow()
    raw_id, _ = runtime.pipeline.accept(
        email("Rita Rep <rita@ourco.example>", "Fwd: Pricing and a demo for 120 seats", FORWARD,
              "<fwd-1@ourco.example>", now - timedelta(hours=2))
    )  # fmt: skip
    runtime.pipeline.process(raw_id)
    send()
    with store.session() as s:
        lead = s.scalars(select(Lead)).one()
        lead_id = lead.id
        assert lead_id is not None
        lifecycle.claim(s, lead_id=lead_id, user="U0JOE")
        slack_store.enqueue_lead_changed(s, lead, thread={"event": "claimed", "actor": "U0JOE"})
    send()
    slack_tick(runtime)  # the cursor starts now: the reply below is news
    raw_id, _ = runtime.pipeline.accept(
        email("Jane Doe <jane@acme-robotics.example>", "Re: Pricing and a demo for 120 seats",
              REPLY, "<reply-1@acme-robotics.example>", now - timedelta(minutes=5),
              In_Reply_To="<fwd-1@ourco.example>")
    )  # fmt: skip
    runtime.pipeline.process(raw_id)
    slack_tick(runtime)
    send()
    modals = []
    with store.session() as s:
        lead = s.get(Lead, lead_id)
        assert lead is not None
        ask = blocks.ask_of(slack_store.card_inquiry(s, lead_id))
        meta = surfaces.metadata(lead_id=lead_id, channel="CHOT", user="U0JOE")
        modals = [
            surfaces.won_modal(lead, meta),
            surfaces.lost_modal(lead, meta, reasons=settings.lost_reasons),
            surfaces.reassign_modal(lead, meta),
            surfaces.edit_modal(lead, meta),
            surfaces.details_modal(lead, ask, rep="U0REP"),
        ]
    with store.session() as s:
        lead = lifecycle.win(
            s, lead_id=lead_id, actor="U0JOE", reason="annual, 120 seats", value=43200.0
        )
        thread = {"event": "won", "actor": "U0JOE", "value": 43200.0, "text": "annual, 120 seats"}
        slack_store.enqueue_lead_changed(s, lead, thread=thread)
    send()
    fake.stop()
    items: list[tuple[str, str]] = [(f"modal {m['callback_id']}", modal_html(m)) for m in modals]
    for call in fake.calls:
        a = call.args
        if call.method in ("chat.postMessage", "chat.update"):
            label = f"{call.method} {a.get('channel')}" + (
                " (thread)" if a.get("thread_ts") else ""
            )
            msg = {"text": a.get("text", ""), "blocks": a.get("blocks") or []}
            items.append((label, message_html(msg, thread=bool(a.get("thread_ts")))))
        elif call.method in ("views.open",):
            items.append((call.method, modal_html(a["view"])))
    (out / "calls.json").write_text(json.dumps([[c.method, c.args] for c in fake.calls], indent=1))
    shutil.rmtree(tmp, ignore_errors=True)
    return items


def screenshot(html_path: Path, png: Path, *, height: int) -> None:
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--screenshot={png}", f"--window-size=720,{height}", html_path.as_uri()],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/cards"))
    parser.add_argument("--height", type=int, default=2400)
    parser.add_argument("--no-shot", action="store_true")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    items = run(args.out)
    modals = [i for i in items if i[0].startswith("modal")]
    messages = [i for i in items if not i[0].startswith("modal")]
    for name, part in (("cards", messages), ("modals", modals)):
        html_path = args.out / f"{name}.html"
        html_path.write_text(page(part))
        print(html_path)
        if not args.no_shot:
            screenshot(html_path, args.out / f"{name}.png", height=args.height)
            print(args.out / f"{name}.png")


if __name__ == "__main__":
    main()
