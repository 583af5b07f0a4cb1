"""Text from outside, for an admin's terminal: every line the CLI prints goes through `say`.

A lead's name, a form field or a mail's subject is written by a stranger; printed raw, ESC and the
C1 controls drive the terminal (retitle it, rewrite the screen, some emulators answer back), BEL
and backspace hide or fake text, and bidi overrides show `evil.exe` as `exe.live`. Each such
character is shown escaped instead (`\\x1b`, `\\u202e`), so the admin sees that it was there.
"""

from __future__ import annotations

import json
import sys
import unicodedata
from typing import IO, Any

# Format characters that carry meaning in ordinary text: joiners inside emoji and Indic scripts.
_JOINERS = frozenset({"\u200c", "\u200d"})
_UNSAFE = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})


def _escape(ch: str) -> str:
    code = ord(ch)
    return (
        f"\\x{code:02x}"
        if code < 0x100
        else f"\\u{code:04x}"
        if code < 0x10000
        else f"\\U{code:08x}"
    )


def _unsafe(ch: str, keep: str) -> bool:
    return ch not in keep and ch not in _JOINERS and unicodedata.category(ch) in _UNSAFE


def terminal(text: str, *, lines: bool = False) -> str:
    """`text` with every control, format and line-separator character escaped; with `lines`,
    newlines and tabs stay (a mail body), otherwise they are escaped too (one field, one line)."""
    if text.isascii() and text.isprintable():  # the common case, at C speed
        return text
    keep = "\n\t" if lines else ""
    return "".join(_escape(ch) if _unsafe(ch, keep) else ch for ch in text)


def say(text: object = "", *, lines: bool = False, file: IO[str] | None = None) -> None:
    """print(), escaped: the one way the CLI writes what it read from the database or a file."""
    print(terminal(str(text), lines=lines), file=file or sys.stdout)


def json_text(value: Any) -> str:
    """Indented JSON for a terminal: JSON itself escapes C0 controls; C1, bidi and the other
    format characters are escaped here as JSON \\u escapes (\\u202e), which leaves it the same JSON."""
    text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    if text.isascii():
        return text
    return "".join(
        f"\\u{ord(ch):04x}" if ord(ch) < 0x10000 and _unsafe(ch, "\n") else ch for ch in text
    )
