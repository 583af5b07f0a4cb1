"""Answers that list leads: `/lead` results with a link to each card, `/leads stats` for a period
with per-rep and per-source lines, and the digest a burst of announcements becomes. Pure
functions from leads to Block Kit, outside text escaped and clipped."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from bot.slack.blocks import (
    CLAIM,
    FALLBACK_TEXT,
    MAX_BLOCKS_MESSAGE,
    NOTE_CHARS,
    Block,
    Message,
    button,
    card_link,
    context,
    first_lines,
    fit,
    fit_text,
    money,
    plain,
    section,
    summary_blocks,
    when,
    who,
)
from bot.slack.escape import mrkdwn, safe, user_mention
from bot.slack.why import why
from storage.models import Lead, LeadStatus

REASON_CHARS = 120
ASK_CHARS = 160


def reasons_line(lead: Lead, *, today: date | None = None, top: int = 3) -> str:
    """The card's reasons without the evidence: `+30 Budget mentioned · +25 Seat count`."""
    _, lines, _, _ = why(lead.reasons, lead.score, title=lead.title, today=today)
    lines = lines[:top]
    return " · ".join(f"*{line.points:+d}* {safe(line.reason, REASON_CHARS)}" for line in lines)


def found_blocks(
    lead: Lead,
    *,
    link: str | None = None,
    note: Any = None,
    mentions: dict[str, str] | None = None,
    today: date | None = None,
    page: str | None = None,
) -> list[Block]:
    """One `/lead` result: who, status, owner, score and last activity; why; the last note; a
    link to the card, and to the lead page (`page`: a link made for the asking user)."""
    head, divider = summary_blocks(lead, mentions=mentions)
    lines = [head["text"]["text"]]
    reasons = reasons_line(lead, today=today)
    if reasons:
        lines.append(f"Why: {reasons}")
    if note is not None:
        author = user_mention((mentions or {}).get(str(note.author).lower(), note.author))
        text = safe(" ".join(str(note.text).split()), NOTE_CHARS)
        lines.append(f":memo: {author}, {when(note.created_at)}: “{text}”")
    linked = card_link(link)
    if page:
        linked += (" · " if linked else "") + f"<{page}|Open lead page>"
    if linked:
        lines.append(linked)
    head["text"]["text"] = fit_text("\n".join(lines))
    return [head, divider]


def lead_answer(
    title: str,
    leads: list[Lead],
    *,
    links: dict[int, str] | None = None,
    notes: dict[int, Any] | None = None,
    mentions: dict[str, str] | None = None,
    empty: str = "No lead matches.",
    today: date | None = None,
    pages: dict[int, str] | None = None,
) -> Message:
    blocks: list[Block] = [section(title)]
    if not leads:
        blocks.append(context(empty))
    for lead in leads:
        lead_id = lead.id or 0
        blocks.extend(
            found_blocks(
                lead,
                link=(links or {}).get(lead_id),
                note=(notes or {}).get(lead_id),
                mentions=mentions,
                today=today,
                page=(pages or {}).get(lead_id),
            )
        )
    return {"text": fit_text(title, FALLBACK_TEXT), "blocks": fit(blocks, MAX_BLOCKS_MESSAGE)}


@dataclass(frozen=True)
class Period:
    since: datetime | None  # None: all history
    label: str  # "the last 7 days", "this quarter", "all time"


def stats_report(
    funnel: dict[str, Any],
    *,
    period: Period,
    reps: list[dict[str, Any]],
    sources: list[dict[str, Any]],
) -> Message:
    """`/leads stats`: the period it covers, the leads per status now, what happened in the
    period (announced, claimed, won, lost; claim and win rate, time to claim), then a line per
    rep and per source."""
    since = f" (since {when(period.since)})" if period.since is not None else ""
    title = f"Lead funnel, {period.label}"
    counts = funnel.get("by_status") or {}
    now = " · ".join(f"{mrkdwn(str(k))} *{v}*" for k, v in counts.items())
    flow = (
        f"*{funnel.get('announced', 0)}* announced · *{funnel.get('claimed', 0)}* claimed · "
        f"*{funnel.get('won', 0)}* won · *{funnel.get('lost', 0)}* lost"
    )
    rates = [f"claim rate *{_percent(funnel.get('claim_rate'))}*"]
    rates.append(f"median time to claim *{_duration(funnel.get('median_seconds_to_claim'))}*")
    if funnel.get("win_rate") is not None:
        rates.append(f"win rate *{_percent(funnel['win_rate'])}*")
    head = f"*{title}*{since}\n*Now:* {now}\n*In the period:* {flow}\n{' · '.join(rates)}"
    rep_lines = "\n".join(_rep_line(r) for r in reps) or "Nobody claimed or closed a lead."
    source_lines = "\n".join(_source_line(s) for s in sources) or "Nothing was announced."
    blocks: list[Block] = [
        section(head),
        section(f"*By rep*\n{rep_lines}"),
        section(f"*By source* (where leads first came from)\n{source_lines}"),
    ]
    return {"text": fit_text(title, FALLBACK_TEXT), "blocks": blocks}


def _percent(rate: Any) -> str:
    return "n/a" if rate is None else f"{float(rate) * 100:.0f}%"


def _duration(seconds: Any) -> str:
    if seconds is None:
        return "n/a"
    s = float(seconds)
    if s >= 3600:
        return f"{s / 3600:.1f} h"
    return f"{s / 60:.0f} min" if s >= 60 else f"{s:.0f} s"


def _rep_line(row: dict[str, Any]) -> str:
    value = f" ({money(row['won_value'])})" if row.get("won_value") else ""
    return (
        f"• {user_mention(str(row['rep']))}: *{row['claimed']}* claimed · "
        f"*{row['won']}* won{value} · *{row['lost']}* lost"
    )


def _source_line(row: dict[str, Any]) -> str:
    return (
        f"• {safe(str(row['source']), 100)}: *{row['announced']}* announced · "
        f"*{row['claimed']}* claimed · *{row['won']}* won · *{row['lost']}* lost"
    )


# --- the digest of a burst -------------------------------------------------------------------

DIGEST_OVERHEAD = 3  # header, the explanation, the closing line
DIGEST_LEADS = MAX_BLOCKS_MESSAGE - DIGEST_OVERHEAD  # one section per lead


def digest_line(lead: Lead, *, ask: str = "", today: date | None = None) -> Block:
    """One lead of a digest: who, company, score and the ask; its Claim button while it waits,
    who has it once claimed."""
    head = f"*{safe(who(lead), 200)}*"
    if lead.company:
        head += f" · {safe(lead.company, 200)}"
    head += f" · score {lead.score:.0f}"
    lines = [head]
    if ask.strip():
        lines.append(f"_{safe(first_lines(ask, lines=1, chars=ASK_CHARS), ASK_CHARS * 2)}_")
    reasons = reasons_line(lead, today=today, top=1)  # one line a lead: a digest is scanned
    if reasons:
        lines[0] += f" · {reasons}"
    if lead.status != LeadStatus.ANNOUNCED:
        lines.append(_digest_state(lead))
    block: Block = {
        "type": "section",
        "block_id": f"digest:{lead.id}",
        "text": {"type": "mrkdwn", "text": fit_text("\n".join(lines))},
    }
    if lead.status == LeadStatus.ANNOUNCED:
        block["accessory"] = button("Claim", CLAIM, str(lead.id), style="primary")
    return block


def _digest_state(lead: Lead) -> str:
    match lead.status:
        case LeadStatus.CLAIMED:
            return f":raising_hand: Claimed by {user_mention(lead.owner)}: its card is below"
        case LeadStatus.WON | LeadStatus.LOST:
            return f":raising_hand: {mrkdwn(lead.status.capitalize())}, {user_mention(lead.owner)}"
        case _:
            return f"_{mrkdwn(str(lead.status).replace('_', ' '))}_"


def digest_message(
    leads: list[tuple[Lead, str]], *, minutes: float, burst: int, today: date | None = None
) -> Message:
    """Many hot leads at once as one message: a line and a Claim button per lead. A claimed
    lead gets a card of its own (Won, Lost, notes, its thread)."""
    count = len(leads)
    waiting = sum(lead.status == LeadStatus.ANNOUNCED for lead, _ in leads)
    blocks: list[Block] = [
        {"type": "header", "text": plain(f":fire: {count} more hot {_leads(count)}", 150)},
        context(
            f"More than {burst} hot leads in {minutes:g} min in this channel, so these come in "
            f"one message. *{waiting}* waiting for a rep: a claimed lead gets its own card."
        ),
    ]
    blocks.extend(digest_line(lead, ask=ask, today=today) for lead, ask in leads[:DIGEST_LEADS])
    blocks.append(context("Single cards again once the channel is quieter."))
    names = ", ".join(who(lead) for lead, _ in leads[:5])
    more = f" and {count - 5} more" if count > 5 else ""
    text = safe(f"{count} more hot {_leads(count)}: {names}{more}", FALLBACK_TEXT)
    return {"text": text, "blocks": fit(blocks, MAX_BLOCKS_MESSAGE)}


def _leads(count: int) -> str:
    return "lead" if count == 1 else "leads"
