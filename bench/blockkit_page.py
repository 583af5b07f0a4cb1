"""A Block Kit mock: messages and modals rendered to one HTML page, to look at them in a browser.

Not Slack's renderer: close enough to judge layout and height (header, sections, fields, context,
buttons, overflow menus, inputs), with mrkdwn's bold, italics, code, quotes, links and mentions.
Used by bench/card_shot.py, which screenshots the page with headless Chromium.
"""

from __future__ import annotations

import html
import re
from typing import Any

EMOJI = {
    "fire": "🔥", "raising_hand": "🙋", "trophy": "🏆", "x": "❌", "seedling": "🌱",
    "no_entry_sign": "🚫", "memo": "📝", "incoming_envelope": "📨", "alarm_clock": "⏰",
    "rotating_light": "🚨", "telephone_receiver": "📞", "globe_with_meridians": "🌐",
    "arrow_right_hook": "↪️", "envelope": "✉️", "repeat": "🔁", "pencil2": "✏️",
    "busts_in_silhouette": "👥", "bust_in_silhouette": "👤", "link": "🔗", "mag": "🔍",
    "hourglass_flowing_sand": "⏳", "package": "📦", "moneybag": "💰",
}  # fmt: skip
NAMES = {"U0REP": "rita", "U0JOE": "joe", "U0MGR": "maria"}

CSS = """
body { font-family: Lato, 'Helvetica Neue', Arial, sans-serif; font-size: 15px; color: #1d1c1d;
       background: #fff; margin: 0; padding: 16px; width: 680px; }
.label { font: 600 12px monospace; color: #888; margin: 18px 0 4px; }
.msg { display: flex; gap: 8px; padding: 8px 0; border-top: 1px solid #eee; }
.avatar { width: 36px; height: 36px; border-radius: 6px; background: #e01e5a; flex: none;
          color: #fff; font-weight: 700; text-align: center; line-height: 36px; }
.body { flex: 1; min-width: 0; }
.who { font-weight: 900; } .who small { font-weight: 400; color: #616061; margin-left: 4px; }
.header { font-size: 18px; font-weight: 900; margin: 4px 0; }
.section { margin: 4px 0; line-height: 1.45; white-space: pre-wrap; overflow-wrap: anywhere; }
.section.acc { display: flex; justify-content: space-between; gap: 8px; }
.fields { display: grid; grid-template-columns: 1fr 1fr; gap: 6px 16px; margin: 4px 0; }
.fields div { white-space: pre-wrap; overflow-wrap: anywhere; }
.context { font-size: 12px; color: #616061; margin: 4px 0; white-space: pre-wrap; }
.actions { display: flex; flex-wrap: wrap; gap: 8px; margin: 8px 0; }
.btn { border: 1px solid #bbb; border-radius: 4px; padding: 3px 12px; font-weight: 700;
       font-size: 13px; background: #fff; white-space: nowrap; height: 22px; line-height: 22px; }
.btn.primary { background: #007a5a; color: #fff; border-color: #007a5a; }
.btn.danger { background: #e01e5a; color: #fff; border-color: #e01e5a; }
.menu { border: 1px solid #ddd; border-radius: 6px; box-shadow: 0 2px 6px #0002; margin: 2px 0 0
        auto; width: 200px; font-size: 14px; }
.menu div { padding: 4px 12px; }
blockquote { border-left: 4px solid #ddd; margin: 2px 0; padding-left: 10px; }
code { background: #f6f6f6; border: 1px solid #ddd; border-radius: 3px; padding: 0 3px;
       color: #e01e5a; font-size: 13px; }
.mention { background: #e8f5fa; color: #1264a3; border-radius: 3px; padding: 0 2px; }
a { color: #1264a3; text-decoration: none; }
hr { border: none; border-top: 1px solid #ddd; }
.modal { border: 1px solid #ccc; border-radius: 8px; width: 520px; box-shadow: 0 4px 12px #0003; }
.modal .title { font-size: 20px; font-weight: 900; padding: 14px 20px; border-bottom: 1px solid #ddd; }
.modal .inner { padding: 12px 20px; }
.modal .foot { padding: 12px 20px; border-top: 1px solid #ddd; display: flex;
               justify-content: flex-end; gap: 8px; }
.input { margin: 10px 0; } .input b { display: block; margin-bottom: 4px; }
.input .box { border: 1px solid #aaa; border-radius: 4px; padding: 6px 8px; color: #555;
              min-height: 20px; }
.input small { color: #888; font-weight: 400; }
"""


def _emoji(text: str) -> str:
    return re.sub(r":([a-z0-9_+-]+):", lambda m: EMOJI.get(m.group(1), m.group(0)), text)


def _link(m: re.Match[str]) -> str:
    target, label = m.group(1), m.group(2)
    if target.startswith("@"):
        return f'<span class="mention">@{NAMES.get(target[1:], target[1:].lower())}</span>'
    if target.startswith("!subteam^"):
        return f'<span class="mention">@{html.escape(label or "team")}</span>'
    if target.startswith("!date^"):
        return html.escape(label or "a date")
    if target.startswith("!"):
        return f'<span class="mention">@{target[1:]}</span>'
    return f'<a href="#">{html.escape(label or target)}</a>'


def mrkdwn(text: str) -> str:
    """Slack mrkdwn (already escaped: `&amp;`, `&lt;`, `&gt;`) as HTML."""
    lines, out, quoted = text.split("\n"), [], []
    for line in [*lines, None]:
        if line is not None and line.startswith("&gt;"):
            quoted.append(_inline(line[4:].lstrip(" ")))
            continue
        if quoted:
            out.append("<blockquote>" + "<br>".join(quoted) + "</blockquote>")
            quoted = []
        if line is not None:
            out.append(_inline(line) + "\n")
    return "".join(out).rstrip("\n")


def _inline(line: str) -> str:
    # Entities stay as they are (they are valid HTML too); links and mentions first.
    line = re.sub(r"<([^<>|]+)(?:\|([^<>]*))?>", _link, line)
    line = re.sub(r"`([^`]+)`", r"<code>\1</code>", line)
    line = re.sub(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])", r"<b>\1</b>", line)
    line = re.sub(r"(?<![\w_])_([^_\n]+)_(?![\w_])", r"<i>\1</i>", line)
    return _emoji(line)


def _text(t: dict[str, Any] | None) -> str:
    if not t:
        return ""
    if t.get("type") == "mrkdwn":
        return mrkdwn(str(t.get("text", "")))
    return _emoji(str(t.get("text", "")))  # plain_text: Slack decodes the three entities


def _element(e: dict[str, Any]) -> str:
    kind = e.get("type")
    if kind == "button":
        return f'<span class="btn {e.get("style", "")}">{_text(e.get("text"))}</span>'
    if kind == "overflow":
        return '<span class="btn">⋯</span>'
    if kind in ("static_select", "users_select"):
        placeholder = _text(e.get("placeholder")) or "Select"
        return f'<span class="btn">{placeholder} ▾</span>'
    return f'<span class="btn">{html.escape(str(kind))}</span>'


def block(b: dict[str, Any]) -> str:
    kind = b.get("type")
    if kind == "header":
        return f'<div class="header">{_text(b.get("text"))}</div>'
    if kind == "section":
        parts = []
        if b.get("text"):
            parts.append(f'<div class="section">{_text(b["text"])}</div>')
        if b.get("fields"):
            cells = "".join(f"<div>{_text(f)}</div>" for f in b["fields"])
            parts.append(f'<div class="fields">{cells}</div>')
        if b.get("accessory"):
            return f'<div class="section acc"><div>{"".join(parts)}</div>{_element(b["accessory"])}</div>'
        return "".join(parts)
    if kind == "context":
        return '<div class="context">' + " ".join(_text(e) for e in b["elements"]) + "</div>"
    if kind == "actions":
        return '<div class="actions">' + "".join(_element(e) for e in b["elements"]) + "</div>"
    if kind == "divider":
        return "<hr>"
    if kind == "input":
        optional = " <small>(optional)</small>" if b.get("optional") else ""
        element = b.get("element") or {}
        shown = element.get("initial_value") or element.get("initial_user") or ""
        if element.get("initial_option"):
            shown = _text(element["initial_option"].get("text"))
        if element.get("type") in ("static_select", "users_select") and not shown:
            shown = _text(element.get("placeholder")) or "Select ▾"
        return (
            f'<div class="input"><b>{_text(b.get("label"))}{optional}</b>'
            f'<div class="box">{html.escape(str(shown)) if shown else "&nbsp;"}</div></div>'
        )
    return f'<div class="context">[{html.escape(str(kind))}]</div>'


def message_html(message: dict[str, Any], *, thread: bool = False) -> str:
    inner = "".join(block(b) for b in message.get("blocks") or []) or mrkdwn(message["text"])
    where = " <small>in thread</small>" if thread else ""
    return (
        '<div class="msg"><div class="avatar">LB</div><div class="body">'
        f'<div class="who">LeadBot<small>APP 9:41 AM</small>{where}</div>{inner}</div></div>'
    )


def modal_html(view: dict[str, Any]) -> str:
    body = "".join(block(b) for b in view.get("blocks") or [])
    submit = _text(view.get("submit")) if view.get("submit") else ""
    return (
        f'<div class="modal"><div class="title">{_text(view.get("title"))}</div>'
        f'<div class="inner">{body}</div><div class="foot"><span class="btn">'
        f"{_text(view.get('close')) or 'Cancel'}</span>"
        + (f'<span class="btn primary">{submit}</span>' if submit else "")
        + "</div></div>"
    )


def page(items: list[tuple[str, str]]) -> str:
    """One page of (label, HTML fragment) pairs."""
    body = "".join(f'<div class="label">{html.escape(label)}</div>{frag}' for label, frag in items)
    return f"<!doctype html><html><head><meta charset='utf-8'><style>{CSS}</style></head><body>{body}</body></html>"
