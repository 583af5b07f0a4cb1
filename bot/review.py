"""Inputs that need a person (kept for review, or failed): what one is, and naming its sender.

The CLI (`leadbot review`) and Slack (the DM's button and modal) both resolve through `resolve`,
so a sender named either way is validated, recorded and read again the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import compat32
from typing import Any

from ingest.mail.addresses import normalise, parse_single
from ingest.mail.headers import first
from ingest.mail.text import clean_line
from ingest.pipeline import Outcome, Pipeline
from storage import raw as raw_store
from storage.db import Store
from storage.errors import AddressError, InputRejected, ParseError
from storage.models import RawInput

NAME_LIMIT = 200


@dataclass(frozen=True)
class Kept:
    """One input waiting for a person, as a list or a Slack message shows it."""

    id: int
    status: str
    kind: str
    channel: str
    received_at: Any
    sender: str | None  # the From header as written (the forwarding rep, for a forward)
    subject: str | None
    reason: str | None

    def row(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "kind": self.kind,
            "channel": self.channel,
            "received_at": self.received_at,
            "from": self.sender,
            "subject": self.subject,
            "reason": self.reason,
        }

    def sender_email(self, ours: frozenset[str]) -> str | None:
        """The From address when it is a valid one (a rep's own domain may be special-use)."""
        if not self.sender:
            return None
        try:
            return parse_single(self.sender, header="from", ours=ours).email
        except (AddressError, ParseError):
            return None


def describe(raw: RawInput, head: bytes) -> Kept:
    """`head`: the first bytes of the content, enough for the header fields."""
    email = raw.kind == "email"
    headers = BytesHeaderParser(policy=compat32).parsebytes(head, headersonly=True)
    return Kept(
        id=raw.id or 0,
        status=str(raw.status),
        kind=raw.kind,
        channel=raw.channel,
        received_at=raw.received_at,
        sender=first(headers, "from") if email else None,
        subject=first(headers, "subject") if email else None,
        reason=clean_line(raw.reason, limit=500),
    )


def resolve(
    store: Store, pipeline: Pipeline, raw_id: int, *, email: str, name: str | None, by: str
) -> Outcome:
    """Name the sender of a kept input; it is read again and that person becomes its lead.

    Raises InputRejected for an address that is not one, an input that no longer waits (resolved
    or dismissed meanwhile), or when reading it again still makes no lead.
    """
    try:
        address = normalise(email)
    except AddressError as e:
        raise InputRejected(str(e)) from None
    with store.session() as session:
        raw_store.resolve_review(
            session, raw_id, email=address, name=clean_line(name, limit=NAME_LIMIT), by=by
        )
    outcome = pipeline.process(raw_id)
    if outcome.lead_id is None:
        raise InputRejected(f"input {raw_id} is {outcome.status.value}: {outcome.reason}")
    return outcome
