"""Card buttons: Claim, Add note, Back to nurturing, Won, Lost. Ack first, then act."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.slack import blocks
from bot.slack.context import SlackContext
from bot.slack.escape import user_mention
from bot.slack.surfaces import lost_modal, metadata, note_modal, nurture_modal
from storage import lifecycle
from storage import slack as slack_store
from storage.errors import LeadBotError, LeadNotFound, TransitionRefused
from storage.leads import get_lead
from storage.models import Lead, LeadStatus

log = logging.getLogger("leadbot.slack.actions")
NOT_ALLOWED = "Sorry, you are not allowed to act on leads. Ask your LeadBot admin to add you."
MAX_LEAD_ID = 2**63 - 1  # a forged button value beyond BIGINT must not reach the database


def register(app: App, ctx: SlackContext) -> None:
    @app.action(blocks.CLAIM)
    def on_claim(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        claim(ctx, body)

    @app.action(blocks.WON)
    def on_won(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        won(ctx, body)

    @app.action(blocks.NOTE)
    def on_note(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        open_modal(ctx, body, kind=blocks.NOTE)

    @app.action(blocks.NURTURE)
    def on_nurture(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        open_modal(ctx, body, kind=blocks.NURTURE)

    @app.action(blocks.LOST)
    def on_lost(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        open_modal(ctx, body, kind=blocks.LOST)


def who_where(body: dict[str, Any]) -> tuple[str, str | None, int | None]:
    """The clicking user, the channel of the card (None on the App Home) and the lead id."""
    user = str(body.get("user", {}).get("id", ""))
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
        "channel_id"
    )
    try:
        lead_id = lead_id_of(body["actions"][0]["value"])
    except (KeyError, IndexError, TypeError):
        lead_id = None
    return user, channel, lead_id


def lead_id_of(value: Any) -> int | None:
    """A lead id from a button value or modal metadata; None for anything forged or out of range."""
    text = str(value).strip() if isinstance(value, str | int) else ""
    if not text.isascii() or not text.isdigit() or len(text) > 19:
        return None
    lead_id = int(text)
    return lead_id if 0 < lead_id <= MAX_LEAD_ID else None


def refusal_text(e: TransitionRefused, *, action: str, user: str | None = None) -> str:
    if e.status == LeadStatus.CLAIMED and e.owner and e.owner == user and action == "claim":
        return "You have already claimed this lead."
    if e.status == LeadStatus.CLAIMED and e.owner:
        verb = "has already claimed" if action == "claim" else "owns"
        extra = "" if action == "claim" else ": only the owner or a manager can do that"
        return f"{user_mention(e.owner)} {verb} this lead{extra}."
    if e.status:
        return f"This lead is {e.status} now, so it cannot be {_done(action)}."
    return str(e)


def _done(action: str) -> str:
    return {
        "claim": "claimed",
        "won": "marked won",
        "lost": "marked lost",
        "nurture": "sent back",
    }.get(action, "changed")


def acting(
    ctx: SlackContext, user: str, channel: str | None, lead_id: int | None
) -> tuple[str, str | None, int] | None:
    """Who acts, where, on which lead; None (the user told privately) when they may not act."""
    if lead_id is None:
        return None
    if not ctx.access.may_act(user, channel=channel):
        ctx.tell(user, channel, NOT_ALLOWED)
        return None
    return user, channel, lead_id


def claim(ctx: SlackContext, body: dict[str, Any]) -> None:
    actor = acting(ctx, *who_where(body))
    if actor is None:
        return
    user, channel, lead_id = actor
    now = ctx.clock()
    try:
        with ctx.store.session() as session:
            lead = lifecycle.claim(session, lead_id=lead_id, user=user, now=now)
            slack_store.enqueue_lead_changed(session, lead, now=now)
    except TransitionRefused as e:
        ctx.tell(user, channel, refusal_text(e, action="claim", user=user))
        refresh_card(ctx, lead_id)
    except LeadBotError as e:
        ctx.tell(user, channel, f"Could not claim: {e}")


def won(ctx: SlackContext, body: dict[str, Any]) -> None:
    actor = acting(ctx, *who_where(body))
    if actor is None:
        return
    user, channel, lead_id = actor
    now = ctx.clock()
    try:
        with ctx.store.session() as session:
            lead = lifecycle.win(
                session, lead_id=lead_id, actor=user, manager=ctx.access.is_manager(user), now=now
            )
            slack_store.enqueue_lead_changed(
                session, lead, thread={"event": "won", "actor": user}, now=now
            )
    except TransitionRefused as e:
        ctx.tell(user, channel, refusal_text(e, action="won", user=user))
        refresh_card(ctx, lead_id)
    except LeadBotError as e:
        ctx.tell(user, channel, f"Could not mark it won: {e}")


def refresh_card(ctx: SlackContext, lead_id: int) -> None:
    """A refused click means the clicker saw a stale card: re-render it from the lead as it is."""
    try:
        with ctx.store.session() as session:
            slack_store.enqueue_refresh(
                session, kind="update_card", key=str(lead_id), lead_id=lead_id, now=ctx.clock()
            )
    except LeadBotError as e:
        log.warning("card of lead %s not refreshed: %s", lead_id, e)


def may_change(ctx: SlackContext, lead: Lead, user: str) -> bool:
    """Owner-or-manager, checked before a modal opens; the lifecycle checks it again atomically."""
    return lead.status != LeadStatus.CLAIMED or lead.owner == user or ctx.access.is_manager(user)


def open_modal(ctx: SlackContext, body: dict[str, Any], *, kind: str) -> None:
    actor = acting(ctx, *who_where(body))
    if actor is None:
        return
    user, channel, lead_id = actor
    try:
        with ctx.store.session() as session:
            lead = get_lead(session, lead_id=lead_id)
    except (LeadNotFound, LeadBotError) as e:
        ctx.tell(user, channel, f"Could not open the lead: {e}")
        return
    if kind != blocks.NOTE and not may_change(ctx, lead, user):
        ctx.tell(
            user,
            channel,
            f"{user_mention(lead.owner)} owns this lead: only the owner or a manager can do that.",
        )
        return
    meta = metadata(lead_id=lead_id, channel=channel, user=user)
    view = {blocks.NOTE: note_modal, blocks.NURTURE: nurture_modal, blocks.LOST: lost_modal}[kind](
        lead, meta
    )
    try:
        # trigger_id lives 3 seconds: this call comes right after the ack, before anything slow.
        ctx.client.views_open(trigger_id=body.get("trigger_id"), view=view)
    except (SlackApiError, SlackClientError, OSError) as e:
        log.warning("views.open failed for %s: %s", user, e)
        ctx.tell(user, channel, "Slack did not open the form in time, please click again.")
