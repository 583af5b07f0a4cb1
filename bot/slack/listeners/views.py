"""Modal submissions: a note, a reason to go back to nurturing. Won, Lost, Disqualify, Reassign
and Edit are in listeners/manage.py."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from slack_bolt import Ack, App
from sqlmodel import Session

from bot.slack.context import SlackContext
from bot.slack.listeners.actions import acting, lead_id_of, refresh_card, refusal_text
from bot.slack.surfaces import (
    INPUT_BLOCK,
    NOTE_MODAL,
    NURTURE_MODAL,
    read_metadata,
    submitted_text,
)
from storage import lifecycle
from storage import slack as slack_store
from storage.errors import LeadBotError, TransitionRefused
from storage.leads import add_note
from storage.models import Lead
from storage.outbox import enqueue

log = logging.getLogger("leadbot.slack.views")


def register(app: App, ctx: SlackContext) -> None:
    @app.view(NOTE_MODAL)
    def on_note(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        text = submitted_text(view)
        if not text:
            ack(response_action="errors", errors={INPUT_BLOCK: "Write a note first."})
            return
        ack()
        save_note(ctx, body, view, text)

    def reason_view(action: str) -> Any:
        def on_reason(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
            reason = submitted_text(view)
            if not reason:
                ack(response_action="errors", errors={INPUT_BLOCK: "A reason is required."})
                return
            ack()
            decide(ctx, body, view, action=action, reason=reason)

        return on_reason

    app.view(NURTURE_MODAL)(reason_view("nurture"))


def modal_context(body: dict[str, Any], view: dict[str, Any]) -> tuple[str, str | None, int | None]:
    meta = read_metadata(view.get("private_metadata"))
    user = str(body.get("user", {}).get("id", ""))
    lead_id = lead_id_of(meta.get("lead_id"))
    channel = meta.get("channel") if isinstance(meta.get("channel"), str) else None
    return user, channel, lead_id


def save_note(ctx: SlackContext, body: dict[str, Any], view: dict[str, Any], text: str) -> None:
    actor = acting(ctx, *modal_context(body, view))
    if actor is None:
        return
    user, channel, lead_id = actor
    now = ctx.clock()
    try:
        with ctx.store.session() as session:
            note = add_note(session, lead_id=lead_id, author=user, text=text, now=now)
            enqueue(
                session,
                kind="thread",
                lead_id=lead_id,
                payload={"event": "note", "actor": user, "text": text},
                dedup_key=f"note:{note.id}",
                now=now,
            )
    except LeadBotError as e:
        ctx.tell(user, channel, f"Your note was not saved: {e}")


# A change to one lead: (session, actor, lead id, whether they are a manager, now) -> the lead as
# changed and the thread message telling of it.
Change = Callable[[Session, str, int, bool, datetime], tuple[Lead, dict[str, Any]]]


def apply_change(
    ctx: SlackContext, body: dict[str, Any], view: dict[str, Any], *, action: str, change: Change
) -> None:
    """One change from a modal: the card updated, the thread told, App Homes refreshed, in the
    change's transaction; a refusal (someone else moved the lead) told privately."""
    actor = acting(ctx, *modal_context(body, view))
    if actor is None:
        return
    user, channel, lead_id = actor
    now = ctx.clock()
    manager = ctx.access.is_manager(user)
    try:
        with ctx.store.session() as session:
            lead, thread = change(session, user, lead_id, manager, now)
            slack_store.enqueue_lead_changed(session, lead, thread=thread, now=now)
    except TransitionRefused as e:
        ctx.tell(user, channel, refusal_text(e, action=action, user=user))
        refresh_card(ctx, lead_id)
    except LeadBotError as e:
        ctx.tell(user, channel, f"That did not work: {e}")


def decide(
    ctx: SlackContext, body: dict[str, Any], view: dict[str, Any], *, action: str, reason: str
) -> None:
    """Back to nurturing; the lifecycle settles owner-or-manager atomically."""

    def nurture(
        session: Session, user: str, lead_id: int, manager: bool, now: datetime
    ) -> tuple[Lead, dict[str, Any]]:
        lead = lifecycle.nurture(
            session, lead_id=lead_id, actor=user, reason=reason, manager=manager, now=now
        )
        return lead, {"event": "nurtured", "actor": user, "text": reason}

    apply_change(ctx, body, view, action=action, change=nurture)
