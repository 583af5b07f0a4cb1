"""Modals and the App Home tab: pure functions returning Slack view payloads."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.slack.blocks import (
    MAX_BLOCKS_VIEW,
    SECTION_TEXT,
    Ask,
    Block,
    context,
    fit,
    money,
    plain,
    section,
    summary_blocks,
    who,
)
from bot.slack.escape import quote, safe, user_mention, visible
from storage.leads import PROFILE_FIELDS
from storage.models import Lead

# callback_id of each modal; private_metadata carries the lead and where the card is.
NOTE_MODAL, NURTURE_MODAL, LOST_MODAL = "lead_note_modal", "lead_nurture_modal", "lead_lost_modal"
WON_MODAL, DISQUALIFY_MODAL = "lead_won_modal", "lead_disqualify_modal"
REASSIGN_MODAL, EDIT_MODAL, DETAILS_MODAL = (
    "lead_reassign_modal",
    "lead_edit_modal",
    "lead_details_modal",
)
INPUT_BLOCK, INPUT_ACTION = "text_block", "text_input"
# Further inputs: block_id and action_id of each.
REASON_BLOCK, REASON_ACTION = "reason_block", "reason_select"
VALUE_BLOCK, VALUE_ACTION = "value_block", "value_input"
USER_BLOCK, USER_ACTION = "user_block", "user_select"
FIELD_ACTION = "field_input"  # the Edit modal: one block per field, block_id "field_<name>"
FIELD_LIMITS = {"name": 200, "company": 200, "title": 200, "phone": 40, "country": 2}
FIELD_LABELS = {
    "name": "Name",
    "company": "Company",
    "title": "Title",
    "phone": "Phone",
    "country": "Country (two-letter code, e.g. DE)",
}
DEFAULT_REASONS = ("other",)
DETAILS_TEXT = 12_000  # the full text in the Details modal, in sections of SECTION_TEXT
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


def _text_input(
    label: str,
    *,
    max_length: int,
    multiline: bool,
    optional: bool = False,
    block_id: str = INPUT_BLOCK,
    action_id: str = INPUT_ACTION,
    initial: str | None = None,
) -> Block:
    element: Block = {
        "type": "plain_text_input",
        "action_id": action_id,
        "multiline": multiline,
        "max_length": max_length,
    }
    shown = editable(initial)[:max_length]
    if shown:
        # Outside text as typed (an input shows it literally, never as mrkdwn), but without the
        # invisible characters that could disguise it.
        element["initial_value"] = shown
    return {
        "type": "input",
        "block_id": block_id,
        "optional": optional,
        "label": plain(label, 2000),
        "element": element,
    }


def editable(value: str | None) -> str:
    """A field as the Edit modal shows it, and as an unchanged field comes back."""
    return " ".join(visible(value).split())


def _option(text: str) -> Block:
    return {"text": plain(text, 75), "value": text[:150]}


def _reason_select(label: str, reasons: Sequence[str]) -> Block:
    return {
        "type": "input",
        "block_id": REASON_BLOCK,
        "label": plain(label, 2000),
        "element": {
            "type": "static_select",
            "action_id": REASON_ACTION,
            "placeholder": plain("Pick one", 150),
            "options": [_option(r) for r in list(reasons)[:100]],
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


def _more_words(label: str) -> Block:
    return _text_input(label, max_length=REASON_MAX, multiline=True, optional=True)


def lost_modal(
    lead: Lead, meta: str, *, reasons: Sequence[str] = DEFAULT_REASONS
) -> dict[str, Any]:
    return _modal(
        LOST_MODAL,
        "Lost",
        "Mark lost",
        meta,
        [
            _about(lead),
            _reason_select("Why was it lost?", reasons),
            _more_words("In a few words (needed for “other”)"),
        ],
    )


def disqualify_modal(
    lead: Lead, meta: str, *, reasons: Sequence[str] = DEFAULT_REASONS
) -> dict[str, Any]:
    return _modal(
        DISQUALIFY_MODAL,
        "Disqualify",
        "Disqualify",
        meta,
        [
            _about(lead),
            _reason_select("Why is it not a lead?", reasons),
            _more_words("In a few words (needed for “other”)"),
        ],
    )


def won_modal(lead: Lead, meta: str) -> dict[str, Any]:
    """Won is a confirmation step: the deal's value may be given, and a note."""
    value: Block = {
        "type": "input",
        "block_id": VALUE_BLOCK,
        "optional": True,
        "label": plain("Deal value", 2000),
        "element": {
            "type": "number_input",
            "action_id": VALUE_ACTION,
            "is_decimal_allowed": True,
            "min_value": "0",
        },
    }
    return _modal(WON_MODAL, "Won", "Mark won", meta, [_about(lead), value, _more_words("Note")])


def reassign_modal(lead: Lead, meta: str) -> dict[str, Any]:
    picker: Block = {
        "type": "input",
        "block_id": USER_BLOCK,
        "label": plain("Give it to", 2000),
        "element": {
            "type": "users_select",
            "action_id": USER_ACTION,
            "placeholder": plain("Pick a rep", 150),
        },
    }
    owner = f"Owner now: {user_mention(lead.owner)}" if lead.owner else "Nobody has claimed it yet."
    return _modal(
        REASSIGN_MODAL,
        "Reassign",
        "Reassign",
        meta,
        [_about(lead), context(owner), picker, _more_words("A word for them")],
    )


def edit_modal(lead: Lead, meta: str) -> dict[str, Any]:
    """The profile fields as they are; what is changed is kept, never refilled by later mail."""
    inputs = [
        _text_input(
            FIELD_LABELS[name],
            max_length=FIELD_LIMITS[name],
            multiline=False,
            optional=True,
            block_id=f"field_{name}",
            action_id=FIELD_ACTION,
            initial=getattr(lead, name),
        )
        for name in PROFILE_FIELDS
    ]
    note = context("Fields you change here stay as you set them, whatever later mail says.")
    return _modal(EDIT_MODAL, "Edit details", "Save", meta, [_about(lead), *inputs, note])


def details_modal(lead: Lead, ask: Ask | None, *, rep: str | None = None) -> dict[str, Any]:
    """Everything the card leaves out: every field, the forward note and the full text."""
    facts = [
        ("Email", safe(lead.email, 320)),
        ("Name", safe(lead.name, 200)),
        ("Title", safe(lead.title, 200)),
        ("Company", safe(lead.company, 200)),
        ("Phone", safe(lead.phone, 40)),
        ("Country", safe(lead.country, 10)),
        ("First came via", safe(lead.source, 100)),
        ("Latest via", safe(lead.latest_source, 100)),
        ("Product", safe(lead.product, 100)),
        ("Forwarded by", user_mention(rep) if rep else safe(lead.forwarded_by, 320)),
        ("Deal value", money(lead.deal_value)),
    ]
    lines = [f"*{label}:* {value}" for label, value in facts if value]
    if lead.edited_fields:
        lines.append(f"_Edited by hand: {safe(', '.join(lead.edited_fields), 200)}_")
    blocks: list[Block] = [section("\n".join(lines))]
    if ask is not None and ask.note.strip():
        blocks.append(section("*Forward note*\n" + quote(ask.note, SECTION_TEXT - 20)))
    if ask is not None and ask.subject.strip():
        blocks.append(section(f"*{safe(ask.subject, 300)}*"))
    text = (ask.text if ask is not None else "")[:DETAILS_TEXT]
    for start in range(0, len(text), SECTION_TEXT // 2):
        blocks.append(section(quote(text[start : start + SECTION_TEXT // 2], SECTION_TEXT)))
    return {
        "type": "modal",
        "callback_id": DETAILS_MODAL,
        "title": plain(who(lead), TITLE_TEXT),
        "close": plain("Close", TITLE_TEXT),
        "blocks": fit(blocks, MAX_BLOCKS_VIEW),
    }


def _values(view: dict[str, Any]) -> dict[str, Any]:
    values = (view.get("state") or {}).get("values") or {}
    return values if isinstance(values, dict) else {}


def _state_of(view: dict[str, Any], block: str, action: str) -> dict[str, Any]:
    state = (_values(view).get(block) or {}).get(action) or {}
    return state if isinstance(state, dict) else {}


def submitted_text(
    view: dict[str, Any], block: str = INPUT_BLOCK, action: str = INPUT_ACTION
) -> str:
    value = _state_of(view, block, action).get("value")
    return str(value or "").strip() if isinstance(value, str | int | float) else ""


def submitted_choice(view: dict[str, Any]) -> str:
    option = _state_of(view, REASON_BLOCK, REASON_ACTION).get("selected_option") or {}
    value = option.get("value") if isinstance(option, dict) else None
    return str(value).strip() if isinstance(value, str) else ""


def submitted_user(view: dict[str, Any]) -> str:
    user = _state_of(view, USER_BLOCK, USER_ACTION).get("selected_user")
    return user.strip() if isinstance(user, str) else ""


def submitted_fields(view: dict[str, Any]) -> dict[str, str]:
    """The Edit modal's fields as submitted (an empty field: "")."""
    return {
        name: submitted_text(view, f"field_{name}", FIELD_ACTION)
        for name in PROFILE_FIELDS
        if f"field_{name}" in _values(view)
    }


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
