"""Slash commands `/lead <query>` and `/leads hot|mine|unclaimed|stats`, answered in the ack.

The answer is computed before `ack()` because it travels in the ack's body (no extra Web API
call, nothing to lose): an indexed search or an aggregate takes milliseconds, far inside Slack's
3-second window.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from slack_bolt import Ack, App

from bot.pages.links import page_link, slack_url
from bot.privacy import forget
from bot.slack import blocks
from bot.slack.context import SlackContext
from bot.slack.escape import is_user_id
from bot.slack.funnel import funnel_blocks
from bot.slack.listeners.actions import NOT_ALLOWED
from bot.slack.lists import Period, stats_report
from bot.slack.lists import lead_answer as answer_blocks
from storage import slack as slack_store
from storage import slack_digest, stats
from storage.errors import LeadBotError
from storage.search import find_leads

RESULTS = 10
# `<` and `>` escaped even here: Slack reads `<email|name>` as a link to "email".
LEAD_USAGE = "Usage: `/lead &lt;email|name|company|domain&gt;`"
LEADS_USAGE = (
    "Usage: `/leads hot` (open hot leads), `/leads mine` (yours), "
    "`/leads unclaimed` (waiting for a rep), "
    "`/leads stats [7d|30d|quarter] [by source|campaign|rep|product]` (the funnel)"
)
STATS_USAGE = (
    "Usage: `/leads stats` (all time), `/leads stats 7d`, `30d`, `week`, `month`, `quarter`;"
    " add `by source`, `by campaign`, `by rep` or `by product` for a line per group"
)
_BY = re.compile(r"(?:^|\s)by\s+(\w+)\s*$")
MAX_DAYS = 3660
_DAYS = re.compile(r"^(\d{1,4})\s*(?:d|days?)$")
QUERY_MAX = 200
# What Slack does to command text: `<mailto:a@b.c|a@b.c>`, `<http://acme.com|acme.com>`,
# `<@U123|jane>`, `<#C123|sales>`, `<!here>`, and `&`, `<`, `>` sent as entities.
_SLACK_TOKEN = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")
_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"))


def register(app: App, ctx: SlackContext) -> None:
    @app.command("/lead")
    def on_lead(ack: Ack, command: dict[str, Any]) -> None:
        ack(**lead_answer(ctx, command))

    @app.command("/leads")
    def on_leads(ack: Ack, command: dict[str, Any]) -> None:
        if command_query(command.get("text")).lower().startswith("forget"):
            forget_command(ctx, command, ack)
            return
        ack(**leads_answer(ctx, command))


def forget_command(ctx: SlackContext, command: dict[str, Any], ack: Ack) -> None:
    """`/leads forget EMAIL [reason]`, managers only: acked at once, the erasure runs after."""
    user = str(command.get("user_id", ""))
    channel = command.get("channel_id")
    words = command_query(command.get("text")).split(maxsplit=2)
    if not ctx.access.is_manager(user):
        ack(**_text("Only a LeadBot manager can forget a person."))
        return
    if len(words) < 2 or "@" not in words[1]:
        ack(**_text("Usage: `/leads forget EMAIL [reason]`"))
        return
    email = words[1].strip("<>").removeprefix("mailto:").split("|")[0]
    reason = words[2] if len(words) > 2 else "data protection request"
    ack(**_text(f"Forgetting `{blocks.safe(email, 320)}` everywhere…"))
    try:
        done = forget(
            ctx.store, email, reason=reason, by=user, suppress=ctx.runtime.settings.forget_suppress
        )
    except LeadBotError as e:
        ctx.tell(user, channel, f"Nothing was forgotten: {e}")
        return
    ctx.tell(
        user,
        channel,
        f"Lead #{done.lead_id} is forgotten: its data is erased and {done.slack_messages}"
        " Slack message(s) are being redacted.",
    )


def _private(message: blocks.Message) -> dict[str, Any]:
    return {"response_type": "ephemeral", **message}


def _text(text: str) -> dict[str, Any]:
    return {"response_type": "ephemeral", "text": text}


def lead_answer(ctx: SlackContext, command: dict[str, Any]) -> dict[str, Any]:
    user, channel = str(command.get("user_id", "")), command.get("channel_id")
    if not ctx.access.may_act(user, channel=channel):
        return _text(NOT_ALLOWED)
    query = command_query(command.get("text"))
    if not query:
        return _text(LEAD_USAGE)
    try:
        with ctx.store.session() as session:
            found = find_leads(session, query, limit=RESULTS)
            where = slack_digest.where_posted(session, found)
            notes = slack_store.last_notes(session, [lead.id for lead in found if lead.id])
    except LeadBotError as e:
        return _text(f"Search failed: {e}")
    # Links are asked for together, within a budget that keeps the answer inside Slack's window.
    links = ctx.permalinks.many(list(where.values()))
    by_lead = {lead_id: links[m] for lead_id, m in where.items() if m in links}
    people = [lead.owner for lead in found] + [n.author for n in notes.values()]
    title = f"*{len(found)} lead(s) for* `{blocks.safe(query, 200)}`"
    return _private(
        answer_blocks(
            title,
            found,
            pages=page_links(ctx, user, found),
            links=by_lead,
            notes=notes,
            mentions=mentions(ctx, people),
            today=ctx.clock().date(),
        )
    )


def page_links(ctx: SlackContext, user: str, leads: list[Any]) -> dict[int, str]:
    """A link to each lead's page made for `user`, when LEADBOT_PUBLIC_URL is set."""
    if not ctx.runtime.settings.public_url:
        return {}
    now = ctx.clock()
    return {
        lead.id: slack_url(page_link(ctx.runtime, person=user, lead_id=lead.id, now=now))
        for lead in leads
        if lead.id
    }


def mentions(ctx: SlackContext, people: list[str | None]) -> dict[str, str]:
    """Addresses among owners and note authors that belong to Slack users (users.lookupByEmail,
    remembered), so they show as mentions."""
    out: dict[str, str] = {}
    for person in dict.fromkeys(p for p in people if p and not is_user_id(p) and "@" in p):
        user = ctx.people.user_id(person)
        if user:
            out[person.lower()] = user
    return out


def period_of(text: str, now: datetime) -> Period | None:
    """`7d`, `30 days`, `week`, `month`, `quarter` (this calendar quarter) or nothing (all time)."""
    word = text.strip().lower()
    if word in ("", "all"):
        return Period(since=None, label="all time")
    if word == "quarter":
        start = datetime(now.year, 3 * ((now.month - 1) // 3) + 1, 1, tzinfo=UTC)
        return Period(since=start, label="this quarter")
    days = {"week": 7, "month": 30}.get(word)
    if days is None and (m := _DAYS.match(word)) is not None:
        days = int(m.group(1))
    if days is None or not 0 < days <= MAX_DAYS:
        return None
    return Period(since=now - timedelta(days=days), label=f"the last {days} days")


def stats_answer(ctx: SlackContext, text: str) -> dict[str, Any]:
    """`/leads stats [period] [by …]`: what is now and what happened in the period (with a
    line per rep and per source), then the funnel of the leads that came in (bot.slack.funnel)."""
    now = ctx.clock()
    by: str | None = None
    if (m := _BY.search(text)) is not None:
        by, text = m.group(1), text[: m.start()]
        if by not in stats.BY:
            return _text(
                f"I cannot break the funnel down by `{blocks.safe(by, 30)}`. {STATS_USAGE}"
            )
    period = period_of(text, now)
    if period is None:
        return _text(f"I do not know the period `{blocks.safe(text, 50)}`. {STATS_USAGE}")
    with ctx.store.reading() as session:  # SQLite: no write lock while it aggregates
        got = stats.report(session, now=now, since=period.since, by=by)
        reps = stats.by_rep(session, now=now, since=period.since)
        sources = stats.by_source(session, now=now, since=period.since)
    funnel = {**got["flow"], "by_status": got["by_status"]}
    answer = stats_report(funnel, period=period, reps=reps, sources=sources)
    answer["blocks"] = [*answer["blocks"], *funnel_blocks(got, period=period.label)]
    return _private(answer)


def leads_answer(ctx: SlackContext, command: dict[str, Any]) -> dict[str, Any]:
    user, channel = str(command.get("user_id", "")), command.get("channel_id")
    if not ctx.access.may_act(user, channel=channel):
        return _text(NOT_ALLOWED)
    what, _, rest = (command_query(command.get("text")).lower() or "hot").partition(" ")
    now = ctx.clock()
    try:
        if what == "stats":
            return stats_answer(ctx, rest)
        with ctx.store.session() as session:
            if what == "hot":
                leads, title = slack_store.hot_open_leads(session, limit=RESULTS), "*Hot leads*"
            elif what == "mine":
                leads, title = stats.owned_by(session, user, limit=RESULTS), "*Your claimed leads*"
            elif what == "unclaimed":
                leads, title = stats.hot_unclaimed(session, limit=RESULTS), "*Unclaimed leads*"
            else:
                return _text(f"I do not know `{blocks.safe(what, 50)}`. {LEADS_USAGE}")
    except LeadBotError as e:
        return _text(f"That did not work: {e}")
    owners = mentions(ctx, [lead.owner for lead in leads])
    return _private(blocks.lead_list(title, leads, now=now, mentions=owners))


def command_query(text: Any) -> str:
    """Command text as the user meant it: Slack's links and mentions unwrapped, spaces collapsed."""
    unwrapped = _SLACK_TOKEN.sub(_unwrap, str(text or "")[: QUERY_MAX * 20])
    for entity, char in _ENTITIES:
        unwrapped = unwrapped.replace(entity, char)
    return " ".join(unwrapped.split())[:QUERY_MAX]


def _unwrap(match: re.Match[str]) -> str:
    target, label = match.group(1), match.group(2)
    if target.startswith("mailto:"):
        return target[len("mailto:") :]
    if target.startswith(("http://", "https://")):
        host = urlsplit(target).hostname or label or ""
        return host.removeprefix("www.")
    if target.startswith(("@", "#")):  # a person or channel: their name is the useful part
        return label or ""
    # <!here>, <!subteam^S1|@team>: what the user saw, as text that can never ping.
    return label or "@" + target.lstrip("!").split("^", 1)[0]
