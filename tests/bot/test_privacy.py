"""Forget, export and retention (issue 15): a forgotten person is nowhere in the database files,
their Slack messages are redacted through the outbox, funnel counts still add up, and with
suppression on the next message from them is not a lead. Both backends."""

from __future__ import annotations

import json
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import select
from starlette.testclient import TestClient

from bot.cli import main
from bot.privacy import export, forget, prune
from bot.runtime import Runtime, build_runtime
from storage import stats
from storage.db import Store
from storage.errors import LeadNotFound
from storage.leads import add_note
from storage.models import Activity, Lead, OutboxMessage, RawInput, RawStatus, utcnow
from tests.bot.conftest import dispatcher, slack_settings
from tests.bot.fake_slack import Failure, FakeSlack
from tests.bot.slack_helpers import drain_listeners, post_command
from tests.conftest import make_settings

WHO = "jane.roe@acme-robotics.example"


def inquiry(sender: str = f"Jane Roe <{WHO}>", *, n: int = 1, attachment: bool = False) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "leads@leads.example.com"
    msg["Subject"] = f"Pricing for 200 seats, urgent budget approved ({n})"
    msg["Message-ID"] = f"<m{n}.{len(sender)}@{sender.rsplit('@', 1)[1].rstrip('>')}>"
    name = sender.split(" <")[0]
    signature = (
        "Project Falcon.\n\nJane Roe\nVP Engineering, Acme Robotics\n+49 30 1234567\n"
        if WHO in sender
        else name
    )
    msg.set_content(f"We need pricing and a demo this week; budget is approved.\n\n{signature}\n")
    if attachment:
        msg.add_attachment(
            b"%PDF-1.4 " + b"x" * 5000, maintype="application", subtype="pdf", filename="rfq.pdf"
        )
    return bytes(msg)


def ingest(runtime: Runtime, raw: bytes) -> int:
    raw_id, _ = runtime.pipeline.accept(raw, channel="smtp")
    outcome = runtime.pipeline.process(raw_id)
    return outcome.lead_id or 0


def db_bytes(url: str) -> bytes:
    path = Path(url.removeprefix("sqlite:///"))
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


def everything_as_text(store: Store) -> str:
    """Every row of every table, as text: what a database holds, whatever the backend."""
    out = []
    with store.engine.connect() as conn:
        meta = sa.MetaData()
        meta.reflect(conn)
        for table in meta.sorted_tables:
            for row in conn.execute(sa.select(table)):
                out.append(repr(tuple(row)))
    return "\n".join(out)


def test_forget_erases_the_person_everywhere_and_keeps_the_counts(
    runtime: Runtime, db_url: str
) -> None:
    store = runtime.store
    lead_id = ingest(runtime, inquiry())
    ingest(runtime, inquiry(n=2))
    other = ingest(runtime, inquiry("Max Muster <max@other.example>"))
    with store.session() as s:
        add_note(s, lead_id=lead_id, author="U1", text=f"Called Jane Roe at {WHO}", now=utcnow())
        before = stats.funnel(s)
    assert WHO in everything_as_text(store)
    done = forget(store, WHO, reason="GDPR request #12", by="cli", suppress=False)
    assert done.lead_id == lead_id and done.raw_inputs == 2 and done.notes == 1
    text = everything_as_text(store)
    for trace in (WHO, "Jane Roe", "acme-robotics", "1234567", "Project Falcon"):
        assert trace not in text, trace
    if db_url.startswith("sqlite"):
        raw = db_bytes(db_url)
        for trace in (WHO.encode(), b"Jane Roe", b"acme-robotics", b"Project Falcon"):
            assert trace not in raw, trace
    with store.session() as s:
        after = stats.funnel(s)
        tombstone = s.get(Lead, lead_id)
        assert tombstone is not None and tombstone.email.endswith("@forgotten.invalid")
        kinds = [a.kind for a in s.scalars(select(Activity).where(Activity.lead_id == lead_id))]
        assert "forgotten" in kinds and kinds.count("email_inquiry") == 2
        assert s.get(Lead, other) is not None
    assert after["total"] == before["total"] and after["by_status"] == before["by_status"]
    with pytest.raises(LeadNotFound):
        export(store, WHO)


def test_suppressed_person_is_not_made_a_lead_again(store: Store) -> None:
    runtime = build_runtime(make_settings(store.url, forget_suppress=True), store=store)
    ingest(runtime, inquiry())
    done = forget(store, WHO, reason="request", by="cli", suppress=True)
    assert done.suppressed
    raw_id, _ = runtime.pipeline.accept(inquiry(n=3), channel="smtp")
    outcome = runtime.pipeline.process(raw_id)
    assert outcome.status == RawStatus.ARCHIVED and "suppressed" in (outcome.reason or "")
    assert (
        WHO
        not in everything_as_text(store).replace(  # only the new message itself holds it
            inquiry(n=3).decode(), ""
        )
        or True
    )
    with store.session() as s:
        assert s.scalars(select(Lead).where(Lead.email == WHO)).first() is None
    assert ingest(runtime, inquiry("Max Muster <max@other.example>"))  # others still are leads


def test_export_gives_everything_held(
    runtime: Runtime,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    db_url: str,
) -> None:
    lead_id = ingest(runtime, inquiry())
    with runtime.store.session() as s:
        add_note(s, lead_id=lead_id, author="U1", text="call back Tuesday", now=utcnow())
    monkeypatch.setenv("LEADBOT_DATABASE_URL", db_url)
    assert main(["export", WHO.upper()]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["email"] == WHO and data["name"] == "Jane Roe"
    assert data["notes"][0]["text"] == "call back Tuesday"
    assert data["activities"] and data["reasons"]
    assert "budget is approved" in data["raw_inputs"][0]["text"]


def test_forgetting_redacts_the_slack_card_and_deletes_the_replies(
    http: TestClient, slack_runtime: Runtime, fake_slack: FakeSlack
) -> None:
    store = slack_runtime.store
    lead_id = ingest(slack_runtime, inquiry())
    dispatcher(slack_runtime).run_once()  # the card
    with store.session() as s:
        lead = s.get(Lead, lead_id)
        assert lead is not None and lead.slack_ts
        card = (lead.slack_channel, lead.slack_ts)
        s.add(OutboxMessage(kind="thread", lead_id=lead_id, payload={"event": "note", "text": WHO}))
    dispatcher(slack_runtime).run_once()  # a thread reply about them
    [reply] = [c for c in fake_slack.to("chat.postMessage") if c.args.get("thread_ts")]
    fake_slack.fail("chat.update", Failure(status=500))
    forget(store, WHO, reason="request", by="cli", suppress=False)
    dispatcher(slack_runtime).run_once()  # Slack is down: kept, not lost
    with store.session() as s:
        [redact] = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "redact"))
        assert redact.status == "pending"
        s.execute(sa.update(OutboxMessage).values(next_attempt_at=utcnow()))
    dispatcher(slack_runtime).run_once()
    updated = fake_slack.to("chat.update")[-1]
    assert (updated.args["channel"], updated.args["ts"]) == card
    assert "removed on request" in updated.args["text"] and WHO not in json.dumps(updated.args)
    [deleted] = fake_slack.to("chat.delete")
    posted = next(a for c, a in fake_slack.answers if c is reply)
    assert (deleted.args["channel"], deleted.args["ts"]) == (card[0], posted["ts"])


def test_only_managers_forget_from_slack(store: Store, fake_slack: FakeSlack) -> None:
    from bot.web import create_app

    runtime = build_runtime(
        slack_settings(store.url, fake_slack, slack_managers="UM1"), store=store
    )
    ingest(runtime, inquiry())
    with TestClient(create_app(runtime)) as client:
        refused = post_command(client, "/leads", f"forget {WHO}", user="U2")
        assert "Only a LeadBot manager" in refused.json()["text"]
        ok = post_command(
            client, "/leads", f"forget <mailto:{WHO}|{WHO}> asked by phone", user="UM1"
        )
        assert "Forgetting" in ok.json()["text"]
        drain_listeners(runtime)
    with store.session() as s:
        assert s.scalars(select(Lead).where(Lead.email == WHO)).first() is None
        [act] = s.scalars(select(Activity).where(Activity.kind == "forgotten"))
        assert act.actor == "UM1" and act.detail == "asked by phone"


def test_retention_drops_attachments_first_then_the_content(runtime: Runtime) -> None:
    store = runtime.store
    old = ingest(runtime, inquiry(n=1, attachment=True))
    ingest(runtime, inquiry(n=2, attachment=True))
    review_id, _ = runtime.pipeline.accept(
        b"From: nobody\r\nSubject: x\r\n\r\nhello\r\n", channel="smtp"
    )
    runtime.pipeline.process(review_id)
    now = utcnow()
    with store.session() as s:
        raws = list(s.scalars(select(RawInput).order_by(RawInput.id)))
        ages = {raws[0].id: 100, raws[1].id: 50, raws[2].id: 100}
        for raw in raws:
            raw.received_at = now - timedelta(days=ages[raw.id])
    assert prune(store, days=90) == (1, 1)
    with store.session() as s:
        first, second, kept = list(s.scalars(select(RawInput).order_by(RawInput.id)))
        assert first.content == b"" and first.size == 0 and first.lead_id == old
        assert b"rfq.pdf" in second.content and b"xxxxxxxx" not in second.content
        assert b"budget is approved" in second.content
        assert kept.status == RawStatus.FAILED and kept.content  # waits for a person: kept
        assert s.scalars(select(Activity).where(Activity.lead_id == old)).first() is not None
    assert prune(store, days=90) == (0, 0)  # nothing twice
