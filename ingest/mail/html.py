"""HTML to plain text with beautifulsoup4: scripts and styles dropped, blocks kept as lines."""

from __future__ import annotations

import re
import warnings
from typing import TYPE_CHECKING
from urllib.parse import unquote

if TYPE_CHECKING:
    from bs4 import BeautifulSoup, Tag

HTML_LIMIT = 2_000_000  # characters of markup handed to the parser; the text cap is applied later
# Tags handed to bs4: each costs it about 15 µs, so 2 MB of `<b><i>` would take 10 s a pass, and
# unclosed ones cost more the deeper they nest (its linkage fixer: 10,000 `<a@b.c>` took 3 s); a
# long newsletter has a few thousand. The markup after them is tag-stripped.
MAX_TAGS = 5_000

_DROP = frozenset(
    {"script", "style", "head", "title", "noscript", "template", "iframe", "object", "svg"}
)
_BLOCKS = frozenset(
    {
        "p", "div", "tr", "li", "ul", "ol", "table", "blockquote", "pre", "hr", "h1", "h2", "h3",
        "h4", "h5", "h6", "address", "section", "article", "header", "footer", "dl", "dt", "dd",
    }
)  # fmt: skip
_ADDRESS = re.compile(r"[^\s<>()\[\]\"',;:@]{1,64}@[^\s<>()\[\]\"',;:@]{1,255}")
# No `<` inside: from each `<` the scan stops at the next one, so 500 KB of `<` is linear, not 1e9 steps.
_TAG = re.compile(r"<[^<>]{0,2000}>")
_BREAK = "\x1e"  # ASCII record separator: stands for a line break until whitespace is collapsed
_SPACE = re.compile(r"[ \t\r\n\f]+")
_END_BLOCK = object()  # stack markers; the walk is iterative so deep or wide trees cost O(n)
_END_PRE = object()
_CELL_GAP = object()


def html_to_text(markup: str) -> str:
    """Visible text of an HTML body, one line per block; hostile markup degrades to a tag strip."""
    from bs4 import BeautifulSoup, XMLParsedAsHTMLWarning  # here: most inquiries never need it

    markup, rest = bounded(markup[:HTML_LIMIT])
    try:
        with warnings.catch_warnings():
            # XHTML mail (`<?xml …?>` first) is HTML to a mail client too; the warning would
            # reach the mail server through `leadbot ingest`'s standard error.
            warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
            soup = BeautifulSoup(markup, "lxml")
        text = _walk(soup)
    except (RecursionError, ValueError, AssertionError, TypeError):
        # A pathological document must not lose the mail: fall back to a crude tag strip.
        text = _TAG.sub(" ", markup)
    if rest:
        text += " " + _TAG.sub(" ", rest)
    # Source newlines are mere whitespace in HTML; only the breaks placed by _walk are lines.
    return _SPACE.sub(" ", text).replace(_BREAK, "\n").replace("\xa0", " ")


def bounded(markup: str, *, tags: int = MAX_TAGS) -> tuple[str, str]:
    """`markup` cut before its `tags`-th `<`, and the rest ("" when it has fewer): what bs4 may
    parse in bounded time, and what only a tag strip may read."""
    if markup.count("<") <= tags:
        return markup, ""
    at = -1
    for _ in range(tags + 1):
        at = markup.find("<", at + 1)
    return markup[:at], markup[at:]


def _walk(soup: BeautifulSoup) -> str:
    from bs4 import NavigableString, Tag

    out: list[str] = []
    in_pre = 0
    stack: list[object] = [soup]
    while stack:
        node = stack.pop()
        if type(node) is str:
            out.append(node)
        elif node is _END_BLOCK:
            out.append(_BREAK)
        elif node is _END_PRE:
            in_pre -= 1
        elif node is _CELL_GAP:
            out.append(" ")  # Outlook lays "From:" and its value out in neighbouring cells
        elif type(node) is NavigableString:  # subclasses are comments, scripts, doctypes, …
            out.append(node.replace("\n", _BREAK) if in_pre else str(node))
        elif isinstance(node, Tag) and node.name not in _DROP:
            name = node.name
            if name == "br":
                out.append(_BREAK)
                continue
            mailto = _mailto(node) if name == "a" else None
            if mailto is not None:
                stack.append(f" <{mailto}>")  # a plain str: emitted after the link's text
            if name in _BLOCKS:
                out.append(_BREAK)
                stack.append(_END_BLOCK)
            elif name in ("td", "th"):
                stack.append(_CELL_GAP)
            if name == "pre":
                in_pre += 1
                stack.append(_END_PRE)
            stack.extend(reversed(node.contents))
    return "".join(out)


def _mailto(link: Tag) -> str | None:
    """The address of a mailto link whose visible text does not show it.

    Outlook writes a forwarded sender as `<a href="mailto:jane@acme.com">Jane Doe</a>`; without
    the href the text version of the forward has a name and no address.
    """
    href = link.get("href")
    if not isinstance(href, str) or href[:7].lower() != "mailto:":
        return None
    address = unquote(href[7:].split("?", 1)[0]).strip()
    if not _ADDRESS.fullmatch(address) or address.lower() in link.get_text().lower():
        return None
    return address
