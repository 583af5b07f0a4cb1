"""Separating what the sender wrote from the conversation it quotes (replies and their headers)."""

from __future__ import annotations

from ingest.mail.labels import (
    ATTRIBUTION,
    ATTRIBUTION_START,
    FORWARD_INTRO,
    FORWARD_SEPARATOR,
    HEADER_LINE,
    RULE,
    canonical,
)


def strip_quotes(text: str) -> str:
    """The new text of a reply: cut at the first quote header, `>` lines dropped."""
    lines = text.split("\n")
    cut = _quote_start(lines)
    kept = [line for line in lines[:cut] if not line.lstrip().startswith(">")]
    return "\n".join(kept).strip()


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
