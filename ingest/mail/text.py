"""Text helpers shared by the mail parsers: charset fallback and cleaning of header-derived text."""

from __future__ import annotations

import codecs
import re
import unicodedata

# Charsets tried after the declared one; latin-1 never fails, so decoding always ends with text.
_FALLBACK_CHARSETS = ("utf-8", "cp1252", "latin-1")

# Aliases that real mail uses but Python's codec registry does not know.
_CHARSET_ALIASES = {
    "ks_c_5601-1987": "cp949",
    "x-mac-cyrillic": "mac-cyrillic",
    "iso-8859-8-i": "iso-8859-8",
    "unknown-8bit": "utf-8",
    "x-unknown": "utf-8",
    "us-ascii": "utf-8",  # 8-bit bytes under a us-ascii label are nearly always utf-8 in practice
    "ascii": "utf-8",
    "gb2312": "gb18030",  # gb18030 is a superset; mislabeled GBK text decodes too
    "gbk": "gb18030",
}

# Codecs Python has that are no charset for text: they always fail (undefined), refuse the
# "replace" handler (idna, punycode) or read escapes in the bytes as characters (unicode_escape).
# The bytes-to-bytes ones (base64, zlib_codec, rot13, hex) are told apart by the codec itself.
_NOT_CHARSETS = frozenset(
    {"undefined", "idna", "punycode", "unicode-escape", "raw-unicode-escape", "mbcs", "oem"}
)

# The labels senders put on UTF-8 by mistake (a form or template declaring Latin-1).
_WESTERN = frozenset({"iso8859-1", "cp1252", "iso8859-15"})

_WS = re.compile(r"\s+")
_ASCII_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Every horizontal space the regex engine counts as \s (and the zero-width one): a run left
# unsqueezed makes the line patterns' `\s*` backtrack over it.
_HORIZONTAL_WS = re.compile(r"[ \t\f\v\u00a0\u1680\u2000-\u200b\u202f\u205f\u3000]+")


def known_codec(charset: str | None) -> str | None:
    """Return a codec name Python knows for a MIME charset label, or None."""
    if not charset:
        return None
    label = charset.strip().strip("\"'").lower()
    label = _CHARSET_ALIASES.get(label, label)
    try:
        info = codecs.lookup(label)
    except (LookupError, ValueError):  # ValueError: a NUL in the label
        return None
    if not getattr(info, "_is_text_encoding", True) or info.name in _NOT_CHARSETS:
        return None
    return info.name


def guess_charset(data: bytes) -> str | None:
    """The likely charset of undeclared 8-bit text (cp1251 Russian, Shift_JIS, …), or None.

    charset-normalizer measures which decoding reads as language; too little text to judge
    returns None and the fixed fallbacks apply.
    """
    high = sum(1 for b in data[:65536] if b >= 0x80)
    # Mostly-ASCII text with a few accents is Western (cp1252 reads it); guessing on it misfires.
    if len(data) < 24 or high < 0.3 * len(data[:65536].replace(b" ", b"")):
        return None
    from charset_normalizer import from_bytes

    best = from_bytes(data[:65536]).best()
    return known_codec(best.encoding) if best is not None else None


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Decode bytes with the declared charset, then utf-8, a guess, cp1252, latin-1; never raises."""
    tried: list[str] = []
    declared = known_codec(charset)
    guessed: tuple[str | None, ...] = ()
    if declared is None or declared == "utf-8" or (declared in _WESTERN and not data.isascii()):
        try:
            # Under a Western single-byte label, bytes that are valid UTF-8 are UTF-8 (mislabelled
            # by the sender): Latin-1 text is next to never valid UTF-8 ("é" is one byte, E9).
            return data.decode("utf-8")
        except UnicodeDecodeError:
            guessed = (guess_charset(data),) if declared in (None, "utf-8") else ()
            if (guessed[0] if guessed else None) not in _MULTIBYTE and _mostly_utf8(data):
                # UTF-8 with Latin-1 pasted in (a quote, a signature): each part as written.
                return data.decode("utf-8", errors=_PER_BYTE)
    for name in (declared, *guessed, *_FALLBACK_CHARSETS):
        if name is None or name in tried:
            continue
        tried.append(name)
        try:
            return data.decode(name)
        except (UnicodeError, LookupError):
            continue
    return data.decode("latin-1", errors="replace")


_UTF8_SEQUENCE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)
_HIGH = re.compile(rb"[\x80-\xff]")
_PER_BYTE = "leadbot.cp1252"
# Double-byte charsets whose bytes often look like UTF-8 sequences: their guess wins.
_MULTIBYTE = frozenset(
    {"shift_jis", "cp932", "euc_jp", "iso2022_jp", "gb18030", "gbk", "gb2312", "big5", "cp950",
     "big5hkscs", "euc_kr", "cp949", "johab", "hz"}
)  # fmt: skip


def _cp1252_bytes(error: UnicodeError) -> tuple[str, int]:
    """A codec error handler: the bytes UTF-8 could not read, read as cp1252 (latin-1 where
    cp1252 has no character)."""
    assert isinstance(error, UnicodeDecodeError)
    bad = error.object[error.start : error.end]
    return "".join(bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in bad), error.end


codecs.register_error(_PER_BYTE, _cp1252_bytes)


def _mostly_utf8(data: bytes) -> bool:
    """Bytes that are UTF-8 but for a piece: a third or more of their 8-bit bytes form UTF-8
    sequences (text in a single-byte charset next to never does: "é" is E9 then a letter)."""
    sequences = _UTF8_SEQUENCE.findall(data)
    in_sequences = sum(len(s) for s in sequences)
    return len(sequences) >= 2 and in_sequences >= 0.3 * len(_HIGH.findall(data))


def clean_line(value: str | None, *, limit: int) -> str | None:
    """One line of header-derived text: no CR/LF or control characters, collapsed, capped.

    RFC 2047 encoded words can carry =0A, so every header-derived field goes through here.
    """
    if value is None:
        return None
    value = value[: limit * 4]
    if value.isascii():  # nearly every header: the only such ASCII characters are C0 and DEL
        text = _ASCII_CONTROL.sub(" ", value)
    else:
        text = "".join(
            " " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in value
        )
    text = _WS.sub(" ", text).strip()
    return text[:limit].rstrip() or None


def normalise_body(text: str) -> str:
    """Normalise line endings and trailing spaces and squeeze runs of blank lines."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "\u2028" in text or "\u2029" in text:  # Unicode's line and paragraph separators
        text = text.replace("\u2028", "\n").replace("\u2029", "\n\n")
    # NUL cannot be stored in a PostgreSQL text column, and other C0/C1 controls (ESC sequences,
    # BEL) are never meant to be read: they go, tabs and newlines stay.
    text = _CONTROL.sub("", text)
    # The horizontal runs never hold a newline: squeezed in one pass over the text, not per line.
    lines = [line.rstrip() for line in _HORIZONTAL_WS.sub(" ", text).split("\n")]
    out: list[str] = []
    for line in lines:
        if not line and out and not out[-1]:
            continue
        out.append(line)
    return "\n".join(out).strip()


def unflow(text: str, *, delsp: bool) -> str:
    """Undo RFC 3676 format=flowed: a line ending in a space continues on the next line.

    Thunderbird and Apple Mail wrap long lines that way; read as-is, every paragraph breaks
    mid-sentence. Quoted lines join only with lines of the same quote depth, and the
    signature separator "-- " is never joined (section 4.3).
    """
    out: list[str] = []
    carry: tuple[int, str] | None = None
    for line in text.replace("\r\n", "\n").split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        content = line[depth:]
        if content.startswith(" "):
            content = content[1:]  # space-stuffing (section 4.4)
        if carry is not None and carry[0] == depth:
            content = carry[1] + content
        elif carry is not None:
            out.append(">" * carry[0] + carry[1])
        carry = None
        if content.endswith(" ") and content != "-- ":
            carry = (depth, content[:-1] if delsp else content)
            continue
        out.append(">" * depth + (" " if depth and content else "") + content)
    if carry is not None:
        out.append(">" * carry[0] + carry[1])
    return "\n".join(out)
