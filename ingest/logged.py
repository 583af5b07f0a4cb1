"""What a rep logs on a lead (a call, a meeting, a demo, with a note): an activity through the
intake, by the rep, scored like the rest.

The note is the activity's text, so rules that read inquiries read it too (`call`, `meeting` and
`demo` are in the default rules' `inquiry` group: "they want pricing for 40 seats" counts). It is
not a way in: the lead's sources and touches stay as they are.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from ingest.intake import Item, ItemResult, record_batch
from scoring.types import Scorer
from storage.leads import get_lead
from storage.slack_jobs import LOGGED_SOURCE

REP_KINDS = {"call": "Call", "meeting": "Meeting", "demo": "Demo"}  # kind -> label
NOTE_MAX = 3000


def record_logged(
    session: Session,
    *,
    lead_id: int,
    kind: str,
    note: str,
    actor: str,
    key: str,
    scorer: Scorer,
    now: datetime,
) -> ItemResult:
    """Record the rep's activity (`key` makes a resubmission one activity). Raises LeadNotFound,
    or ValueError for a kind reps do not log."""
    if kind not in REP_KINDS:
        raise ValueError(f"not an activity a rep logs: {kind!r}")
    lead = get_lead(session, lead_id=lead_id)
    note = note.strip()[:NOTE_MAX]
    item = Item(
        email=lead.email,
        kind=kind,
        source=LOGGED_SOURCE,
        occurred_at=now,
        dedup_key=f"logged:{key}"[:300],
        profile={},
        detail=(note or f"{REP_KINDS[kind]} logged")[:500],
        data={"subject": None, "text": note, "fields": {}},
        forwarded_by=None,
        fields={},
        raw_id=None,
        actor=actor[:320],
        touch=False,
    )
    [result] = record_batch(session, [item], scorer=scorer, now=now)
    return result
