""" "Open lead page" on a card: a signed link made for whoever clicked, shown in a modal.

The card is shared by a whole channel, so it cannot carry a link of its own: each click makes
one for the clicking user (who must be allowed to act), valid LEADBOT_PAGES_LINK_HOURS, and a
manager also gets one to the dashboard. The modal's buttons are plain links.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt import Ack, App
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.pages.links import page_link, slack_url
from bot.slack import blocks
from bot.slack.context import SlackContext
from bot.slack.listeners.actions import acting, who_where
from storage.errors import LeadBotError
from storage.leads import get_lead

log = logging.getLogger("leadbot.slack.pages")
OPEN = "lead_page_open"  # the modal's link buttons (Slack still sends their clicks: acked)


def register(app: App, ctx: SlackContext) -> None:
    @app.action(blocks.PAGE)
    def on_page(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        open_link(ctx, body)

    @app.action(re.compile(f"^{OPEN}_"))
    def on_open(ack: Ack) -> None:
        ack()


def open_link(ctx: SlackContext, body: dict[str, Any]) -> None:
    actor = acting(ctx, *who_where(body))
    if actor is None:
        return
    user, channel, lead_id = actor
    if not ctx.runtime.settings.public_url:
        ctx.tell(user, channel, "Lead pages need LEADBOT_PUBLIC_URL: ask your LeadBot admin.")
        return
    try:
        with ctx.store.session() as session:
            lead = get_lead(session, lead_id=lead_id)
        lead_url = page_link(ctx.runtime, person=user, lead_id=lead_id, now=ctx.clock())
        dashboard = (
            page_link(ctx.runtime, person=user, now=ctx.clock())
            if ctx.access.is_manager(user)
            else None
        )
    except LeadBotError as e:
        ctx.tell(user, channel, f"Could not make a link: {e}")
        return
    view = link_modal(
        blocks.who(lead), lead_url, dashboard, hours=ctx.runtime.settings.pages_link_hours
    )
    try:
        ctx.client.views_open(trigger_id=body.get("trigger_id"), view=view)
    except (SlackApiError, SlackClientError, OSError) as e:
        log.warning("lead page modal not opened for %s: %s", user, e)


def link_modal(name: str, lead_url: str, dashboard: str | None, *, hours: float) -> dict[str, Any]:
    """The modal: whose page, how long the link works, and the link buttons."""
    elements = [_link("Open lead page", lead_url, primary=True)]
    if dashboard:
        elements.append(_link("Open dashboard", dashboard))
    return {
        "type": "modal",
        "title": blocks.plain("Lead page", 24),
        "close": blocks.plain("Close", 24),
        "blocks": [
            blocks.section(
                f"The page of *{blocks.safe(name, 200)}*: timeline, notes, scores and why."
                f"\nThis link is yours alone and works for {hours:g} hours: do not share it."
            ),
            {"type": "actions", "elements": elements},
        ],
    }


def _link(label: str, url: str, *, primary: bool = False) -> dict[str, Any]:
    b: dict[str, Any] = {
        "type": "button",
        "text": blocks.plain(label, blocks.BUTTON_TEXT),
        "action_id": f"{OPEN}_{'lead' if primary else 'dashboard'}",
        "url": slack_url(url),
    }
    if primary:
        b["style"] = "primary"
    return b
