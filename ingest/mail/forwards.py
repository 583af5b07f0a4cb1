"""Finding the original message inside a forward: Gmail, Outlook (localised), Apple, Thunderbird."""

from __future__ import annotations

import re
import textwrap
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from ingest.mail.addresses import ADDRESS_TOKEN, display_name
from ingest.mail.labels import (
    ATTRIBUTION,
    ATTRIBUTION_START,
    FORWARD_INTRO,
    FORWARD_SEPARATOR,
    HEADER_LINE,
    RULE,
    canonical,
    split_run_together,
    unquote,
)

_FORWARD_PREFIX = re.compile(
    r"^\s*((fwd?|wg|tr|rv|i|enc|doorst|vl|vb|pd|fs|ilt|İlt|πρθ|προωθ|пересл|转发|轉寄|轉發|転送|전달|"
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


def find_forward(text: str) -> Forward | None:
    """The first forwarded message in a body, or None when the body holds no forward."""
    lines = text.split("\n")
    if "@" in text:  # a run-together block holds an address: most bodies are left as they are
        lines = [
            p for line in lines for p in (split_run_together(line) if "@" in line else (line,))
        ]
    for i, line in enumerate(lines[:_HEADER_SCAN_LIMIT]):
        explicit = FORWARD_SEPARATOR.match(line) or FORWARD_INTRO.match(line) or RULE.match(line)
        if explicit:
            headers, end = _header_block(lines, i + 1)
            if "from" in headers or not RULE.match(line):
                return _forward(lines, i, headers, end)
        elif HEADER_LINE.match(line):
            headers, end = _header_block(lines, i)
            # Without a separator, demand an Outlook-style block so body text is not mistaken.
            if {"from", "date"} <= headers.keys() and ({"subject", "to"} & headers.keys()):
                return _forward(lines, i, headers, end)
    return None


_QUOTED_NAME = re.compile(r'"([^"]{1,200})"\s*[<\[(]')
_NAME_BEFORE = re.compile(r"(?:^|,)\s*([^,<>\[\]()\d:\"]{2,100}?)\s*[<\[(]\s*(?:mailto:)?[^\s<>]+@")


def find_attributed(text: str) -> Forward | None:
    """A forward written as a reply attribution: Outlook's `On <date>, "Name" <addr> wrote:`
    above the original, indented or `>`-quoted. Only for a message whose subject already says it
    is a forward (the caller checks): the same line on a reply introduces a quote."""
    lines = text.split("\n")
    for i, line in enumerate(lines[:_HEADER_SCAN_LIMIT]):
        joined = line
        skip = 1
        if not ATTRIBUTION.match(line) and i + 1 < len(lines) and ATTRIBUTION_START.match(line):
            joined, skip = line + " " + lines[i + 1].strip(), 2  # Gmail wraps long attributions
        if not ATTRIBUTION.match(joined):
            continue
        addresses = {a.lower().strip(".;,") for a in ADDRESS_TOKEN.findall(joined)}
        if len(addresses) != 1:
            return None  # no address, or several: a person decides
        quoted = _QUOTED_NAME.search(joined) or _NAME_BEFORE.search(joined)
        name = display_name(quoted.group(1)) if quoted else None
        body = lines[i + skip :]
        kept = [x for x in body if x.strip()]
        if kept and sum(x.lstrip().startswith(">") for x in kept) >= 0.8 * len(kept):
            body = [unquote(x) for x in body]
        return Forward(
            note="\n".join(lines[:i]).strip(),
            email=ADDRESS_TOKEN.findall(joined)[0].strip(".;,"),
            name=name,
            subject=None,
            body=textwrap.dedent("\n".join(body)).strip(),
        )
    return None


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


def _header_block(lines: list[str], start: int) -> tuple[dict[str, str], int]:
    """Parse `Label: value` lines from `start`; returns the headers and the first body line."""
    headers: dict[str, str] = {}
    j = start
    while j < len(lines) and j - start < 4 and not unquote(lines[j]).strip():
        j += 1  # Gmail and Apple Mail leave blank lines below the separator
    last: str | None = None
    while j < len(lines):
        line = unquote(lines[j])
        match = HEADER_LINE.match(line)
        if match:
            key = canonical(match.group("label"))
            if key == "from" and "from" in headers:
                break  # the next, nested forward starts here
            headers.setdefault(key, match.group("value").strip())
            last = key
            j += 1
            continue
        if not line.strip() and headers:
            # Outlook's HTML puts each header in its own paragraph: blank lines between them.
            k = j
            while k < len(lines) and k - j < 3 and not unquote(lines[k]).strip():
                k += 1
            if k < len(lines) and HEADER_LINE.match(unquote(lines[k])) and "subject" not in headers:
                j = k
                continue
            break
        if headers and last in ("to", "cc") and ("@" in line or ";" in line):
            j += 1  # a long To/Cc list wrapped onto the next line
            continue
        break
    return headers, j


def _forward(lines: list[str], marker: int, headers: dict[str, str], end: int) -> Forward:
    name, email = parse_sender(headers.get("from"))
    body_lines = lines[end:]
    quoted = [line for line in body_lines if line.strip()]
    if quoted and sum(line.lstrip().startswith(">") for line in quoted) >= 0.8 * len(quoted):
        body_lines = [unquote(line) for line in body_lines]  # the client quoted the forward
    return Forward(
        note="\n".join(lines[:marker]).strip(),
        email=email,
        name=name,
        subject=strip_forward_prefixes(headers.get("subject")),
        body="\n".join(body_lines).strip(),
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
