"""What waits for a person, rendered for Slack: the review DM, its modal, App Home's section.

Pure functions from `bot.review.Kept` / `storage.raw.Attention` to Block Kit payloads. Every
outside string (subject, From, reason) is escaped: they come from whoever sent the mail.
"""

from __future__ import annotations

import json
from typing import Any

from bot.review import Kept
from bot.slack.blocks import (
    FALLBACK_TEXT,
    MAX_BLOCKS_MESSAGE,
    MAX_BLOCKS_VIEW,
    Block,
    Message,
    button,
    context,
    fit,
    plain,
    section,
)
from bot.slack.escape import safe
from storage.raw import Attention

NAME_SENDER = "review_name_sender"  # the button on a review DM and in App Home
REVIEW_MODAL = "review_sender_modal"
EMAIL_BLOCK, EMAIL_ACTION = "review_email_block", "review_email"
NAME_BLOCK, NAME_ACTION = "review_name_block", "review_name"
SUBJECT_TEXT = 200
EMAIL_MAX = 254  # RFC 5321's path limit
NAME_MAX = 200


def _subject(kept: Kept) -> str:
    return kept.subject or "(no subject)"


def review_message(kept: Kept, *, to_rep: bool) -> Message:
    """The DM: to the rep who forwarded it, or to a manager when there is no such rep."""
    subject = safe(_subject(kept), SUBJECT_TEXT)
    if kept.status == "failed":
        head = f"I could not read a message: *{subject}*"
    elif to_rep:
        head = f"I could not find who sent the message you forwarded: *{subject}*"
    else:
        head = f"I could not find who sent a forwarded message: *{subject}*"
    facts = [f"Input #{kept.id}"]
    if kept.sender and not to_rep:
        facts.append(f"from {safe(kept.sender, 200)}")
    if kept.reason:
        facts.append(safe(kept.reason, 500))
    blocks: list[Block] = [
        section(head),
        context(" · ".join(facts)),
        {
            "type": "actions",
            "block_id": f"review:{kept.id}",
            "elements": [button("Name the sender", NAME_SENDER, str(kept.id), style="primary")],
        },
    ]
    fallback = head.replace("*", "")[:FALLBACK_TEXT]
    return {"text": fallback, "blocks": fit(blocks, MAX_BLOCKS_MESSAGE)}


def resolved_message(kept_id: int, *, subject: str | None, email: str, lead_id: int) -> Message:
    """What the DM becomes once somebody named the sender: no button left to press twice."""
    text = (
        f"Thanks: *{safe(subject or '(no subject)', SUBJECT_TEXT)}* is now lead #{lead_id}"
        f" ({safe(email, EMAIL_MAX)})."
    )
    return {"text": text.replace("*", ""), "blocks": [section(text), context(f"Input #{kept_id}")]}


def metadata(*, raw_id: int, channel: str | None, ts: str | None) -> str:
    return json.dumps({"raw_id": raw_id, "channel": channel, "ts": ts})


def review_modal(kept: Kept, meta: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": REVIEW_MODAL,
        "title": plain("Who sent it?", 24),
        "submit": plain("Make the lead", 24),
        "close": plain("Cancel", 24),
        "private_metadata": meta,
        "blocks": [
            {"type": "section", "text": plain(f"{_subject(kept)} · input #{kept.id}", 3000)},
            {
                "type": "input",
                "block_id": EMAIL_BLOCK,
                "label": plain("The sender's email address", 2000),
                "element": {"type": "email_text_input", "action_id": EMAIL_ACTION},
            },
            {
                "type": "input",
                "block_id": NAME_BLOCK,
                "optional": True,
                "label": plain("Their name", 2000),
                "element": {
                    "type": "plain_text_input",
                    "action_id": NAME_ACTION,
                    "max_length": NAME_MAX,
                },
            },
        ],
    }


def submitted(view: dict[str, Any]) -> tuple[str, str]:
    """The (email, name) typed into the review modal, stripped."""
    values = view.get("state", {}).get("values", {})

    def value(block: str, action: str) -> str:
        return str((values.get(block, {}).get(action) or {}).get("value") or "").strip()

    return value(EMAIL_BLOCK, EMAIL_ACTION), value(NAME_BLOCK, NAME_ACTION)


def attention_blocks(attention: Attention, kept: list[Kept]) -> list[Block]:
    """App Home's "Needs attention" section, for managers: counts, then the oldest waiting."""
    blocks: list[Block] = [{"type": "header", "text": plain("Needs attention", 150)}]
    if not (attention.review or attention.failed or attention.dead):
        return [*blocks, context("Nothing waits for a person.")]
    counts = [
        f"*{attention.review}* forwarded without a sender",
        f"*{attention.failed}* could not be read",
        f"*{attention.dead}* Slack messages not delivered",
    ]
    blocks.append(section(" · ".join(counts)))
    for item in kept:
        line = f"#{item.id} {safe(_subject(item), SUBJECT_TEXT)}"
        if item.sender:
            line += f" — from {safe(item.sender, 200)}"
        block = section(f"{line}\n{safe(item.reason or item.status, 300)}")
        block["accessory"] = button("Name the sender", NAME_SENDER, str(item.id))
        blocks.append(block)
    blocks.append(
        context(
            "On the server: `leadbot review list`, `leadbot review dismiss ID --reason TEXT`,"
            " `leadbot outbox list --dead`, `leadbot outbox retry --dead`."
        )
    )
    return fit(blocks, MAX_BLOCKS_VIEW)
