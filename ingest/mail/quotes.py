"""Separating what the sender wrote from the conversation it quotes (replies and their headers)."""

from __future__ import annotations

import re

from ingest.mail.labels import (
    ATTRIBUTION,
    ATTRIBUTION_START,
    FORWARD_INTRO,
    FORWARD_SEPARATOR,
    HEADER_LINE,
    RULE,
    canonical,
)

_BLANKS = re.compile(r"\n{3,}")


def strip_quotes(text: str) -> str:
    """The new text of a reply: cut at the first quote header, `>` lines dropped.

    A bottom-posted reply (attribution and `>` quote first, the answer below) would be cut to
    nothing, so then the unquoted lines after the attribution are the new text.
    """
    lines = text.split("\n")
    cut = _quote_start(lines)
    kept = _unquoted(lines[:cut])
    if not kept.strip() and cut < len(lines) and _is_attribution(lines, cut):
        kept = _unquoted(lines[cut + 1 :])
    return kept


def _unquoted(lines: list[str]) -> str:
    kept = [line for line in lines if not line.lstrip().startswith(">")]
    return _BLANKS.sub("\n\n", "\n".join(kept)).strip()


def _is_attribution(lines: list[str], i: int) -> bool:
    # Only a ">"-quoted reply can be bottom-posted; below a forward header is the original.
    quoted = [x for x in lines[i + 1 : i + 40] if x.strip()]
    return (
        bool(quoted)
        and quoted[0].lstrip().startswith(">")
        and ATTRIBUTION.match(lines[i]) is not None
    )


def _quote_start(lines: list[str]) -> int:
    for i, line in enumerate(lines):
        if ATTRIBUTION.match(line) or FORWARD_SEPARATOR.match(line) or FORWARD_INTRO.match(line):
            return i
        # Gmail wraps a long attribution: "On Mon, … Jane Doe <" / "jane@acme.com> wrote:".
        joined = line + " " + lines[i + 1].strip() if i + 1 < len(lines) else ""
        if ATTRIBUTION_START.match(line) and ATTRIBUTION.match(joined):
            return i
        if RULE.match(line) and _outlook_block(lines, i + 1):
            return i
        if _outlook_block(lines, i):
            return i
    return len(lines)


def _outlook_block(lines: list[str], start: int) -> bool:
    """True when an Outlook From / Sent (or Date) header block starts at `start`."""
    seen: set[str] = set()
    for line in lines[start : start + 8]:
        if not line.strip():
            continue
        match = HEADER_LINE.match(line)
        if not match:
            break
        seen.add(canonical(match.group("label")))
    return "from" in seen and "date" in seen and len(seen) >= 3
