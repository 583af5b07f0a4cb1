"""The rest of a lead's life from Slack: the card's "⋯" menu (Back to nurturing, Reassign,
Disqualify, Edit details, Full text), Reopen, and the Won, Lost, Disqualify, Reassign and Edit
modals. Ack first (with the modal's errors, when what was typed cannot be used), then act."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import phonenumbers
from slack_bolt import Ack, App
from sqlmodel import Session

from bot.slack import blocks
from bot.slack.context import SlackContext
from bot.slack.escape import user_mention
from bot.slack.listeners.actions import (
    acting,
    lead_id_of,
    may_change,
    open_modal,
    refresh_card,
    refusal_text,
    who_where,
)
from bot.slack.listeners.views import apply_change, modal_context
from bot.slack.surfaces import (
    DISQUALIFY_MODAL,
    EDIT_MODAL,
    FIELD_LIMITS,
    INPUT_BLOCK,
    LOST_MODAL,
    REASON_BLOCK,
    REASSIGN_MODAL,
    USER_BLOCK,
    VALUE_ACTION,
    VALUE_BLOCK,
    WON_MODAL,
    editable,
    submitted_choice,
    submitted_fields,
    submitted_text,
    submitted_user,
)
from ingest.facts import score_again
from ingest.forms.reader import check_phone
from storage import lifecycle
from storage import slack as slack_store
from storage.errors import LeadBotError, LeadNotFound, TransitionRefused
from storage.leads import edit_lead, get_lead
from storage.models import Lead, LeadStatus
from storage.outbox import enqueue

log = logging.getLogger("leadbot.slack.manage")
OTHER = "other"  # the configured reason that needs a few words
_MENU_MODALS = {
    blocks.MENU_NURTURE: blocks.NURTURE,
    blocks.REASSIGN: blocks.REASSIGN,
    blocks.DISQUALIFY: blocks.DISQUALIFY,
    blocks.EDIT: blocks.EDIT,
    blocks.DETAILS: blocks.DETAILS,
}
Errors = dict[str, str]


def register(app: App, ctx: SlackContext) -> None:
    @app.action(blocks.MORE)
    def on_menu(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        what, lead_id = menu_choice(body)
        if what in _MENU_MODALS and lead_id is not None:
            open_modal(ctx, body, kind=_MENU_MODALS[what], lead_id=lead_id)

    @app.action(blocks.REOPEN)
    def on_reopen(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        reopen(ctx, body)

    @app.view(WON_MODAL)
    def on_won(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        value, problem = deal_value(submitted_text(view, VALUE_BLOCK, VALUE_ACTION))
        if problem:
            ack(response_action="errors", errors={VALUE_BLOCK: problem})
            return
        ack()
        note = submitted_text(view)

        def win(
            session: Session, user: str, lead_id: int, manager: bool, now: datetime
        ) -> tuple[Lead, dict[str, Any]]:
            lead = lifecycle.win(
                session, lead_id=lead_id, actor=user, reason=note or None, value=value,
                manager=manager, now=now,
            )  # fmt: skip
            return lead, {"event": "won", "actor": user, "value": value, "text": note}

        apply_change(ctx, body, view, action="won", change=win)

    @app.view(LOST_MODAL)
    def on_lost(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        closing(ctx, ack, body, view, action="lost", reasons=ctx.runtime.settings.lost_reasons)

    @app.view(DISQUALIFY_MODAL)
    def on_disqualify(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        reasons = ctx.runtime.settings.disqualify_reasons
        closing(ctx, ack, body, view, action="disqualify", reasons=reasons)

    @app.view(REASSIGN_MODAL)
    def on_reassign(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        reassign(ctx, ack, body, view)

    @app.view(EDIT_MODAL)
    def on_edit(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        edit(ctx, ack, body, view)


def menu_choice(body: dict[str, Any]) -> tuple[str, int | None]:
    """What was picked in a card's menu and for which lead: "<what>:<lead id>"."""
    try:
        value = body["actions"][0]["selected_option"]["value"]
    except (KeyError, IndexError, TypeError):
        return "", None
    what, _, lead = str(value).partition(":")
    return what, lead_id_of(lead)


def deal_value(text: str) -> tuple[float | None, str | None]:
    """A deal value as typed ("12500", "12,500.50"), or the reason it is not one."""
    cleaned = text.replace(",", "").replace("_", "").replace(" ", "").strip()
    if not cleaned:
        return None, None
    try:
        value = float(cleaned)
    except ValueError:
        return None, "Type a number, e.g. 12500."
    if not math.isfinite(value) or not 0 <= value < lifecycle.MAX_DEAL_VALUE:
        return None, "Type an amount of 0 or more."
    return round(value, 2), None


def closing(
    ctx: SlackContext,
    ack: Ack,
    body: dict[str, Any],
    view: dict[str, Any],
    *,
    action: str,
    reasons: Sequence[str],
) -> None:
    """Lost or disqualified: one of the configured reasons (counted), and words where needed."""
    code, words = submitted_choice(view), submitted_text(view)
    known = {r.casefold(): r for r in reasons}
    if code.casefold() not in known:
        ack(response_action="errors", errors={REASON_BLOCK: "Pick one of the reasons."})
        return
    code = known[code.casefold()]
    if code.casefold() == OTHER and not words:
        ack(response_action="errors", errors={INPUT_BLOCK: "Say why in a few words."})
        return
    ack()
    change = lifecycle.lose if action == "lost" else lifecycle.disqualify
    event = "lost" if action == "lost" else "disqualified"

    def close(
        session: Session, user: str, lead_id: int, manager: bool, now: datetime
    ) -> tuple[Lead, dict[str, Any]]:
        lead = change(
            session, lead_id=lead_id, actor=user, reason=words or code, code=code,
            manager=manager, now=now,
        )  # fmt: skip
        return lead, {"event": event, "actor": user, "code": code, "text": words}

    apply_change(ctx, body, view, action=action, change=close)


def reassign(ctx: SlackContext, ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
    """To another rep, who is told by DM; refused in the modal when they may not act on leads."""
    user, channel, lead_id = modal_context(body, view)
    to = submitted_user(view)
    problem = None
    if not to:
        problem = "Pick the rep who takes it."
    elif lead_id is not None:
        try:
            with ctx.store.session() as session:
                owner = get_lead(session, lead_id=lead_id).owner
        except LeadBotError:
            owner = None
        if owner == to:
            problem = f"It is {'yours' if to == user else 'theirs'} already."
        elif not ctx.access.may_act(to, channel=channel):
            problem = "They are not allowed to act on leads."
    if problem:
        ack(response_action="errors", errors={USER_BLOCK: problem})
        return
    ack()
    note = submitted_text(view)

    def give(
        session: Session, actor: str, lead_id: int, manager: bool, now: datetime
    ) -> tuple[Lead, dict[str, Any]]:
        before = get_lead(session, lead_id=lead_id).owner
        lead = lifecycle.reassign(
            session, lead_id=lead_id, actor=actor, to=to, reason=note or None, manager=manager,
            now=now,
        )  # fmt: skip
        if to != actor:
            enqueue(
                session, kind="dm", lead_id=lead_id,
                payload={"user": to, "event": "assigned", "actor": actor, "text": note},
                dedup_key=f"dm:assigned:{lead_id}:{to}:{now.isoformat()}", now=now,
            )  # fmt: skip
        return lead, {"event": "reassigned", "actor": actor, "to": to, "from": before, "text": note}

    apply_change(ctx, body, view, action="reassign", change=give)


def edit_problems(fields: dict[str, str], *, country: str | None) -> tuple[dict[str, str], Errors]:
    """The Edit modal's fields cleaned (phone to E.164, country to its code), or what is wrong."""
    clean: dict[str, str] = {}
    errors: Errors = {}
    for name, value in fields.items():
        text = " ".join(value.split())
        if len(text) > FIELD_LIMITS[name]:
            errors[f"field_{name}"] = f"At most {FIELD_LIMITS[name]} characters."
            continue
        clean[name] = text
    code = clean.get("country", country or "")
    if clean.get("country"):
        code = clean["country"].upper()
        if code not in phonenumbers.SUPPORTED_REGIONS:
            errors["field_country"] = "A two-letter country code, e.g. DE, US, GB."
        clean["country"] = code
    if clean.get("phone"):
        e164, _ = check_phone(clean["phone"], country=code or None)
        if e164 is None:
            errors["field_phone"] = "Not a phone number I can read; add the country code (+49…)."
        else:
            clean["phone"] = e164
    return clean, errors


def edit(ctx: SlackContext, ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
    """Corrections to the profile: kept as typed, recorded, never refilled by later mail; the
    lead is scored again at once (a title or a country is worth points)."""
    user, channel, lead_id = modal_context(body, view)
    try:
        with ctx.store.session() as session:
            country = get_lead(session, lead_id=lead_id).country if lead_id else None
    except LeadBotError:
        country = None
    fields, errors = edit_problems(submitted_fields(view), country=country)
    if errors:
        ack(response_action="errors", errors=errors)
        return
    ack()
    actor = acting(ctx, user, channel, lead_id)
    if actor is None:
        return
    user, channel, lead_id = actor
    now = ctx.clock()
    try:
        with ctx.store.session() as session:
            lead = get_lead(session, lead_id=lead_id)
            if not may_change(ctx, lead, user):
                owner = user_mention(lead.owner)
                ctx.tell(
                    user,
                    channel,
                    f"{owner} owns this lead: only the owner or a manager can do that.",
                )
                return
            # A field that comes back as the modal showed it is unchanged (the modal drops
            # invisible characters and runs of spaces).
            changes: dict[str, str | None] = {
                k: v for k, v in fields.items() if v != editable(getattr(lead, k))
            }
            lead, changed = edit_lead(
                session,
                lead_id=lead_id,
                actor=user,
                changes=changes,
                why="edited in Slack",
                now=now,
            )
            if not changed:
                return
            score_again(session, lead, ctx.runtime.scorer, now=now)
            thread = {"event": "edited", "actor": user, "changes": changed}
            slack_store.enqueue_lead_changed(session, lead, thread=thread, now=now)
    except LeadBotError as e:
        ctx.tell(user, channel, f"Your changes were not saved: {e}")


def reopen(ctx: SlackContext, body: dict[str, Any]) -> None:
    """Back to its owner (won, lost) or open again (disqualified, nurturing)."""
    actor = acting(ctx, *who_where(body))
    if actor is None:
        return
    user, channel, lead_id = actor
    now = ctx.clock()
    try:
        with ctx.store.session() as session:
            lead = lifecycle.reopen(
                session, lead_id=lead_id, actor=user, manager=ctx.access.is_manager(user), now=now
            )
            thread = {"event": "reopened", "actor": user, "to": lead.status, "owner": lead.owner}
            slack_store.enqueue_lead_changed(session, lead, thread=thread, now=now)
    except TransitionRefused as e:
        ctx.tell(user, channel, reopen_refusal(e, user=user))
        refresh_card(ctx, lead_id)
    except (LeadNotFound, LeadBotError) as e:
        ctx.tell(user, channel, f"Could not reopen it: {e}")


def reopen_refusal(e: TransitionRefused, *, user: str) -> str:
    if e.status in lifecycle.REOPENABLE and e.owner and e.owner != user:
        return f"{user_mention(e.owner)} had this lead: only they or a manager can reopen it."
    if e.status in (LeadStatus.ANNOUNCED, LeadStatus.CLAIMED):
        return f"This lead is {e.status} already: nothing to reopen."
    return refusal_text(e, action="reopen", user=user)
