"""The card's Log activity button and its modal: a rep records a call, a meeting or a demo."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.slack import blocks
from bot.slack.activity_log import KIND_BLOCK, LOG_MODAL, log_modal, submitted
from bot.slack.context import SlackContext
from bot.slack.listeners.actions import acting, lead_id_of, who_where
from bot.slack.surfaces import metadata, read_metadata
from ingest.logged import REP_KINDS, record_logged
from storage import slack as slack_store
from storage.errors import LeadBotError
from storage.leads import get_lead

log = logging.getLogger("leadbot.slack.log_activity")


def register(app: App, ctx: SlackContext) -> None:
    @app.action(blocks.LOG_ACTIVITY)
    def on_log(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        open_log_modal(ctx, body)

    @app.view(LOG_MODAL)
    def on_logged(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        kind, note = submitted(view)
        if kind is None:
            ack(response_action="errors", errors={KIND_BLOCK: "Pick a call, a meeting or a demo."})
            return
        ack()
        save(ctx, body, view, kind=kind, note=note)


def open_log_modal(ctx: SlackContext, body: dict[str, Any]) -> None:
    actor = acting(ctx, *who_where(body))
    if actor is None:
        return
    user, channel, lead_id = actor
    try:
        with ctx.store.session() as session:
            lead = get_lead(session, lead_id=lead_id)
    except LeadBotError as e:
        ctx.tell(user, channel, f"Could not open the lead: {e}")
        return
    view = log_modal(lead, metadata(lead_id=lead_id, channel=channel, user=user))
    try:
        # trigger_id lives 3 seconds: this call comes right after the ack, before anything slow.
        ctx.client.views_open(trigger_id=body.get("trigger_id"), view=view)
    except (SlackApiError, SlackClientError, OSError) as e:
        log.warning("views.open failed for %s: %s", user, e)
        ctx.tell(user, channel, "Slack did not open the form in time, please click again.")


def save(
    ctx: SlackContext, body: dict[str, Any], view: dict[str, Any], *, kind: str, note: str
) -> None:
    meta = read_metadata(view.get("private_metadata"))
    user = str(body.get("user", {}).get("id", ""))
    channel = meta.get("channel") if isinstance(meta.get("channel"), str) else None
    actor = acting(ctx, user, channel, lead_id_of(meta.get("lead_id")))
    if actor is None:
        return
    user, channel, lead_id = actor
    now = ctx.clock()
    # One modal is one activity: the view's id, however often its submission arrives.
    key = str(view.get("id") or body.get("trigger_id") or f"{user}:{now.isoformat()}")
    try:
        with ctx.store.session() as session:
            result = record_logged(
                session,
                lead_id=lead_id,
                kind=kind,
                note=note,
                actor=user,
                key=key,
                scorer=ctx.runtime.scorer,
                now=now,
            )
            if result.duplicate:
                return
            lead = get_lead(session, lead_id=lead_id)
            session.refresh(lead)  # the intake wrote its new score with Core statements
            thread = {"event": "logged", "actor": user, "label": REP_KINDS[kind], "text": note}
            slack_store.enqueue_lead_changed(
                session, lead, thread=thread, thread_key=f"logged:{key}"[:200], now=now
            )
    except LeadBotError as e:
        ctx.tell(user, channel, f"The {REP_KINDS[kind].lower()} was not logged: {e}")
