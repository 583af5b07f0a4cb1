"""Header blocks inside a body: `Label: value` lines in any language, and whether one has the
shape of a forwarded message's header (a sender, a date, labels or a separator as evidence)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ingest.mail.addresses import ADDRESS_TOKEN
from ingest.mail.labels import (
    ANY_INTRO,
    ANY_SEPARATOR,
    DATE_LIKE,
    FORWARD_INTRO,
    FORWARD_SEPARATOR,
    RULE,
    any_header,
    known,
    known_label,
    split_run_together,
    unquote,
)

_INVISIBLE = re.compile("[\ufeff\u200b\u200c\u200d\u200e\u200f\u2060\r]")
EXPLICIT = "explicit"  # a separator or intro we know, or Outlook's rule
SHAPED = "shaped"  # a line of dashes around words, or a short sentence ending in a colon


@dataclass(frozen=True)
class Field:
    """One `Label: value` line of a header block."""

    key: str | None  # the canonical header when the label is one we know
    label: str
    value: str


def body_lines(text: str) -> list[str]:
    """The body's lines, without byte-order marks and zero-width marks (Outlook starts quoted
    text with one) and with run-together header blocks split back into lines."""
    text = _INVISIBLE.sub("", text).replace("\xa0", " ")
    lines = text.split("\n")
    if "@" not in text:
        return lines
    return [p for line in lines for p in (split_run_together(line) if "@" in line else (line,))]


def announces(line: str) -> bool:
    """A separator or intro that says in words a forward follows (not Outlook's bare rule)."""
    return bool(FORWARD_SEPARATOR.match(line) or FORWARD_INTRO.match(line))


def skip_blank(lines: list[str], start: int) -> int:
    """The first non-blank line from `start`, looking at most four lines ahead."""
    j = start
    while j < len(lines) and j - start < 4 and not unquote(lines[j]).strip():
        j += 1  # Gmail and Apple Mail leave blank lines below the separator
    return j


def could_mark(line: str) -> bool:
    """A cheap test first: only a line with a colon, a rule or an intro can start a block."""
    if ":" in line or "\uff1a" in line:
        return True
    stripped = line.lstrip(" \t>")
    return bool(stripped) and (stripped[0] in "-_=*" or FORWARD_INTRO.match(line) is not None)


def marker(line: str) -> str | None:
    """EXPLICIT or SHAPED when the line announces a header block below it, else None."""
    if announces(line) or RULE.match(line):
        return EXPLICIT
    if ANY_SEPARATOR.match(line) or (ANY_INTRO.match(line) and known_label(line) is None):
        return SHAPED
    return None


def header_block(lines: list[str], start: int) -> tuple[list[Field], int]:
    """The `Label: value` lines from `start` (after up to four blank lines); returns them and the
    index of the first line of the original's body."""
    fields: list[Field] = []
    seen: set[str] = set()
    j = skip_blank(lines, start)
    while j < len(lines) and len(fields) < _BLOCK_LIMIT:
        line = unquote(lines[j])
        header = any_header(line)
        if header is not None:
            label, value = header
            key = known(label)
            name = key or label.lower()
            if name in seen:
                break  # a second From: the next, nested forward starts here
            seen.add(name)
            j += 1
            if not value.strip() and j < len(lines) and _value_below(unquote(lines[j])):
                # An HTML table: the label in one cell, the value in the next.
                value = unquote(lines[j])
                j += 1
            fields.append(Field(key, label, value.strip()))
            continue
        if not line.strip() and fields:
            # Outlook's HTML puts each header in its own paragraph: blank lines between them.
            k = j
            while k < len(lines) and k - j < 3 and not unquote(lines[k]).strip():
                k += 1
            nxt = any_header(unquote(lines[k])) if k < len(lines) else None
            if nxt is not None and _continues(nxt[0], seen, len(fields)):
                j = k
                continue
            break
        if fields and line.strip() and _wrapped(fields[-1], line, lines, j):
            j += 1
            continue
        break
    return fields, j


_BARE_BLOCK = 4  # fields of a block with neither a label we know nor a separator above
_BLOCK_LIMIT = 12  # a header block is short; a form or a table of twelve fields is not one


def _value_below(line: str) -> bool:
    return bool(line.strip()) and any_header(line) is None and marker(line) is None


def _continues(label: str, seen: set[str], count: int) -> bool:
    """Past a blank line, a new header of a label we know (or an early one) is still the block."""
    key = known(label)
    return (key or label.lower()) not in seen and (key is not None or count < 3)


def _wrapped(last: Field, line: str, lines: list[str], j: int) -> bool:
    """A header's value wrapped onto the next line: a long To/Cc list, or a long subject."""
    if last.key in ("to", "cc") and ("@" in line or ";" in line):
        return True
    return j + 1 < len(lines) and any_header(unquote(lines[j + 1])) is not None


def sender_field(fields: list[Field]) -> Field | None:
    """The block's From: the field under a From label we know, or else its first address-bearing
    field, unless that one's label is one we know as something else (To, Cc, Reply-To)."""
    for f in fields:
        if f.key == "from":
            return f
    for f in fields:
        if ADDRESS_TOKEN.search(f.value):
            return f if f.key is None else None
    return None


def believable(fields: list[Field], sender: Field, *, above: str | None) -> bool:
    """True when the block has the shape of a forwarded header, not of body text with colons;
    `above` is what marks the line above it (EXPLICIT, SHAPED or None)."""
    known_count = sum(f.key is not None for f in fields)
    dated = any(f.key == "date" or (f is not sender and DATE_LIKE.search(f.value)) for f in fields)
    if sender.key == "from":
        if above == EXPLICIT:
            return True
        return len(fields) >= (2 if above else 3) and (dated or above is not None)
    if "@" not in sender.value or len(fields) < 3 or not dated:
        return False
    if above is not None or known_count >= 2:
        return True
    # No label we know and nothing above it (new Outlook in another language): the full shape
    # of a header block, the sender first, a recipient with an address, a date, a subject.
    addressed = sum(bool(ADDRESS_TOKEN.search(f.value)) for f in fields)
    return len(fields) >= _BARE_BLOCK and fields[0] is sender and addressed >= 2
