"""Finding the original message inside a forward, in any client and language: its sender and text."""

from __future__ import annotations

import re
import textwrap
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from ingest.mail.addresses import ADDRESS_TOKEN, display_name
from ingest.mail.blocks import (
    Field,
    announces,
    believable,
    body_lines,
    could_mark,
    header_block,
    marker,
    sender_field,
    skip_blank,
)
from ingest.mail.labels import (
    ANY_SEPARATOR,
    ATTRIBUTION,
    ATTRIBUTION_START,
    DATE_LIKE,
    any_header,
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
    lines = body_lines(text)
    for i, line in enumerate(lines[:_HEADER_SCAN_LIMIT]):
        if not could_mark(line):
            continue  # most lines: no colon and no rule, neither a header nor a separator
        above = marker(line)
        if above:
            fields, end = header_block(lines, i + 1)
            sender = sender_field(fields)
            if sender is not None and believable(fields, sender, above=above):
                return _forward(lines, i, fields, sender, end)
            if not fields and (announces(line) or ANY_SEPARATOR.match(line)):
                # Yandex, Proton: `-------- Original Message --------` above an attribution.
                k = skip_blank(lines, i + 1)
                joined, skip = _attribution(lines, k) if k < len(lines) else (None, 0)
                found = _attributed(lines, k, joined, skip, note_end=i) if joined else None
                if found is not None:
                    return found
            if announces(line) and not any("@" in f.value for f in fields):
                # `Begin forwarded message:` above no header block: the original, unlabelled.
                return _forward(lines, i, fields, None, end)
        elif any_header(line) is not None:
            fields, end = header_block(lines, i)
            sender = sender_field(fields)
            if sender is not None and believable(fields, sender, above=None):
                return _forward(lines, i, fields, sender, end)
    return None


_QUOTED_NAME = re.compile(r'"([^"]{1,200})"\s*[<\[(]')
_NAME_BEFORE = re.compile(
    r"(?:^|,)\s*+([^,<>\[\]()\d:\"]{2,100}?)\s*[<\[(]\s*(?:mailto:)?[^\s<>]+@"
)
_ATTRIBUTION_LIMIT = 400
_ATTRIBUTION_LINES = 3  # a wrapped attribution takes at most three lines
_COLONS = (":", "\uff1a")  # and the full-width colon of CJK clients


def find_attributed(text: str) -> Forward | None:
    """A forward written as a reply attribution: Outlook's `On <date>, "Name" <addr> wrote:`
    above the original, indented or `>`-quoted. Only for a message whose subject already says it
    is a forward (the caller checks): the same line on a reply introduces a quote.

    The line is known by its shape in any language (`D. 28/10/2021 12.46 skrev "Jane" <j@x>:`,
    `Jane <j@x> kirjoitti 28/10/2021 12.46:`): one address and a date, ending in a colon."""
    lines = body_lines(text)
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


def parsesender_field(value: str | None) -> tuple[str | None, str | None]:
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
    lines: list[str], start: int, fields: list[Field], sender: Field | None, end: int
) -> Forward:
    name, email = parsesender_field(sender.value if sender else None)
    body_lines = lines[end:]
    quoted = [line for line in body_lines if line.strip()]
    if quoted and sum(line.lstrip().startswith(">") for line in quoted) >= 0.8 * len(quoted):
        body_lines = [unquote(line) for line in body_lines]  # the client quoted the forward
    subject = next((f.value for f in fields if f.key == "subject"), None)
    return Forward(
        note="\n".join(lines[:start]).strip(),
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
