"""The Log activity modal (a call, a meeting, a demo, with a note): pure Block Kit, no Slack calls."""

from __future__ import annotations

from typing import Any

from bot.slack.blocks import MAX_BLOCKS_VIEW, Block, fit, plain, who
from ingest.logged import NOTE_MAX, REP_KINDS
from storage.models import Lead

LOG_MODAL = "lead_log_activity_modal"
KIND_BLOCK, KIND_ACTION = "kind_block", "kind_input"
NOTE_BLOCK, NOTE_ACTION = "note_block", "note_input"


def _option(kind: str) -> dict[str, Any]:
    return {"text": plain(REP_KINDS[kind], 75), "value": kind}


def log_modal(lead: Lead, meta: str) -> dict[str, Any]:
    """What happened (call, meeting, demo) and a note; `meta` says which lead and where."""
    blocks: list[Block] = [
        # plain_text: a name or company can never format, ping or link here.
        {"type": "section", "text": plain(f"{who(lead)} · {lead.company or lead.email}", 3000)},
        {
            "type": "input",
            "block_id": KIND_BLOCK,
            "label": plain("What happened?", 2000),
            "element": {
                "type": "radio_buttons",
                "action_id": KIND_ACTION,
                "options": [_option(k) for k in REP_KINDS],
                "initial_option": _option("call"),
            },
        },
        {
            "type": "input",
            "block_id": NOTE_BLOCK,
            "optional": True,
            "label": plain("Note", 2000),
            "hint": plain(
                "What was said: it is scored like an inquiry (pricing, timeline…).", 2000
            ),
            "element": {
                "type": "plain_text_input",
                "action_id": NOTE_ACTION,
                "multiline": True,
                "max_length": NOTE_MAX,
            },
        },
    ]
    return {
        "type": "modal",
        "callback_id": LOG_MODAL,
        "title": plain("Log activity", 24),
        "submit": plain("Log it", 24),
        "close": plain("Cancel", 24),
        "private_metadata": meta,
        "blocks": fit(blocks, MAX_BLOCKS_VIEW),
    }


def submitted(view: dict[str, Any]) -> tuple[str | None, str]:
    """(kind, note) as submitted: the kind None unless it is one we offered."""
    values = view.get("state", {}).get("values", {})
    selected = (values.get(KIND_BLOCK, {}).get(KIND_ACTION) or {}).get("selected_option") or {}
    kind = selected.get("value") if isinstance(selected, dict) else None
    note = (values.get(NOTE_BLOCK, {}).get(NOTE_ACTION) or {}).get("value")
    return (kind if kind in REP_KINDS else None), str(note or "").strip()
