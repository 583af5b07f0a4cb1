"""Modals and the App Home tab: pure functions returning Slack view payloads."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from bot.slack.blocks import (
    MAX_BLOCKS_VIEW,
    Block,
    context,
    fit,
    plain,
    section,
    summary_blocks,
    who,
)
from storage.models import Lead

# callback_id of each modal; private_metadata carries the lead and where the card is.
NOTE_MODAL, NURTURE_MODAL, LOST_MODAL = "lead_note_modal", "lead_nurture_modal", "lead_lost_modal"
INPUT_BLOCK, INPUT_ACTION = "text_block", "text_input"
TITLE_TEXT = 24  # modal titles
NOTE_MAX = 3000
REASON_MAX = 500


def metadata(*, lead_id: int, channel: str | None, user: str) -> str:
    return json.dumps({"lead_id": lead_id, "channel": channel, "user": user})


def read_metadata(raw: str | None) -> dict[str, Any]:
    try:
        data = json.loads(raw or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _modal(
    callback_id: str, title: str, submit: str, meta: str, blocks: list[Block]
) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": callback_id,
        "title": plain(title, TITLE_TEXT),
        "submit": plain(submit, TITLE_TEXT),
        "close": plain("Cancel", TITLE_TEXT),
        "private_metadata": meta,
        "blocks": fit(blocks, MAX_BLOCKS_VIEW),
    }


def _text_input(label: str, *, max_length: int, multiline: bool, optional: bool = False) -> Block:
    return {
        "type": "input",
        "block_id": INPUT_BLOCK,
        "optional": optional,
        "label": plain(label, 2000),
        "element": {
            "type": "plain_text_input",
            "action_id": INPUT_ACTION,
            "multiline": multiline,
            "max_length": max_length,
        },
    }


def _about(lead: Lead) -> Block:
    # plain_text: a name or company can never format, ping or link here.
    return {"type": "section", "text": plain(f"{who(lead)} · {lead.company or lead.email}", 3000)}


def note_modal(lead: Lead, meta: str) -> dict[str, Any]:
    return _modal(
        NOTE_MODAL,
        "Add note",
        "Save",
        meta,
        [_about(lead), _text_input("Note", max_length=NOTE_MAX, multiline=True)],
    )


def nurture_modal(lead: Lead, meta: str) -> dict[str, Any]:
    return _modal(
        NURTURE_MODAL,
        "Back to nurturing",
        "Send back",
        meta,
        [_about(lead), _text_input("Why is it not ready?", max_length=REASON_MAX, multiline=True)],
    )


def lost_modal(lead: Lead, meta: str) -> dict[str, Any]:
    return _modal(
        LOST_MODAL,
        "Lost",
        "Mark lost",
        meta,
        [_about(lead), _text_input("Why was it lost?", max_length=REASON_MAX, multiline=True)],
    )


def submitted_text(view: dict[str, Any]) -> str:
    values = view.get("state", {}).get("values", {})
    value = values.get(INPUT_BLOCK, {}).get(INPUT_ACTION, {}).get("value")
    return str(value or "").strip()


def home_view(
    *,
    mine: list[Lead],
    unclaimed: list[Lead],
    now: datetime | None = None,
    attention: list[Block] | None = None,
) -> dict[str, Any]:
    """The App Home tab: for managers what needs attention first, then my claimed leads, then
    the unclaimed hot ones."""
    blocks: list[Block] = [
        *(attention or []),
        {"type": "header", "text": plain("My claimed leads", 150)},
    ]
    if not mine:
        blocks.append(context("You have no claimed leads."))
    for lead in mine[:20]:
        blocks.extend(summary_blocks(lead, now=now))
    blocks.append({"type": "header", "text": plain("Unclaimed hot leads", 150)})
    if not unclaimed:
        blocks.append(context("Nothing is waiting for a rep."))
    for lead in unclaimed[:25]:
        blocks.extend(summary_blocks(lead, now=now))
    blocks.append(
        section(
            "Use `/lead &lt;name|email|company&gt;` to look anyone up, `/leads stats` for the funnel."
        )
    )
    return {"type": "home", "blocks": fit(blocks, MAX_BLOCKS_VIEW)}
