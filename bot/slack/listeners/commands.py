"""Slash commands `/lead <query>` and `/leads hot|mine|unclaimed|stats`, answered in the ack.

The answer is computed before `ack()` because it travels in the ack's body (no extra Web API
call, nothing to lose): an indexed search or an aggregate takes milliseconds, far inside Slack's
3-second window.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slack_bolt import Ack, App

from bot.slack import blocks
from bot.slack.listeners.actions import NOT_ALLOWED
from storage import slack as slack_store
from storage import stats
from storage.errors import LeadBotError
from storage.search import find_leads

if TYPE_CHECKING:
    from bot.slack.app import SlackContext

RESULTS = 10
LEAD_USAGE = "Usage: `/lead <email|name|company|domain>`"
LEADS_USAGE = "Usage: `/leads hot|mine|unclaimed|stats`"


def register(app: App, ctx: SlackContext) -> None:
    @app.command("/lead")
    def on_lead(ack: Ack, command: dict[str, Any]) -> None:
        ack(**lead_answer(ctx, command))

    @app.command("/leads")
    def on_leads(ack: Ack, command: dict[str, Any]) -> None:
        ack(**leads_answer(ctx, command))


def _private(message: blocks.Message) -> dict[str, Any]:
    return {"response_type": "ephemeral", **message}


def _text(text: str) -> dict[str, Any]:
    return {"response_type": "ephemeral", "text": text}


def lead_answer(ctx: SlackContext, command: dict[str, Any]) -> dict[str, Any]:
    user, channel = str(command.get("user_id", "")), command.get("channel_id")
    if not ctx.access.may_act(user, channel=channel):
        return _text(NOT_ALLOWED)
    query = str(command.get("text") or "").strip()
    if not query:
        return _text(LEAD_USAGE)
    try:
        with ctx.store.session() as session:
            found = find_leads(session, query, limit=RESULTS)
    except LeadBotError as e:
        return _text(f"Search failed: {e}")
    title = f"*{len(found)} lead(s) for* `{blocks.safe(query, 200)}`"
    return _private(blocks.lead_list(title, found, now=ctx.clock(), empty="No lead matches."))


def leads_answer(ctx: SlackContext, command: dict[str, Any]) -> dict[str, Any]:
    user, channel = str(command.get("user_id", "")), command.get("channel_id")
    if not ctx.access.may_act(user, channel=channel):
        return _text(NOT_ALLOWED)
    what = (str(command.get("text") or "").strip().lower() or "hot").split()[0]
    now = ctx.clock()
    try:
        with ctx.store.session() as session:
            if what == "stats":
                return _private(blocks.stats_message(stats.funnel(session, now=now)))
            if what == "hot":
                leads, title = slack_store.hot_open_leads(session, limit=RESULTS), "*Hot leads*"
            elif what == "mine":
                leads, title = stats.owned_by(session, user, limit=RESULTS), "*Your claimed leads*"
            elif what == "unclaimed":
                leads, title = stats.hot_unclaimed(session, limit=RESULTS), "*Unclaimed leads*"
            else:
                return _text(LEADS_USAGE)
    except LeadBotError as e:
        return _text(f"That did not work: {e}")
    return _private(blocks.lead_list(title, leads, now=now))
