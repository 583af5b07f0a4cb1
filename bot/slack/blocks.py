"""Block Kit rendering: pure functions from leads to messages, outside text escaped and clipped."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.slack.escape import (
    ELLIPSIS,
    clip_mrkdwn,
    group_mention,
    mrkdwn,
    quote,
    safe,
    user_mention,
)
from storage.models import Lead, LeadStatus

Block = dict[str, Any]
Message = dict[str, Any]  # {"text": fallback, "blocks": [...]}

# Slack's limits (api.slack.com/reference/block-kit): exceeding any one rejects the whole message.
MAX_BLOCKS_MESSAGE = 50
MAX_BLOCKS_VIEW = 100
SECTION_TEXT = 3000
FIELD_TEXT = 2000
HEADER_TEXT = 150
BUTTON_TEXT = 75
FALLBACK_TEXT = 3000
EXCERPT = 600
TOP_REASONS = 3

# action_id of each button; the button's value is the lead id.
CLAIM, NOTE, NURTURE, WON, LOST = "lead_claim", "lead_note", "lead_nurture", "lead_won", "lead_lost"
LEAD_ACTIONS = (CLAIM, NOTE, NURTURE, WON, LOST)
LOG_ACTIVITY = (
    "lead_log_activity"  # a call, a meeting, a demo (bot/slack/listeners/log_activity.py)
)

_STATUS_ICON = {
    LeadStatus.NURTURING: ":seedling:",
    LeadStatus.ANNOUNCED: ":fire:",
    LeadStatus.CLAIMED: ":raising_hand:",
    LeadStatus.WON: ":trophy:",
    LeadStatus.LOST: ":x:",
    LeadStatus.DISQUALIFIED: ":no_entry_sign:",
}


def plain(text: str, limit: int = SECTION_TEXT) -> Block:
    """plain_text never pings, but Slack still decodes `&amp;`/`&lt;`/`&gt;` in it: escape too."""
    return {"type": "plain_text", "text": safe(text, limit) or " ", "emoji": True}


def section(text: str) -> Block:
    """A mrkdwn section; `text` must already be escaped where it holds outside text."""
    return {"type": "section", "text": {"type": "mrkdwn", "text": fit_text(text) or " "}}


def context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": fit_text(text) or " "}]}


def fit_text(text: str, limit: int = SECTION_TEXT) -> str:
    """Escaped mrkdwn cut to `limit` without leaving half an entity or half a `<@U…>` behind."""
    if len(text) <= limit:
        return text
    cut = clip_mrkdwn(text, limit)
    opened = cut.rfind("<")
    return cut if opened < cut.rfind(">") else cut[:opened].rstrip() + ELLIPSIS


def button(label: str, action_id: str, value: str, *, style: str | None = None) -> Block:
    b: Block = {
        "type": "button",
        "text": plain(label, BUTTON_TEXT),
        "action_id": action_id,
        "value": value,
    }
    if style:
        b["style"] = style
    return b


def fit(blocks: list[Block], limit: int) -> list[Block]:
    """At most `limit` blocks; what is cut is said in a last context line."""
    if len(blocks) <= limit:
        return blocks
    kept = blocks[: limit - 1]
    return [*kept, context(f"… {len(blocks) - len(kept)} more blocks not shown")]


def who(lead: Lead) -> str:
    return lead.name or lead.email


def status_line(lead: Lead) -> str:
    icon = _STATUS_ICON.get(LeadStatus(lead.status), "") if lead.status in set(LeadStatus) else ""
    reason = f": {safe(lead.status_reason, 500)}" if lead.status_reason else ""
    match lead.status:
        case LeadStatus.ANNOUNCED:
            return f"{icon} *Unclaimed*, waiting for a rep"
        case LeadStatus.CLAIMED:
            return f"{icon} *Claimed by {user_mention(lead.owner)}*"
        case LeadStatus.WON:
            return f"{icon} *Won* by {user_mention(lead.owner)}{reason}"
        case LeadStatus.LOST:
            return f"{icon} *Lost* by {user_mention(lead.owner)}{reason}"
        case LeadStatus.NURTURING:
            return f"{icon} *Back to nurturing*{reason}"
        case _:
            return f"{icon} *{mrkdwn(lead.status.capitalize())}*{reason}"


def top_reasons(lead: Lead, n: int = TOP_REASONS) -> list[dict[str, Any]]:
    scored = [r for r in lead.reasons if isinstance(r, dict) and _points(r) > 0]
    return sorted(scored, key=lambda r: -_points(r))[:n]


def _points(reason: dict[str, Any]) -> float:
    try:
        return float(reason.get("points", 0))
    except (TypeError, ValueError):
        return 0.0


def reasons_text(lead: Lead) -> str:
    lines = []
    for r in top_reasons(lead):
        line = f"• *{_points(r):+g}* {safe(str(r.get('reason') or r.get('rule') or ''), 300)}"
        if r.get("evidence"):
            line += f" — _{safe(str(r['evidence']), 200)}_"
        lines.append(line)
    return "\n".join(lines)


def card_buttons(lead: Lead) -> list[Block]:
    value = str(lead.id)
    match lead.status:
        case LeadStatus.ANNOUNCED:
            return [
                button("Claim", CLAIM, value, style="primary"),
                button("Add note", NOTE, value),
                button("Back to nurturing", NURTURE, value),
            ]
        case LeadStatus.CLAIMED:
            return [
                button("Add note", NOTE, value),
                button("Back to nurturing", NURTURE, value),
                button("Won", WON, value, style="primary"),
                button("Lost", LOST, value, style="danger"),
            ]
        case _:
            return [button("Add note", NOTE, value)]


def _field(label: str, value: str | None) -> Block | None:
    if not value:
        return None
    return {"type": "mrkdwn", "text": f"*{label}*\n{safe(value, FIELD_TEXT - len(label) - 4)}"}


def lead_card(lead: Lead, *, excerpt: str | None = None) -> Message:
    """The announcement card, rendered from the lead as it is now."""
    fields = [
        _field("Title", lead.title),
        _field("Company", lead.company),
        _field("Email", lead.email),
        _field("Phone", lead.phone),
        _field("Source", lead.latest_source or lead.source),
        _field("Forwarded by", lead.forwarded_by),
        {"type": "mrkdwn", "text": f"*Score*\n{lead.score:.0f} ({mrkdwn(lead.temperature)})"},
        _field("Product", lead.product),
    ]
    blocks: list[Block] = [
        {"type": "header", "text": plain(f"Hot lead: {who(lead)}", HEADER_TEXT)},
        {"type": "section", "fields": [f for f in fields if f is not None][:10]},
    ]
    why = reasons_text(lead)
    if why:
        blocks.append(section(f"*Why hot*\n{why}"))
    if excerpt and excerpt.strip():
        blocks.append(section(quote(excerpt[: EXCERPT * 2], EXCERPT)))
    blocks.append(context(status_line(lead)))
    blocks.append(
        {
            "type": "actions",
            "block_id": f"lead:{lead.id}",
            "elements": [*card_buttons(lead), button("Log activity", LOG_ACTIVITY, str(lead.id))],
        }
    )
    return {"text": fallback(lead), "blocks": fit(blocks, MAX_BLOCKS_MESSAGE)}


def fallback(lead: Lead) -> str:
    """Notification text: escaped too, since Slack renders it as mrkdwn in notifications."""
    parts = [f"Hot lead: {who(lead)}", lead.company or "", f"score {lead.score:.0f}"]
    return safe(" · ".join(p for p in parts if p), FALLBACK_TEXT)


def summary_blocks(lead: Lead, *, now: datetime | None = None) -> list[Block]:
    """One lead in a list (/lead answers, /leads, App Home): two blocks."""
    line = f"*{safe(who(lead), 200)}*"
    if lead.name:
        line += f" · {safe(lead.email, 320)}"
    if lead.company:
        line += f" · {safe(lead.company, 200)}"
    owner = f"owner {user_mention(lead.owner)}" if lead.owner else "no owner"
    last = lead.last_activity_at or lead.updated_at
    facts = f"{mrkdwn(lead.status)} · {owner} · score {lead.score:.0f} ({mrkdwn(lead.temperature)})"
    if last is not None:
        facts += f" · last activity {_ago(last, now)}"
    head: Block = section(f"{line}\n{facts}")
    if lead.status == LeadStatus.ANNOUNCED:
        head["accessory"] = button("Claim", CLAIM, str(lead.id), style="primary")
    return [head, {"type": "divider"}]


def _ago(when: datetime, now: datetime | None) -> str:
    if now is None:
        return when.strftime("%Y-%m-%d %H:%M UTC")
    seconds = max((now - when).total_seconds(), 0)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit} ago"
    return "just now"


def lead_list(
    title: str, leads: list[Lead], *, now: datetime | None = None, empty: str = "No leads."
) -> Message:
    blocks: list[Block] = [section(title)]
    if not leads:
        blocks.append(context(empty))
    for lead in leads:
        blocks.extend(summary_blocks(lead, now=now))
    return {"text": fit_text(title, FALLBACK_TEXT), "blocks": fit(blocks, MAX_BLOCKS_MESSAGE)}


def stats_message(funnel: dict[str, Any]) -> Message:
    """`/leads stats`: counts per status, claim rate, median time from announcement to claim."""
    counts = funnel.get("by_status") or {}
    lines = [f"• {mrkdwn(str(k))}: *{v}*" for k, v in counts.items()]
    rate = funnel.get("claim_rate")
    lines.append(f"• claim rate: *{'n/a' if rate is None else f'{float(rate) * 100:.0f}%'}*")
    lines.append(f"• median time to claim: *{_duration(funnel.get('median_seconds_to_claim'))}*")
    if funnel.get("win_rate") is not None:
        lines.append(f"• win rate: *{float(funnel['win_rate']) * 100:.0f}%*")
    return {"text": "Lead funnel", "blocks": [section("*Lead funnel*\n" + "\n".join(lines))]}


def _duration(seconds: Any) -> str:
    if seconds is None:
        return "n/a"
    s = float(seconds)
    if s >= 3600:
        return f"{s / 3600:.1f} h"
    return f"{s / 60:.0f} min" if s >= 60 else f"{s:.0f} s"


def thread_message(event: dict[str, Any], lead: Lead, *, detail: str | None = None) -> Message:
    """A reply in the card's thread, from an outbox payload: notes, decisions, new activity, SLA."""
    kind = str(event.get("event", ""))
    actor = user_mention(event.get("actor"))
    text_in = str(event.get("text") or "")
    match kind:
        case "note":
            text = f":memo: Note from {actor}:\n{quote(text_in, SECTION_TEXT - 100)}"
        case "claimed":
            text = f":raising_hand: Claimed by {actor}"
        case "nurtured":
            text = f":seedling: {actor} sent it back to nurturing: {safe(text_in, 500)}"
        case "won":
            text = f":trophy: Won by {actor}" + (f": {safe(text_in, 500)}" if text_in else "")
        case "lost":
            text = f":x: Lost by {actor}: {safe(text_in, 500)}"
        case "logged":  # a call, meeting or demo a rep logged
            label = mrkdwn(str(event.get("label") or "Activity"))
            body = f"\n{quote(text_in, SECTION_TEXT - 200)}" if text_in else ""
            text = f":spiral_note_pad: {label} logged by {actor}, score now {lead.score:.0f}{body}"
        case "activity":
            label = mrkdwn(str(event.get("kind", "activity")).replace("_", " "))
            body = quote(detail or text_in, EXCERPT) if (detail or text_in) else ""
            name = safe(who(lead), 200)
            score = f"{lead.score:.0f}"
            text = f":incoming_envelope: New {label} from {name}, score now {score}\n{body}"
        case "sla_reminder":
            minutes = int(event.get("minutes", 0))
            text = f":alarm_clock: Still unclaimed after {minutes} min. Who takes it?"
        case "sla_escalation":
            targets = " ".join(group_mention(str(t)) for t in event.get("targets") or [])
            minutes = int(event.get("minutes", 0))
            text = f":rotating_light: {targets} unclaimed for {minutes} min, please assign it."
        case _:
            text = safe(text_in or kind, SECTION_TEXT)
    text = fit_text(text)
    return {"text": fit_text(text, FALLBACK_TEXT), "blocks": [section(text)]}


def removed() -> Message:
    """What a card about a forgotten person becomes: nothing about them, no buttons."""
    text = "This lead was removed on request."
    return {"text": text, "blocks": [context(f":wastebasket: {text}")]}
