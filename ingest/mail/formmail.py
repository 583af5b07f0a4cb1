"""Website form-notification emails (Contact Form 7, WPForms, Gravity Forms, Webflow, Squarespace,
Wix…) read back into the label → value pairs the visitor typed. Pure functions, no I/O.

The person is whoever filled in the form, never the site's own sender address: the caller maps
the pairs with `ingest.forms.map_fields` and takes the lead's email from them (or Reply-To).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ingest.mail.html import bounded

# (vendor, what in the subject, sender or body gives it away)
_SUBJECTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("wpforms", re.compile(r"^\s*new entry\s*:", re.I)),
    ("gravityforms", re.compile(r"^\s*new submission from\b", re.I)),
    ("webflow", re.compile(r"\bnew form submission on\b|\bnew .*form submission\b", re.I)),
    ("squarespace", re.compile(r"^\s*form submission\s*-", re.I)),
    ("wix", re.compile(r"\bgot a new (form )?submission\b|^\s*new submission\b", re.I)),
)
_SENDERS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("contactform7", re.compile(r"^wordpress@", re.I)),
    ("squarespace", re.compile(r"@squarespace\.(info|com)$", re.I)),
    ("webflow", re.compile(r"@webflow\.(com|io)$", re.I)),
    ("wix", re.compile(r"@(\w+\.)?wix(forms|site)?\.com$", re.I)),
)
_BODIES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("contactform7", re.compile(r"sent from a contact form on", re.I)),
    ("webflow", re.compile(r"you have a new form submission", re.I)),
    ("wix", re.compile(r"you('|\u2019)ve got a new (form )?submission", re.I)),
    ("wpforms", re.compile(r"\bwpforms\b", re.I)),
    ("gravityforms", re.compile(r"\bgravity ?forms\b", re.I)),
)
# One scan for any of them: most mail names no form tool, and five scans of 20 KB cost five times.
_ANY_BODY = re.compile("|".join(f"(?:{pattern.pattern})" for _, pattern in _BODIES), re.I)
_ROBOT = re.compile(r"^(wordpress|no-?reply|donotreply|do-not-reply|mailer-daemon)@", re.I)
_NOREPLY = re.compile(r"^(no-?reply|donotreply|do-not-reply|forms?|notifications?|website)@", re.I)
_EMAIL = re.compile(r"[\w.+'-]+@[\w-]+(\.[\w-]+)+")
_LABEL = r"[A-Za-z][\w '\u2019/()?&.-]{0,48}?"
_LINE = re.compile(rf"^\s*(?:\*\s*)?({_LABEL})\s*\*?\s*:(?!//)[ \t]*(.*)$")
# WPForms plain text: --- Name --- (possessive runs: `--` and 3,000 spaces backtracked for 47 s)
_DASHED = re.compile(r"^\s*+-{2,}+\s*+([^\s-](?:.*[^\s-])?)\s*+-{2,}\s*$")
_FOOTER = re.compile(
    r"^(--\s*$|this e-?mail was sent from|sent from |powered by|view (this|all) (entry|entries)|"
    r"manage your form|you are receiving this|to stop receiving|unsubscribe)",
    re.I,
)
_CF7_FROM = re.compile(r"^[ \t]*+from:([^<\n]*+)<([^<>\s]+@[^<>\s]+)>[ \t]*$", re.I | re.M)
MAX_FIELDS = 60
MAX_VALUE = 20_000


if TYPE_CHECKING:
    from bs4 import BeautifulSoup, Tag


def _soup(html: str) -> BeautifulSoup:
    from bs4 import BeautifulSoup  # only for HTML bodies: a text inquiry never loads it

    return BeautifulSoup(bounded(html)[0], "html.parser")


def notification_vendor(
    subject: str | None, from_addr: str | None, text: str, html: str
) -> str | None:
    """Which form tool sent this (`contactform7`, `wpforms`, …), `form` if unsure, None if none."""
    subject, sender = subject or "", (from_addr or "").strip().lower()
    body = text or (_soup(html).get_text(" ") if html else "")
    # Body and subject first: Gravity Forms and WPForms also send as wordpress@ (like CF7).
    head = body[:20_000]
    # Each body pattern holds "form" or "submission": in ASCII text (none of the non-ASCII
    # letters IGNORECASE folds onto s, i or k), a text without either word names no form tool.
    low = head.lower() if head.isascii() else None
    if (low is None or "form" in low or "submission" in low) and _ANY_BODY.search(head):
        for vendor, pattern in _BODIES:
            if pattern.search(head):
                return vendor
    for vendor, pattern in _SUBJECTS:
        if pattern.search(subject):
            return vendor
    for vendor, pattern in _SENDERS:
        if pattern.search(sender):
            return vendor
    if _NOREPLY.match(sender) and re.search(r"\b(form|submission|entry|enquiry)\b", subject, re.I):
        return "form"
    return None


def detect_form_notification(
    subject: str | None, from_addr: str | None, text: str, html: str
) -> dict[str, str] | None:
    """The submitted label → value pairs, or None when this is not a form notification.

    A notification needs a vendor signal (sender, subject or footer) and at least one value that
    is an email address other than the sender's: a form without the visitor's email is no lead.
    """
    if notification_vendor(subject, from_addr, text, html) is None:
        return None
    return form_pairs(from_addr, text, html)


def form_pairs(from_addr: str | None, text: str, html: str) -> dict[str, str] | None:
    """The pairs of a message notification_vendor has named: detect_form_notification without
    asking for the vendor again."""
    sender = (from_addr or "").strip().lower()
    for pairs in (_from_html(html) if html else {}, _from_text(text or _html_text(html))):
        if any(_is_visitor_email(v, sender) for v in pairs.values()):
            return pairs
    return None


def _is_visitor_email(value: str, sender: str) -> bool:
    match = _EMAIL.fullmatch(value.strip().strip("<>").strip())
    return bool(match) and match.group(0).lower() != sender  # type: ignore[union-attr]


def _from_html(html: str) -> dict[str, str]:
    soup = _soup(html)
    for junk in soup(["script", "style", "head"]):
        junk.decompose()
    pairs: dict[str, str] = {}
    label: str | None = None  # a label row waiting for its value row (WPForms, Gravity Forms)
    for row in soup.find_all("tr"):
        if row.find("tr") is not None:  # layout tables wrap the field table: use the inner rows
            continue
        cells = [c for c in row.find_all(["td", "th"], recursive=False) if _text(c)]
        if len(cells) == 2 and not label:
            _put(pairs, _text(cells[0]).rstrip(":"), _text(cells[1]))
        elif len(cells) == 1 and label is None and _looks_like_label(cells[0]):
            label = _text(cells[0]).rstrip(":")
        elif len(cells) >= 1 and label is not None:
            _put(pairs, label, "\n".join(_text(c) for c in cells))
            label = None
    if not pairs:  # <p><strong>Name:</strong> Jane</p> layouts read like text
        pairs = _from_text(_html_text(html))
    return pairs


def _looks_like_label(cell: Tag) -> bool:
    strong = cell.find(["strong", "b", "th"]) is not None or cell.name == "th"
    text = _text(cell)
    return (strong or text.endswith(":")) and len(text) <= 80 and "@" not in text


def _from_text(text: str) -> dict[str, str]:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    pairs = _cf7(text)
    label: str | None = None
    buffer: list[str] = []
    for line in lines:
        if _FOOTER.match(line.strip()):
            break
        dashed = _DASHED.match(line)
        match = None if dashed else _LINE.match(line)
        if dashed or (match and not _CF7_FROM.match(line)):
            if label is not None:
                _put(pairs, label, "\n".join(buffer).strip())
            label = (dashed or match).group(1).strip()  # type: ignore[union-attr]
            buffer = [] if dashed else [match.group(2)]  # type: ignore[union-attr]
        elif label is not None:
            buffer.append(line)
    if label is not None:
        _put(pairs, label, "\n".join(buffer).strip())
    return pairs


def _cf7(text: str) -> dict[str, str]:
    """CF7's default admin mail: `From: Name <email>` then `Message Body:` and the message."""
    pairs: dict[str, str] = {}
    # The last one: a forward puts its own "From: WordPress <wordpress@…>" line above CF7's.
    visitors = [m for m in _CF7_FROM.finditer(text) if not _ROBOT.match(m.group(2))]
    if visitors:
        name, address = visitors[-1].group(1).strip().strip('"'), visitors[-1].group(2)
        if name:
            _put(pairs, "Name", name)
        _put(pairs, "Email", address)
    return pairs


_RENAMED = {"message body": "Message", "your message": "Message"}  # CF7's default template


def _put(pairs: dict[str, str], label: str, value: str) -> None:
    label = " ".join(label.split())[:80]
    label = _RENAMED.get(label.lower(), label)
    value = value.strip()[:MAX_VALUE]
    if label and value and label not in pairs and len(pairs) < MAX_FIELDS:
        pairs[label] = value


def _text(tag: Tag) -> str:
    return "\n".join(s.strip() for s in tag.get_text("\n").split("\n") if s.strip())


def _html_text(html: str) -> str:
    if not html:
        return ""
    soup = _soup(html)
    for junk in soup(["script", "style", "head"]):
        junk.decompose()
    for br in soup.find_all("br"):
        br.replace_with("\n")
    return soup.get_text("\n")
