"""Block Kit rendering: pure functions from leads to messages, outside text escaped and clipped."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
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
from bot.slack.why import points_of, why
from storage.models import Lead, LeadStatus, utcnow
from storage.public import product_scores

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
UNVERIFIED = (
    ":warning: *Unverified sender*: its domain does not vouch for the From address of this email"
    " (DKIM, SPF, DMARC), so it may be forged"
)

# action_id of each button; the button's value is the lead id.
CLAIM, NOTE, NURTURE, WON, LOST = "lead_claim", "lead_note", "lead_nurture", "lead_won", "lead_lost"
REOPEN, MORE = "lead_reopen", "lead_more"
LEAD_ACTIONS = (CLAIM, NOTE, NURTURE, WON, LOST, REOPEN)
# The card's "⋯" menu: each option's value is "<what>:<lead id>".
REASSIGN, DISQUALIFY, EDIT, DETAILS = "reassign", "disqualify", "edit", "details"
MENU_NURTURE = "nurture"
MENU = {
    MENU_NURTURE: "Back to nurturing",
    REASSIGN: "Reassign…",
    DISQUALIFY: "Disqualify…",
    EDIT: "Edit details…",
    DETAILS: "Full text and details",
}
LOG_ACTIVITY = "lead_log_activity"  # a call, a meeting, a demo (listeners/log_activity.py)
PAGE = "lead_page"  # a signed link to the lead page, made for whoever clicks (listeners/pages.py)
ASK_LINES, ASK_CHARS = 3, 320  # the first paragraphs of the ask on the card; all under Details
GREETING = 40  # a first paragraph this short ending in "," is a greeting, not the ask
NOTE_CHARS = 300

# The state a card is in: its emoji and the header's first words.
_STATE = {
    LeadStatus.NURTURING: (":seedling:", "Back to nurturing"),
    LeadStatus.ANNOUNCED: (":fire:", "Hot lead"),
    LeadStatus.CLAIMED: (":raising_hand:", "Claimed"),
    LeadStatus.WON: (":trophy:", "Won"),
    LeadStatus.LOST: (":x:", "Lost"),
    LeadStatus.DISQUALIFIED: (":no_entry_sign:", "Disqualified"),
}


@dataclass(frozen=True)
class Ask:
    """What the person asked, as the card shows it: the activity the lead was announced for."""

    subject: str = ""
    text: str = ""
    kind: str = ""
    note: str = ""  # the forwarding rep's own words above the forward
    occurred_at: datetime | None = None


def ask_of(activity: Any) -> Ask | None:
    """The card's ask from a stored activity (its data holds subject, text and form fields)."""
    if activity is None:
        return None
    data = activity.data or {}
    fields = data.get("fields")
    fields = fields if isinstance(fields, dict) else {}
    return Ask(
        subject=str(data.get("subject") or ""),
        text=str(data.get("text") or activity.detail or ""),
        kind=str(activity.kind or ""),
        note=str(fields.get("forward_note") or ""),
        occurred_at=activity.occurred_at,
    )


def excerpt_of(activity: Any) -> str | None:
    """What a stored activity said, for a thread reply or a DM."""
    if activity is None:
        return None
    data = activity.data or {}
    return str(data.get("text") or activity.detail or data.get("subject") or "") or None


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


def menu(lead_id: int, choices: list[str]) -> Block:
    """The "⋯" overflow menu of a card: the less frequent actions, out of the way."""
    options = [{"text": plain(MENU[c], BUTTON_TEXT), "value": f"{c}:{lead_id}"} for c in choices]
    return {"type": "overflow", "action_id": MORE, "options": options[:5]}


def fit(blocks: list[Block], limit: int) -> list[Block]:
    """At most `limit` blocks; what is cut is said in a last context line."""
    if len(blocks) <= limit:
        return blocks
    kept = blocks[: limit - 1]
    return [*kept, context(f"… {len(blocks) - len(kept)} more blocks not shown")]


def who(lead: Lead) -> str:
    return lead.name or lead.email


def _state(lead: Lead) -> tuple[str, str]:
    if lead.status in set(LeadStatus):
        return _STATE[LeadStatus(lead.status)]
    return "", lead.status.capitalize()


def money(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:,.0f}" if value == int(value) else f"{value:,.2f}"


def closing_reason(lead: Lead) -> str:
    """Why it was closed, escaped: the counted reason and the rep's words, once each."""
    code, text = (lead.reason_code or "").strip(), (lead.status_reason or "").strip()
    if code and text and text.casefold() != code.casefold():
        return f"{safe(code, 80)}: {safe(text, 500)}"
    return safe(code or text, 500)


def status_line(lead: Lead) -> str:
    icon, _ = _state(lead)
    why = closing_reason(lead)
    reason = f": {why}" if why else ""
    match lead.status:
        case LeadStatus.ANNOUNCED:
            return f"{icon} *Open*, waiting for a rep"
        case LeadStatus.CLAIMED:
            return f"{icon} *Claimed by {user_mention(lead.owner)}*"
        case LeadStatus.WON:
            value = f" · *{money(lead.deal_value)}*" if lead.deal_value is not None else ""
            return f"{icon} *Won* by {user_mention(lead.owner)}{value}{reason}"
        case LeadStatus.LOST:
            return f"{icon} *Lost* by {user_mention(lead.owner)}{reason}"
        case LeadStatus.NURTURING:
            return f"{icon} *Back to nurturing*{reason}"
        case _:
            return f"{icon} *{mrkdwn(lead.status.capitalize())}*{reason}"


def top_reasons(lead: Lead, n: int = TOP_REASONS) -> list[dict[str, Any]]:
    scored = [r for r in lead.reasons if isinstance(r, dict) and points_of(r) > 0]
    return sorted(scored, key=lambda r: -points_of(r))[:n]


def reasons_text(lead: Lead, *, today: date | None = None) -> str:
    """The score and at most three reasons in words; whole points adding up to the score."""
    total, lines, rest, others = why(lead.reasons, lead.score, title=lead.title, today=today)
    out = [f"*Score {total}* ({mrkdwn(lead.temperature)})"]
    for line in lines:
        text = f"• *{line.points:+d}* {safe(line.reason, 300)}"
        if line.evidence:
            text += f" — {safe(line.evidence, 300)}"
        out.append(text)
    if rest and lines:
        out.append(f"• *{rest:+d}* from {others} more" if others else f"• *{rest:+d}* other")
    return "\n".join(out)


def card_buttons(lead: Lead) -> list[Block]:
    value = str(lead.id)
    lead_id = lead.id or 0
    match lead.status:
        case LeadStatus.ANNOUNCED:
            return [
                button("Claim", CLAIM, value, style="primary"),
                button("Add note", NOTE, value),
                button("Back to nurturing", NURTURE, value),
                menu(lead_id, [REASSIGN, DISQUALIFY, EDIT, DETAILS]),
            ]
        case LeadStatus.CLAIMED:
            return [
                button("Won", WON, value, style="primary"),
                button("Lost", LOST, value, style="danger"),
                button("Add note", NOTE, value),
                button("Log activity", LOG_ACTIVITY, value),
                menu(lead_id, [MENU_NURTURE, REASSIGN, DISQUALIFY, EDIT, DETAILS]),
            ]
        case LeadStatus.NURTURING:
            return [
                button("Reopen", REOPEN, value),
                button("Add note", NOTE, value),
                menu(lead_id, [DISQUALIFY, EDIT, DETAILS]),
            ]
        case _:
            return [
                button("Reopen", REOPEN, value),
                button("Add note", NOTE, value),
                menu(lead_id, [EDIT, DETAILS]),
            ]


def first_lines(text: str, *, lines: int = ASK_LINES, chars: int = ASK_CHARS) -> str:
    """The opening of the ask: its paragraphs with mail's hard line breaks joined again, a
    greeting line ("Hello,", "Hallo Frau Weber,") left out, cut at a word near `chars`."""
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    if len(paragraphs) > 1 and len(paragraphs[0]) <= GREETING and paragraphs[0][-1] in ",!:":
        paragraphs = paragraphs[1:]
    out = "\n".join(paragraphs[:lines])
    if len(out) > chars:
        return out[:chars].rsplit(" ", 1)[0].rstrip(",;:") + " " + ELLIPSIS
    return out + (" " + ELLIPSIS if len(paragraphs) > lines else "")


def _ask_section(lead: Lead, ask: Ask | None) -> Block:
    head = f"*{safe(lead.title, 200)}*" if lead.title else ""
    if lead.company:
        head += (", " if head else "") + safe(lead.company, 200)
    head += (" · " if head else "") + safe(lead.email, 320)
    parts = [head]
    if ask is not None and ask.subject.strip():
        parts.append(f"*{safe(ask.subject, 300)}*")
    text = first_lines(ask.text) if ask is not None else ""
    if text:
        parts.append(quote(text, ASK_CHARS * 2))
    return section("\n".join(parts))


def _forward_line(lead: Lead, ask: Ask | None, rep: str | None) -> str:
    who_sent = user_mention(rep) if rep else safe(lead.forwarded_by, 320)
    note = (ask.note if ask is not None else "") or str(lead.fields.get("forward_note") or "")
    line = f":arrow_right_hook: Forwarded by {who_sent}"
    if note.strip():
        line += f": “{safe(' '.join(note.split()), NOTE_CHARS)}”"
    return line


def _details(lead: Lead) -> str:
    facts = [f":telephone_receiver: {safe(lead.phone, 40)}" if lead.phone else ""]
    source = lead.latest_source or lead.source
    facts.append(f"via {safe(source, 100)}" if source else "")
    facts.append(safe(lead.country, 10) if lead.country else "")
    facts.append(fits_line(lead) or (safe(lead.product, 100) if lead.product else ""))
    facts.append(f"#{lead.id}")
    return " · ".join(f for f in facts if f)


def fits_line(lead: Lead, *, top: int = 4) -> str:
    """`fits: analytics 71, integrations 48`: every product in play, the best first, each name
    escaped (they come from the rules file, and a card must never ping); "" with none."""
    scores = list(product_scores(lead).items())[:top]
    if not scores:
        return ""
    return "fits: " + ", ".join(f"{safe(name, 60)} {value:.0f}" for name, value in scores)


def lead_card(
    lead: Lead,
    *,
    ask: Ask | None = None,
    excerpt: str | None = None,
    rep: str | None = None,
    now: datetime | None = None,
    unverified: bool = False,
    page: bool = False,
) -> Message:
    """The card, rendered from the lead as it is now: who and the ask, why, the buttons; the
    state and the details in small print below. `rep` is the Slack user who forwarded it;
    `unverified`: the email shown failed sender verification (ingest.auth), said next to it;
    `page`: an "Open lead page" button (LEADBOT_PUBLIC_URL is set), before the menu."""
    if ask is None and excerpt:
        ask = Ask(text=excerpt)
    icon, label = _state(lead)
    company = f" · {lead.company}" if lead.company else ""
    blocks: list[Block] = [
        {"type": "header", "text": plain(f"{icon} {label}: {who(lead)}{company}", HEADER_TEXT)}
    ]
    if unverified:  # above the address and the ask it warns about
        blocks.append(context(UNVERIFIED))
    blocks.append(_ask_section(lead, ask))
    if lead.forwarded_by:
        blocks.append(context(_forward_line(lead, ask, rep)))
    blocks.append(section(reasons_text(lead, today=(now or utcnow()).date())))
    elements = card_buttons(lead)
    if page:
        elements.insert(len(elements) - 1, button("Open lead page", PAGE, str(lead.id)))
    blocks.append({"type": "actions", "block_id": f"lead:{lead.id}", "elements": elements})
    blocks.append(context(f"{status_line(lead)} · {_details(lead)}"))
    return {"text": fallback(lead), "blocks": fit(blocks, MAX_BLOCKS_MESSAGE)}


def fallback(lead: Lead) -> str:
    """Notification text: escaped too, since Slack renders it as mrkdwn in notifications."""
    _, label = _state(lead)
    parts = [f"{label}: {who(lead)}", lead.company or "", f"score {lead.score:.0f}"]
    return safe(" · ".join(p for p in parts if p), FALLBACK_TEXT)


def when(moment: datetime) -> str:
    """A time every reader sees in their own time zone (`<!date^…>`), the fallback in UTC for
    clients that cannot: "Nov 2, 2026 at 10:00", "Yesterday at 10:00"."""
    stamp = int(moment.timestamp())
    fallback = moment.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{stamp}^{{date_short_pretty}} {{time}}|{fallback}>"


def owner_of(lead: Lead, mentions: dict[str, str] | None = None) -> str:
    """The owner as a mention: a Slack user ID, or an address Slack knows (`mentions`)."""
    owner = lead.owner or ""
    return user_mention((mentions or {}).get(owner.lower(), owner))


def summary_blocks(
    lead: Lead, *, now: datetime | None = None, mentions: dict[str, str] | None = None
) -> list[Block]:
    """One lead in a list (/leads, App Home): two blocks. `mentions` maps an owner's address
    to their Slack user."""
    line = f"*{safe(who(lead), 200)}*"
    if lead.name:
        line += f" · {safe(lead.email, 320)}"
    if lead.company:
        line += f" · {safe(lead.company, 200)}"
    owner = f"owner {owner_of(lead, mentions)}" if lead.owner else "no owner"
    last = lead.last_activity_at or lead.updated_at
    facts = f"{mrkdwn(lead.status)} · {owner} · score {lead.score:.0f} ({mrkdwn(lead.temperature)})"
    if last is not None:
        facts += f" · last activity {when(last)}"
    head: Block = section(f"{line}\n{facts}")
    if lead.status == LeadStatus.ANNOUNCED:
        head["accessory"] = button("Claim", CLAIM, str(lead.id), style="primary")
    return [head, {"type": "divider"}]


def lead_list(
    title: str,
    leads: list[Lead],
    *,
    now: datetime | None = None,
    empty: str = "No leads.",
    mentions: dict[str, str] | None = None,
) -> Message:
    blocks: list[Block] = [section(title)]
    if not leads:
        blocks.append(context(empty))
    for lead in leads:
        blocks.extend(summary_blocks(lead, now=now, mentions=mentions))
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


def _because(event: dict[str, Any]) -> str:
    """A decision's reason as given in an outbox payload: the counted reason, then the words."""
    code, text = str(event.get("code") or "").strip(), str(event.get("text") or "").strip()
    if code and text and code.casefold() != text.casefold():
        return f"{safe(code, 80)}: {safe(text, 500)}"
    return safe(code or text, 500)


def _value(event: dict[str, Any]) -> float | None:
    try:
        return float(event["value"]) if event.get("value") is not None else None
    except (TypeError, ValueError):
        return None


def _changes(event: dict[str, Any]) -> str:
    changes = event.get("changes")
    changes = changes if isinstance(changes, dict) else {}
    parts = []
    for name, change in list(changes.items())[:10]:
        change = change if isinstance(change, dict) else {}
        before, after = change.get("from") or "—", change.get("to") or "—"
        parts.append(f"{mrkdwn(str(name))} {safe(str(before), 200)} → {safe(str(after), 200)}")
    return ", ".join(parts)


def thread_message(event: dict[str, Any], lead: Lead, *, detail: str | None = None) -> Message:
    """A reply in the card's thread, from an outbox payload: notes, decisions, new activity, SLA."""
    kind = str(event.get("event", ""))
    actor = user_mention(event.get("actor"))
    text_in = str(event.get("text") or "")
    because = _because(event)
    match kind:
        case "note":
            text = f":memo: Note from {actor}:\n{quote(text_in, SECTION_TEXT - 100)}"
        case "claimed":
            text = f":raising_hand: Claimed by {actor}"
        case "nurtured":
            text = f":seedling: {actor} sent it back to nurturing: {safe(text_in, 500)}"
        case "won":
            value = _value(event)
            text = f":trophy: Won by {actor}" + (
                f" · *{money(value)}*" if value is not None else ""
            )
            text += f": {because}" if because else ""
        case "lost":
            text = f":x: Lost by {actor}: {because}"
        case "disqualified":
            text = f":no_entry_sign: Disqualified by {actor}: {because}"
        case "reassigned":
            before = event.get("from")
            text = f":busts_in_silhouette: {actor} assigned it to {user_mention(event.get('to'))}"
            text += f" (was {user_mention(str(before))}'s)" if before else ""
            text += f": {safe(text_in, 500)}" if text_in else ""
        case "reopened":
            to = str(event.get("to") or "")
            now_what = (
                f"back with {user_mention(event.get('owner'))}"
                if to == LeadStatus.CLAIMED
                else "open again, waiting for a rep"
            )
            text = f":repeat: Reopened by {actor}: {now_what}"
            text += f" ({safe(text_in, 500)})" if text_in else ""
        case "edited":
            text = f":pencil2: {actor} corrected {_changes(event)}"
        case "logged":  # a call, meeting or demo a rep logged
            label = mrkdwn(str(event.get("label") or "Activity"))
            body = f"\n{quote(text_in, SECTION_TEXT - 200)}" if text_in else ""
            text = f":spiral_note_pad: {label} logged by {actor}, score now {lead.score:.0f}{body}"
        case "activity":
            label = mrkdwn(str(event.get("kind", "activity")).replace("_", " "))
            body = quote(detail or text_in, EXCERPT) if (detail or text_in) else ""
            name = safe(who(lead), 200)
            score = f"{lead.score:.0f}"
            closed = event.get("status")
            state = f" (the lead is {mrkdwn(str(closed))})" if closed else ""
            text = f":incoming_envelope: New {label} from {name}, score now {score}{state}\n{body}"
        case "sla_reminder":
            minutes = int(event.get("minutes", 0))
            who_may = "".join(_audience(str(t)) + " " for t in event.get("targets") or [])
            text = f":alarm_clock: {who_may}Still unclaimed after {minutes} min. Who takes it?"
        case "sla_escalation":
            targets = " ".join(group_mention(str(t)) for t in event.get("targets") or [])
            minutes = int(event.get("minutes", 0))
            text = f":rotating_light: {targets} unclaimed for {minutes} min, please assign it."
        case _:
            text = safe(text_in or kind, SECTION_TEXT)
    text = fit_text(text)
    return {"text": fit_text(text, FALLBACK_TEXT), "blocks": [section(text)]}


def _audience(target: str) -> str:
    """A mention from our own settings: `here`, a user group (S…) or a user (U…)."""
    return "<!here>" if target == "here" else group_mention(target)


def removed() -> Message:
    """What a card about a forgotten person becomes: nothing about them, no buttons."""
    text = "This lead was removed on request."
    return {"text": text, "blocks": [context(f":wastebasket: {text}")]}


def card_link(permalink: str | None) -> str:
    """A link to the card, when Slack gave one that cannot break out of its `<…|…>`."""
    if not permalink or not permalink.startswith("https://") or any(c in permalink for c in "<>| "):
        return ""
    return f"<{permalink}|Open the card>"


def dm_message(
    event: dict[str, Any], lead: Lead, *, link: str | None = None, detail: str | None = None
) -> Message:
    """A direct message to one rep about their lead: assigned to them, or a closed lead writing
    again (and announced again, when it was lost and is hot)."""
    kind = str(event.get("event", ""))
    name = f"*{safe(who(lead), 200)}*" + (f" ({safe(lead.company, 200)})" if lead.company else "")
    status = mrkdwn(str(event.get("status") or lead.status))
    match kind:
        case "assigned":
            text = f":busts_in_silhouette: {user_mention(event.get('actor'))} assigned you {name}."
            if event.get("text"):
                text += f" “{safe(str(event['text']), 500)}”"
        case "returned":
            text = f":repeat: {name}, whom you marked {status}, wrote again and is hot: it is announced again."
        case "activity":
            label = mrkdwn(str(event.get("kind", "activity")).replace("_", " "))
            text = f":incoming_envelope: {name}, your {status} lead, sent a new {label}"
            text += f":\n{quote(detail, EXCERPT)}" if detail else "."
        case _:
            text = f"{name}: {safe(kind, 100)}"
    linked = card_link(link)
    text = fit_text(text + (f"\n{linked}" if linked else ""))
    return {"text": fit_text(text, FALLBACK_TEXT), "blocks": [section(text)]}
