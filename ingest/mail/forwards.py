"""Finding the original message inside a forward: Gmail, Outlook (localised), Apple, Thunderbird."""

from __future__ import annotations

import re
import textwrap
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from ingest.mail.addresses import ADDRESS_TOKEN, display_name
from ingest.mail.labels import (
    ANY_INTRO,
    ANY_SEPARATOR,
    ATTRIBUTION,
    ATTRIBUTION_START,
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

_FORWARD_PREFIX = re.compile(
    r"^\s*((fwd?|wg|tr|rv|i|enc|doorst|vl|vb|vs|videresend|redir\.?|reenc|prsn|továbbítás|pd|fs|ilt|İlt|πρθ|προωθ|пересл|转发|轉寄|轉發|転送|전달|"
    r"הועבר|إعادة توجيه)\s*[:\uff1a]\s*|\[fwd?:?\s*|\(fwd\)\s*)+",
    re.IGNORECASE,
)
_MAILTO = re.compile(r"mailto:\s*([^\s\]\[<>()\"',;]+@[^\s\]\[<>()\"',;]+)", re.IGNORECASE)
_ANGLE = re.compile(r"<\s*([^<>\s]+@[^<>\s]+?)\s*>")
_BRACKET = re.compile(r"\[\s*([^\[\]\s:]+@[^\[\]\s]+?)\s*\]")
_HEADER_SCAN_LIMIT = 3000  # lines searched for a marker; a forward header sits near the top


@dataclass(frozen=True)
class Forward:
    """What a forward says about the original message; email is None when no address is given."""

    note: str  # the forwarder's own words above the forwarded block
    email: str | None  # the original sender's address as written, not yet validated
    name: str | None
    subject: str | None
    body: str  # the original message's text


def strip_forward_prefixes(subject: str | None) -> str | None:
    """`Fwd: WG: I: Ordine` -> `Ordine`."""
    if subject is None:
        return None
    return _FORWARD_PREFIX.sub("", subject).strip() or None


def is_forward_subject(subject: str | None) -> bool:
    """True when the subject says the message is a forward (Fwd:, WG:, TR:, RV:, I:, …)."""
    return bool(subject and _FORWARD_PREFIX.match(subject))


@lru_cache(maxsize=4)  # the form reader and the forward reader both ask about the same body
def find_forward(text: str) -> Forward | None:
    """The first forwarded message in a body, or None when the body holds no forward.

    A forward is found by its structure, in any language: a short block of `Label: value` lines
    (one per line, run together on one line, `>`-quoted or indented) whose first address-bearing
    line is the sender, with a date among the others. Labels we know are evidence: a From label
    we know, a separator or an intro line above, or other labels we know make a block
    believable; a block whose first address sits under a To or Cc label we know is not one.
    """
    lines = _lines(text)
    for i, line in enumerate(lines[:_HEADER_SCAN_LIMIT]):
        marker = _marker(line)
        if marker:
            fields, end = _block(lines, i + 1)
            sender = _sender(fields)
            if sender is not None and _believable(fields, sender, marker=marker):
                return _forward(lines, i, fields, sender, end)
            if not fields and (_announces(line) or ANY_SEPARATOR.match(line)):
                # Yandex, Proton: `-------- Original Message --------` above an attribution.
                k = _skip_blank(lines, i + 1)
                joined, skip = _attribution(lines, k) if k < len(lines) else (None, 0)
                found = _attributed(lines, k, joined, skip, note_end=i) if joined else None
                if found is not None:
                    return found
            if _announces(line) and not any("@" in f.value for f in fields):
                # `Begin forwarded message:` above no header block: the original, unlabelled.
                return _forward(lines, i, fields, None, end)
        elif any_header(line) is not None:
            fields, end = _block(lines, i)
            sender = _sender(fields)
            if sender is not None and _believable(fields, sender, marker=None):
                return _forward(lines, i, fields, sender, end)
    return None


_INVISIBLE = re.compile("[\ufeff\u200b\u200c\u200d\u200e\u200f\u2060\r]")
_EXPLICIT = "explicit"  # a separator or intro we know, or Outlook's rule
_SHAPED = "shaped"  # a line of dashes around words, or a short sentence ending in a colon


@dataclass(frozen=True)
class _Field:
    key: str | None  # the canonical header when the label is one we know
    label: str
    value: str


def _lines(text: str) -> list[str]:
    """The body's lines, without byte-order marks and zero-width marks (Outlook starts quoted
    text with one) and with run-together header blocks split back into lines."""
    text = _INVISIBLE.sub("", text).replace("\xa0", " ")
    lines = text.split("\n")
    if "@" not in text:
        return lines
    return [p for line in lines for p in (split_run_together(line) if "@" in line else (line,))]


def _announces(line: str) -> bool:
    """A separator or intro that says in words a forward follows (not Outlook's bare rule)."""
    return bool(FORWARD_SEPARATOR.match(line) or FORWARD_INTRO.match(line))


def _skip_blank(lines: list[str], start: int) -> int:
    j = start
    while j < len(lines) and j - start < 4 and not unquote(lines[j]).strip():
        j += 1  # Gmail and Apple Mail leave blank lines below the separator
    return j


def _marker(line: str) -> str | None:
    if _announces(line) or RULE.match(line):
        return _EXPLICIT
    if ANY_SEPARATOR.match(line) or (ANY_INTRO.match(line) and known_label(line) is None):
        return _SHAPED
    return None


def _block(lines: list[str], start: int) -> tuple[list[_Field], int]:
    """The `Label: value` lines from `start` (after up to four blank lines); returns them and the
    index of the first line of the original's body."""
    fields: list[_Field] = []
    seen: set[str] = set()
    j = _skip_blank(lines, start)
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
                value = unquote(
                    lines[j]
                )  # an HTML table: the label in one cell, the value in the next
                j += 1
            fields.append(_Field(key, label, value.strip()))
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
    return bool(line.strip()) and any_header(line) is None and _marker(line) is None


def _continues(label: str, seen: set[str], count: int) -> bool:
    """Past a blank line, a new header of a label we know (or an early one) is still the block."""
    key = known(label)
    return (key or label.lower()) not in seen and (key is not None or count < 3)


def _wrapped(last: _Field, line: str, lines: list[str], j: int) -> bool:
    """A header's value wrapped onto the next line: a long To/Cc list, or a long subject."""
    if last.key in ("to", "cc") and ("@" in line or ";" in line):
        return True
    return j + 1 < len(lines) and any_header(unquote(lines[j + 1])) is not None


def _sender(fields: list[_Field]) -> _Field | None:
    """The block's From: the field under a From label we know, or else its first address-bearing
    field, unless that one's label is one we know as something else (To, Cc, Reply-To)."""
    for f in fields:
        if f.key == "from":
            return f
    for f in fields:
        if ADDRESS_TOKEN.search(f.value):
            return f if f.key is None else None
    return None


def _believable(fields: list[_Field], sender: _Field, *, marker: str | None) -> bool:
    """True when the block has the shape of a forwarded header, not of body text with colons."""
    known_count = sum(f.key is not None for f in fields)
    dated = any(f.key == "date" or (f is not sender and DATE_LIKE.search(f.value)) for f in fields)
    if sender.key == "from":
        if marker == _EXPLICIT:
            return True
        return len(fields) >= (2 if marker else 3) and (dated or marker is not None)
    if "@" not in sender.value or len(fields) < 3 or not dated:
        return False
    if marker is not None or known_count >= 2:
        return True
    # No label we know and nothing above it (new Outlook in another language): the full shape
    # of a header block, the sender first, a recipient with an address, a date, a subject.
    addressed = sum(bool(ADDRESS_TOKEN.search(f.value)) for f in fields)
    return len(fields) >= _BARE_BLOCK and fields[0] is sender and addressed >= 2


_QUOTED_NAME = re.compile(r'"([^"]{1,200})"\s*[<\[(]')
_NAME_BEFORE = re.compile(r"(?:^|,)\s*([^,<>\[\]()\d:\"]{2,100}?)\s*[<\[(]\s*(?:mailto:)?[^\s<>]+@")
_ATTRIBUTION_LIMIT = 400
_ATTRIBUTION_LINES = 3  # a wrapped attribution takes at most three lines
_COLONS = (":", "\uff1a")  # and the full-width colon of CJK clients


def find_attributed(text: str) -> Forward | None:
    """A forward written as a reply attribution: Outlook's `On <date>, "Name" <addr> wrote:`
    above the original, indented or `>`-quoted. Only for a message whose subject already says it
    is a forward (the caller checks): the same line on a reply introduces a quote.

    The line is known by its shape in any language (`D. 28/10/2021 12.46 skrev "Jane" <j@x>:`,
    `Jane <j@x> kirjoitti 28/10/2021 12.46:`): one address and a date, ending in a colon."""
    lines = _lines(text)
    for i in range(min(len(lines), _HEADER_SCAN_LIMIT)):
        joined, skip = _attribution(lines, i)
        if joined is None:
            continue
        return _attributed(lines, i, joined, skip, note_end=i)
    return None


def _attributed(
    lines: list[str], i: int, joined: str, skip: int, *, note_end: int
) -> Forward | None:
    """The forward an attribution at line i introduces, or None when it names no single address
    (no address, or several: a person decides)."""
    addresses = {a.lower().strip(".;,") for a in ADDRESS_TOKEN.findall(joined)}
    if len(addresses) != 1:
        return None
    quoted = _QUOTED_NAME.search(joined) or _NAME_BEFORE.search(joined)
    name = display_name(quoted.group(1)) if quoted else None
    body = lines[i + skip :]
    kept = [x for x in body if x.strip()]
    if kept and sum(x.lstrip().startswith(">") for x in kept) >= 0.8 * len(kept):
        body = [unquote(x) for x in body]
    return Forward(
        note="\n".join(lines[:note_end]).strip(),
        email=ADDRESS_TOKEN.findall(joined)[0].strip(".;,"),
        name=name,
        subject=None,
        body=textwrap.dedent("\n".join(body)).strip(),
    )


def _attribution(lines: list[str], i: int) -> tuple[str | None, int]:
    """The attribution starting at line i (joined with the next one or two when the client
    wrapped it, as Gmail and Apple Mail do: `On …, Jane Doe` / `<jane@x>` / `wrote:`) and how
    many lines it takes, or (None, 0)."""
    line = lines[i]
    if _is_attribution(line):
        return line, 1
    if not (ATTRIBUTION_START.match(line) or DATE_LIKE.search(line)):
        return None, 0
    joined = line.rstrip()
    for k in range(i + 1, min(i + _ATTRIBUTION_LINES, len(lines))):
        if not lines[k].strip() or joined.endswith(_COLONS):
            break
        joined += " " + lines[k].strip()
        if _is_attribution(joined):
            return joined, k - i + 1
    return None, 0


def _is_attribution(line: str) -> bool:
    if len(line) > _ATTRIBUTION_LIMIT or not line.rstrip().endswith(_COLONS):
        return False
    if ATTRIBUTION.match(line):
        return True
    text = unquote(line)
    return bool(DATE_LIKE.search(text) and ADDRESS_TOKEN.search(text) and any_header(text) is None)


def parse_sender(value: str | None) -> tuple[str | None, str | None]:
    """(name, address) from a forwarded From line in any of the ways clients write it.

    `Jane Doe <jane@acme.com>`, `"Doe, Jane" [mailto:jane@acme.com]`, `jane@acme.com`,
    `Jane Doe` (Outlook with no address). Several different addresses with no mailto or angle
    brackets to say which is the sender gives no address: the caller refuses to guess.
    """
    if not value:
        return None, None
    value = value.strip().strip("*_ ").rstrip(";,")  # Foxmail: `"王伟"<wangwei@x.cn>;`
    address: str | None = None
    for pattern in (_MAILTO, _ANGLE, _BRACKET):
        match = pattern.search(value)
        if match:
            address = match.group(1)
            value = value[: match.start()] + " " + value[match.end() :]
            break
    else:
        tokens = {t.lower() for t in ADDRESS_TOKEN.findall(value)}
        if len(tokens) == 1:
            address = ADDRESS_TOKEN.findall(value)[0]
            value = ADDRESS_TOKEN.sub(" ", value)
        elif tokens:
            return None, None
    name = display_name(re.sub(r"[\[\]<>()]", " ", value).replace("mailto:", " ").strip(" \"';,"))
    if address is not None:
        address = address.strip(".;,")
    return name, address


def _forward(
    lines: list[str], marker: int, fields: list[_Field], sender: _Field | None, end: int
) -> Forward:
    name, email = parse_sender(sender.value if sender else None)
    body_lines = lines[end:]
    quoted = [line for line in body_lines if line.strip()]
    if quoted and sum(line.lstrip().startswith(">") for line in quoted) >= 0.8 * len(quoted):
        body_lines = [unquote(line) for line in body_lines]  # the client quoted the forward
    subject = next((f.value for f in fields if f.key == "subject"), None)
    return Forward(
        note="\n".join(lines[:marker]).strip(),
        email=email,
        name=name,
        subject=strip_forward_prefixes(subject),
        body=textwrap.dedent("\n".join(body_lines)).strip(),
    )


def sender_in_body(body: str, name: str | None, *, exclude: Callable[[str], bool]) -> str | None:
    """The original sender's address when the forward header gave only a name (Outlook).

    Their signature usually carries it: the one address in the forwarded text that `exclude`
    (our own domains) does not rule out, or, among several, the one whose local part holds a
    word of the name (`Jane Doe` -> `jane.doe@`). Anything less clear is left to a person.
    """
    found: dict[str, str] = {}
    for candidate in (*_MAILTO.findall(body), *ADDRESS_TOKEN.findall(body)):
        address = candidate.strip(".;,")
        if not exclude(address):
            found.setdefault(address.lower(), address)
    if len(found) == 1:
        return next(iter(found.values()))
    words = {_fold(w) for w in re.split(r"[\W_]+", name or "") if len(w) >= 3}
    named = [a for key, a in found.items() if any(w in _fold(key.split("@")[0]) for w in words)]
    return named[0] if len(named) == 1 else None


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))
