"""A lead with a hostile name and history, a claimed and a won lead, and an input kept for review:
what the page tests render, recorded through the real pipeline and lifecycle."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import update

from bot.runtime import Runtime
from storage import lifecycle
from storage.leads import add_note, get_lead
from storage.models import Activity, Lead, RawStatus, utcnow
from storage.raw import RawDraft, mark_raw, store_raws

HOSTILE = "<script>alert(1)</script>\"onload=alert(2) x='<img src=x onerror=alert(3)>"


@dataclass(frozen=True)
class Seeded:
    hostile_id: int
    won_id: int
    review_id: int


def mail(sender: str, subject: str, body: str, msgid: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "leads@leads.example.com"
    msg["Subject"] = subject
    msg["Message-ID"] = msgid
    msg.set_content(body)
    return bytes(msg)


def ingest(rt: Runtime, content: bytes) -> int:
    raw_id, _ = rt.pipeline.accept(content, channel="smtp")
    outcome = rt.pipeline.process(raw_id)
    assert outcome.lead_id is not None, outcome
    return outcome.lead_id


def seed(rt: Runtime, *, now: datetime | None = None) -> Seeded:
    now = now or utcnow()
    hostile = ingest(
        rt,
        mail(
            "Mallory <mallory@evil-corp.example>",
            f"Pricing {HOSTILE}",
            f"Please send a quote for 20 licences and pricing. {HOSTILE}\n\nMallory\nCTO\n",
            "<m1@evil-corp.example>",
        ),
    )
    won = ingest(
        rt,
        mail(
            "Jane Doe <jane@acme-robotics.example>",
            "Quote for 20 licences",
            "Please send a quote for 20 licences and pricing, budget approved.\n\nJane Doe\nCTO\n",
            "<j1@acme-robotics.example>",
        ),
    )
    with rt.store.session() as s:
        s.execute(
            update(Lead)
            .where(Lead.id == hostile)  # type: ignore[arg-type]
            .values(name=HOSTILE, company=f"Evil {HOSTILE}", title="CTO")
        )
        # An old page visit: its points have faded (the decay the explanation shows).
        s.add(
            Activity(
                lead_id=hostile,
                kind="page_visit",
                occurred_at=now - timedelta(days=45),
                actor="visitor",
                detail=f"/pricing {HOSTILE}",
                source="track:www",
                data={"url": "https://www.example.com/pricing"},
            )
        )
        add_note(s, lead_id=hostile, author="U0REP", text=f"Called, said {HOSTILE}", now=now)
    with rt.store.session() as s:
        for lead_id in (hostile, won):
            if get_lead(s, lead_id=lead_id).status == "nurturing":
                lifecycle.announce(s, lead_id=lead_id, now=now - timedelta(minutes=50))
        lifecycle.claim(s, lead_id=won, user="U0REP", now=now - timedelta(minutes=40))
        lifecycle.win(s, lead_id=won, actor="U0REP", value=12000.0, now=now - timedelta(minutes=5))
    ((review_id, _),) = store_raws(
        rt.store,
        [
            RawDraft(
                content=mail(
                    "Rep <rep@ourco.example>",
                    f"Fwd: {HOSTILE}",
                    "forwarded\n",
                    "<r1@ourco.example>",
                ),
                kind="email",
                channel="smtp",
            )
        ],
    )
    with rt.store.session() as s:
        mark_raw(s, review_id, status=RawStatus.REVIEW, reason=f"no original sender {HOSTILE}")
    return Seeded(hostile_id=hostile, won_id=won, review_id=review_id)
