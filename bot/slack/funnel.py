"""The funnel part of `/leads stats`: the leads that came in during the period, stage by stage,
how fast they were touched, what was won and why the rest was lost, optionally per source,
campaign, rep or product. Pure: storage.stats.report() in, Block Kit out, outside text escaped."""

from __future__ import annotations

from typing import Any

from bot.funnel import LEG_LABELS, NONE_LABEL, duration, percent
from bot.slack.blocks import Block, fit_text, money, section
from bot.slack.escape import safe, user_mention
from storage.stats import SPEED

LABELS = {"source": "source", "campaign": "campaign", "rep": "rep", "product": "product"}
REASONS_SHOWN = 5


def funnel_blocks(report: dict[str, Any], *, period: str) -> list[Block]:
    """The cohort's funnel, its speed and losses; then a line per group when `report` has a
    breakdown (`by`)."""
    total = report["total"]
    lines = [f"*Leads that came in, {safe(period, 60)}:* {_stages(total)}"]
    won = f"win rate *{percent(total['win_rate'])}*"
    if total["won_value"]:
        won += f" · won *{money(total['won_value'])}*"
    lines.append(won)
    speed = " · ".join(
        f"{LEG_LABELS[leg]} *{duration(total['speed'][leg]['median'])}*"
        f" / *{duration(total['speed'][leg]['p90'])}*"
        for leg in SPEED
    )
    lines.append(f"*Time to first touch* (median / p90): {speed}")
    if total["lost_reasons"]:
        lines.append(f"*Lost because:* {_reasons(total['lost_reasons'])}")
    blocks: list[Block] = [section(fit_text("\n".join(lines)))]
    by = report.get("by")
    if by:
        rows = [_group_line(by, g) for g in report["groups"]] or ["No lead came in."]
        blocks.append(
            section(fit_text(f"*By {LABELS[by]}* (leads that came in)\n" + "\n".join(rows)))
        )
    return blocks


def _stages(g: dict[str, Any]) -> str:
    s, c = g["stages"], g["conversion"]
    return (
        f"*{s['created']}* → *{s['announced']}* announced ({percent(c['announced'])})"
        f" → *{s['claimed']}* claimed ({percent(c['claimed'])})"
        f" → *{s['won']}* won ({percent(c['won'])}) · *{g['lost']}* lost"
    )


def _reasons(reasons: dict[str, int]) -> str:
    items = list(reasons.items())
    text = " · ".join(f"{safe(k, 80)} *{n}*" for k, n in items[:REASONS_SHOWN])
    if len(items) > REASONS_SHOWN:
        text += f" · {len(items) - REASONS_SHOWN} more"
    return text


def _key(by: str, key: Any) -> str:
    if key is None or key == "":
        return "nobody" if by == "rep" else NONE_LABEL
    return user_mention(str(key)) if by == "rep" else safe(str(key), 100)


def _group_line(by: str, g: dict[str, Any]) -> str:
    value = f" ({money(g['won_value'])})" if g["won_value"] else ""
    line = f"• {_key(by, g['key'])}: {_stages(g)}{value}"
    claim = g["speed"]["to_claim"]["median"]
    if claim is not None:
        line += f" · claimed in *{duration(claim)}* (median)"
    if g["lost_reasons"]:
        line += f" · lost: {_reasons(g['lost_reasons'])}"
    return line
