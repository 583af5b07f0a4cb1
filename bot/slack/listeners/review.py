"""Naming the sender of a kept input from Slack: the DM's (or App Home's) button opens a modal;
submitting it makes the lead. Ack first, then act, like every listener."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.review import describe, resolve
from bot.slack.attention import (
    EMAIL_BLOCK,
    NAME_SENDER,
    REVIEW_MODAL,
    metadata,
    resolved_message,
    review_modal,
    submitted,
)
from bot.slack.context import SlackContext
from bot.slack.listeners.actions import acting, lead_id_of, who_where
from bot.slack.surfaces import read_metadata
from ingest.mail.addresses import normalise
from storage import raw as raw_store
from storage.errors import AddressError, InputRejected, LeadBotError

log = logging.getLogger("leadbot.slack.review")
GONE = "That message no longer waits for a sender: somebody named one or dismissed it."


def register(app: App, ctx: SlackContext) -> None:
    @app.action(NAME_SENDER)
    def on_name_sender(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        open_review(ctx, body)

    @app.view(REVIEW_MODAL)
    def on_submit(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        email, name = submitted(view)
        try:
            normalise(email)
        except AddressError as e:
            ack(
                response_action="errors",
                errors={EMAIL_BLOCK: f"Not an address a lead can have: {e}"[:150]},
            )
            return
        ack()
        name_sender(ctx, body, view, email=email, name=name)


def open_review(ctx: SlackContext, body: dict[str, Any]) -> None:
    actor = acting(ctx, *who_where(body))
    if actor is None:
        return
    user, channel, raw_id = actor
    container = body.get("container") or {}
    ts = container.get("message_ts") if container.get("type") == "message" else None
    try:
        with ctx.store.session() as session:
            found = raw_store.kept_head(session, raw_id)
    except LeadBotError as e:
        ctx.tell(user, channel, f"That did not work: {e}")
        return
    if found is None:
        ctx.tell(user, channel, GONE)
        return
    view = review_modal(describe(*found), metadata(raw_id=raw_id, channel=channel, ts=ts))
    try:
        ctx.client.views_open(trigger_id=body.get("trigger_id"), view=view)
    except (SlackApiError, SlackClientError, OSError) as e:
        log.warning("could not open the review modal for %s: %s", user, e)


def name_sender(
    ctx: SlackContext, body: dict[str, Any], view: dict[str, Any], *, email: str, name: str
) -> None:
    """Resolve the kept input as the CLI does; the DM then says which lead it became."""
    meta = read_metadata(view.get("private_metadata"))
    user = str(body.get("user", {}).get("id", ""))
    channel = meta.get("channel") if isinstance(meta.get("channel"), str) else None
    ts = meta.get("ts") if isinstance(meta.get("ts"), str) else None
    actor = acting(ctx, user, channel, lead_id_of(meta.get("raw_id")))
    if actor is None:
        return
    raw_id = actor[2]
    try:
        with ctx.store.session() as session:
            found = raw_store.kept_head(session, raw_id)
        if found is None:
            raise InputRejected(GONE)
        subject = describe(*found).subject
        outcome = resolve(
            ctx.store, ctx.runtime.pipeline, raw_id, email=email, name=name or None, by=user
        )
    except LeadBotError as e:
        ctx.tell(user, channel, f"The lead was not made: {e}")
        return
    done = resolved_message(raw_id, subject=subject, email=email, lead_id=outcome.lead_id or 0)
    try:
        if channel and ts:
            ctx.client.chat_update(channel=channel, ts=ts, **done)
        else:
            ctx.client.chat_postMessage(channel=user, **done)
    except (SlackApiError, SlackClientError, OSError) as e:
        log.warning("could not confirm input %s to %s: %s", raw_id, user, e)
