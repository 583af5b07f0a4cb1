"""Untrusted text made safe for Slack: mrkdwn escaping and truncation to Block Kit limits."""

from __future__ import annotations

import re

# Slack's own rule: in mrkdwn exactly these three are control characters; escaping them makes
# `<!channel>`, `<@U123>` and `<http://evil|bank>` plain text.
_MRKDWN = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
# Invisible characters that can disguise text: bidi overrides and isolates (U+202E turns
# "moc.evil" into "live.com"), zero-width spaces and joiners, BOM, and C0/C1 controls other than
# newline and tab. They are dropped from outside text before it reaches any Slack surface.
_INVISIBLE = dict.fromkeys(
    [
        *range(0x00, 0x09), 0x0B, 0x0C, *range(0x0D, 0x20), *range(0x7F, 0xA0),
        0x061C, 0x180E, *range(0x200B, 0x2010), *range(0x202A, 0x202F),
        *range(0x2060, 0x2070), 0xFEFF, *range(0xFFF9, 0xFFFC),
    ]
)  # fmt: skip
_PARTIAL_ENTITY = re.compile(r"&[a-z]{0,3}$")
_USER_ID = re.compile(r"^[UW][A-Z0-9]{1,30}$")
_GROUP_ID = re.compile(r"^S[A-Z0-9]{1,30}$")
ELLIPSIS = "…"


def mrkdwn(text: str | None) -> str:
    """Escape `&`, `<`, `>` (and nothing else) so outside text can never ping or disguise a link."""
    return visible(text).translate(_MRKDWN)


def visible(text: str | None) -> str:
    """`text` without the invisible characters that could reorder or hide what it shows."""
    return (text or "").translate(_INVISIBLE)


def clip(text: str, limit: int) -> str:
    """At most `limit` characters, an ellipsis marking the cut."""
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)].rstrip() + ELLIPSIS


def clip_mrkdwn(escaped: str, limit: int) -> str:
    """Clip already-escaped mrkdwn without leaving half an entity (`&am…`) behind."""
    if len(escaped) <= limit:
        return escaped
    cut = escaped[: max(limit - 1, 0)]
    cut = _PARTIAL_ENTITY.sub("", cut)
    return cut.rstrip() + ELLIPSIS


def safe(text: str | None, limit: int) -> str:
    """Escape then clip: the usual treatment for a lead-provided string inside mrkdwn."""
    return clip_mrkdwn(mrkdwn(text), limit)


def quote(text: str, limit: int) -> str:
    """A block quote of untrusted text, escaped and clipped."""
    lines = [line.rstrip() for line in text.strip().splitlines()]
    body = "\n".join(
        "&gt; " + mrkdwn(line) if line else "&gt;" for line in lines if line is not None
    )
    return clip_mrkdwn(body, limit)


def is_user_id(value: str | None) -> bool:
    """A Slack user ID (`U…`, `W…` on Enterprise Grid), not a CLI actor or an address."""
    return bool(value) and _USER_ID.fullmatch(value or "") is not None


def user_mention(user: str | None) -> str:
    """`<@U…>` for a real Slack user ID; anything else (a CLI actor, an email) as escaped text."""
    if not user:
        return "nobody"
    if _USER_ID.fullmatch(user):
        return f"<@{user}>"
    return mrkdwn(user)


def group_mention(target: str) -> str:
    if _GROUP_ID.fullmatch(target):
        return f"<!subteam^{target}>"
    return user_mention(target)
