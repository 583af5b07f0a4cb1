"""Separating what the sender wrote from the conversation it quotes (replies and their headers).

A quote is found by its structure, in any language: a reply header (an attribution line or two
naming a date and an address and ending in a colon, a block of `Label: value` lines as Outlook
writes them, a separator line framed by dashes) and the `>`-marked or unmarked quote below it.
Words ("wrote", "Original Message" and their translations) are evidence, never the only way in.
"""

# ruff: noqa: RUF001 - the vocabulary is Cyrillic, Greek and CJK text on purpose

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from ingest.mail.labels import FORWARD_INTRO, FORWARD_SEPARATOR, HEADER_LINE, canonical

_BLANKS = re.compile(r"\n{3,}")
# Bidirectional marks and zero-width characters: Arabic and Hebrew clients put them around
# labels and colons ("\u200f\u200fتم الإرسال:"), where they hide a header from the patterns.
_INVISIBLE = re.compile(r"[\u200b\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_MAX_HEADER_LINES = 3  # an attribution wrapped by the client: Gmail wraps at 78 characters
_MAX_HEADER_CHARS = 400
_VERB_TAIL = 40  # "… Rita <r@x> wrote" ends in its verb: only the end of the line is searched
_MAX_BLOCK_LINES = 14  # Outlook's From/Sent/To/Cc/Subject, with wrapped values and blank lines
_MIN_UNKNOWN_BLOCK = 4  # lines of a block of unknown labels: From, Sent, To and Subject

# "wrote" and its translations: evidence that a line introduces a quote. Matched anywhere, so
# each client's word order works ("Am … schrieb Rita <r@x>:", "Rita <r@x> schrieb am …:").
_VERBS = (
    "wrote", "writes", "a écrit", "escribió", "escribio", "ha scritto", "scrisse",
    "escreveu", "schreef", "geschreven", "skrev", "schrieb", "написал", "пишет", "пише",
    "написав", "написа", "napisał", "napisal", "napsal", "pisze", "napisao", "yazdı", "έγραψε",
    "kirjoitti", "írta", "đã viết", "写道", "寫道", "님이 작성", "kirjutas", "rašė", "rakstīja",
    "napísal", "a scris", "escrigué", "ha escrit", "va escriure", "skrifaði", "menulis",
    "escribiu", "geskryf", "shkroi", "idatzi", "sumulat", "เขียน", "ने लिखा", "نوشت", "כתב", "كتب",
)  # fmt: skip
# Found in the lower-cased text by one case-sensitive alternation: an IGNORECASE one of these
# words costs a hundred times more on every line.
_VERB = re.compile("|".join(re.escape(v) for v in sorted(_VERBS, key=len, reverse=True)))
_WORD_END = re.compile(r"[^\s:：>)]*(\s*\(a\))?")  # the rest of the word: "napisał(a)", "написала"
_ADDRESS = re.compile(r"[\w.+'’-]+@[\w-]+(\.[\w-]+)+")
# A date or a time as clients print them: 2016-03-03, 03.03.2016, 3/3/16, 17:21, kl. 10.00,
# 10h30, 2016年3月3日, or a year.
_DATE = re.compile(
    r"\b(19|20)\d\d\b|\d{1,4}[./-]\d{1,2}[./-]\d{2,4}|\b\d{1,2}:\d\d\b|\bkl\.?\s*\d{1,2}[.:]\d\d|"
    r"\b\d{1,2}h\d\d\b|\d\s*[年月日]"
)
_TIME = re.compile(r"(?<!\d)\d{1,2}[:.h]\d\d(?!\d)")
_BRACKETED = re.compile(r"[<(\[\"](mailto:)?[\w.+'’-]+@[\w-]+(\.[\w-]+)+")
_DIGIT_OR_AT = re.compile(r"\d|@")
_HEADERISH = re.compile(r"\d|@|<")
_ENDS_WITH_COLON = re.compile(r"[:：]\s*$")
# A sentence ends and another begins: prose, not a header ("…bob@x.com by 3 May. Details:").
_SENTENCE = re.compile(r"[^\W\d_]{3}[.!?]\s+[A-Z][a-z]")
# Dashes, underscores or equal signs framing a title: "-----Original Message-----",
# "---- John Smith wrote ----", "-------- Message d'origine --------".
_FRAMED = re.compile(r"^\s*[-_=*]{2,}\s*(?P<title>[^-_=*].{0,200}?)\s*[-_=*]{2,}\s*$")
_FRAMED_HEAD = re.compile(r"^\s*[-_=*]{2,}\s*(?P<title>[^-_=*]{3,60}?)\s*[-_=*]{2,}")
_LEADING_FRAME = re.compile(r"^\s*[-_=*]{2,}\s*")
_TRAILING_FRAME = re.compile(r"\s*[-_=*]{2,}\s*$")
# Separators in the languages labels.FORWARD_SEPARATOR does not name.
_ORIGINAL = re.compile(
    r"original message|reply message|antwort nachricht|oprindelig (meddelelse|besked)|"
    r"opprinnelig melding|ursprungligt meddelande|alkuperäinen viesti|eredeti üzenet|"
    r"původní zpráva|pôvodná správa|mesaj original|izvorna poruka|originalna poruka|"
    r"оригинальное сообщение|исходное сообщение|αρχικό μήνυμα|orijinal mesaj",
    re.IGNORECASE,
)
# A rule or a separator line left above a cut quote ("________", "-----", "====").
_RULE_ONLY = re.compile(r"^[\s\-_=*~|]*$")  # rules, and the pipes an HTML table leaves
_TRACKER = "\u1427"  # "ᐧ" on a line of its own: what Gmail add-ons (Mailtrack, Streak) leave
# A line of a quote marked with `|` (older Gmail, some webmail): a quote only below a header.
_PIPED = re.compile(r"\s*\|(?:\s|$)")
# `Label: value` of any header, known or not ("Envoyé le :", "Message du :").
_LABEL_LINE = re.compile(
    r"^[\s>]*[*_]*\s*[^\W\d_][\w'’.-]*( [\w'’.-]+){0,3}\s*[*_]*\s*[:：]\s*[*_]*\s*(?P<value>.*)$"
)
# A reply attribution placed after the new text on the same line ("reply On Wed, … wrote:").
_MIDLINE_START = re.compile(r"(?:-{2,}\s*|\s)(?=(On|Am|Le|El|Il|Em|Op|Den)\s.{0,40}\d)")


def strip_quotes(text: str) -> str:
    """The new text of a reply: quote headers and what they quote cut, `>` lines dropped.

    Below a header followed by a `>` quote, the writer may go on (a bottom-posted or inline
    answer): that text is kept. Below a header with an unmarked quote (Outlook) everything is
    the original, unless nothing was written above it: then the text below is the new text.
    """
    lines = text.split("\n")
    plain = [_INVISIBLE.sub("", line) for line in lines]  # what the header patterns read
    out: list[str] = []
    below = -1  # where the text below the last `>` quote starts in `out`
    i = 0
    while i < len(lines):
        if _reply_above(plain[i]) and _written(out):
            break  # a help desk's "##- Please type your reply above this line -##": its mail below
        span, before = _header(plain, i)
        if span:
            if before:
                out.append(before)
            after = _next_text(plain, i + span)
            if after < len(lines) and (_quoted(plain[after]) or _pipe_quote(plain, after)):
                marked = _quoted if _quoted(plain[after]) else _piped
                i = _skip_quote(plain, after, marked)
                below = len(out)
                continue
            if _written(out):
                # Text between a `>` quote and an unmarked one is the older thread's, which
                # the client left unmarked, when the writer wrote above the first quote.
                if 0 < below < len(out) and _written(out[:below]):
                    del out[below:]
                break
            i += span
            continue
        if not _quoted(plain[i]) and plain[i].strip() != _TRACKER:
            out.append(lines[i])
        i += 1
    while out and _RULE_ONLY.match(out[-1]):
        out.pop()
    return _BLANKS.sub("\n\n", "\n".join(out)).strip()


# The line help desks (Zendesk, Freshdesk, Jira, Help Scout…) put over their message.
_REPLY_ABOVE = re.compile(
    r"(above this line|oberhalb dieser zeile|über dieser zeile|au-dessus de cette ligne|"
    r"por encima de esta l[ií]nea|sopra questa (riga|linea)|boven deze (regel|lijn)|"
    r"acima desta linha|powyżej tej linii|над этой строкой|この行より上)",
    re.IGNORECASE,
)
_REPLY_VERB = re.compile(
    r"(reply|respond|answer|antwort|répon|respon|rispond|antwoord|odpowi|ответ|返信)", re.IGNORECASE
)
_MARKER_LINE = 120


def _reply_above(line: str) -> bool:
    """The help desk's marker line: it says where to reply ("I drew it above this line" does not)."""
    return (
        len(line) <= _MARKER_LINE
        and _REPLY_ABOVE.search(line) is not None
        and _REPLY_VERB.search(line) is not None
    )


def _written(lines: list[str]) -> bool:
    return any(not _RULE_ONLY.match(line) for line in lines)


def _quoted(line: str) -> bool:
    return line.lstrip().startswith(">")


def _next_text(lines: list[str], i: int) -> int:
    while i < len(lines) and not lines[i].strip():
        i += 1
    return i


def _piped(line: str) -> bool:
    return _PIPED.match(line) is not None


def _pipe_quote(lines: list[str], i: int) -> bool:
    """`|` lines at `i` (two in a row, or one alone before a blank line, as Sylpheed quotes one
    line): a quote, when a header is above; a table's rows, which end in `|` too, are not one."""
    rows = lines[i : i + 2]
    if len(rows) == 2 and not _piped(rows[1]) and not rows[1].strip():
        rows = rows[:1]  # one quoted line, then the answer below a blank line
    elif len(rows) < 2:
        return False
    table = any(r.count("|") > 1 and r.rstrip().endswith("|") for r in rows)
    return all(_piped(r) for r in rows) and not table


def _skip_quote(lines: list[str], i: int, marked: Callable[[str], bool] = _quoted) -> int:
    """The line after a `>` (or `|`) quote starting at `i`; a line the client wrapped out of the
    quote (unmarked, between two quoted lines) belongs to it."""
    while i < len(lines):
        wrapped = 0 < i < len(lines) - 1 and marked(lines[i - 1]) and marked(lines[i + 1])
        if not (marked(lines[i]) or not lines[i].strip() or wrapped):
            break
        i += 1
    return i


def _header(lines: list[str], i: int) -> tuple[int, str]:
    """(lines the quote header starting at line `i` takes, 0 if none; text before it on line i)."""
    line = lines[i]
    if not line.strip() or (not _MAY_START.search(line) and not _may_start_next(lines, i)):
        return 0, ""
    if _quoted(line):
        return (1 if _bare_wrote(line) else 0), ""
    if _separator(lines, i):
        start = _next_text(lines, i + 1)
        block = _block(lines, start)
        return (start - i + block if block else 1), ""
    span = _block(lines, i)
    if span:
        return span, ""
    # New text and an attribution on one line: the header starts at "On <date>…" or a dash run.
    for match in _MIDLINE_START.finditer(line, max(0, len(line) - _MAX_HEADER_CHARS)):
        before = line[: match.start()].rstrip(" -")
        rest = [line[match.end() :], *lines[i + 1 : i + 20]]
        span = _attribution(rest, 0) if before.strip() else 0
        if span:
            return span, before
    if _QUOTE_MARK_VERB.search(line):  # Outlook Express: "Jane <j@x> wrote in message news:<id>..."
        if _NEWS_ID.search(line):
            return 1, ""
        if i + 1 < len(lines) and _NEWS_ID.match(lines[i + 1]):
            return 2, ""  # the message id wrapped onto the next line
    return _attribution(lines, i), ""


# Outlook Express and Windows Mail quote a newsgroup post with its message id on the next line.
_NEWS_ID = re.compile(r"(?:^|\s)news:[^\s@]+@\S+\.\.\.\s*$")
_QUOTE_MARK_VERB = re.compile(
    r"(wrote in message|schreef in (bericht|berichtnieuws)|schrieb im (newsbeitrag|beitrag)|"
    r"a écrit dans le message|escribió en el mensaje|ha scritto nel messaggio|"
    r"napisał\(a\) w wiadomości|skrev i en meddelelse|skrev i meddelandet)",
    re.IGNORECASE,
)


# Every header, separator, block or attribution holds one of these on its first line or the
# next (a date's digits, an address's @ or <, a label's colon, a dash frame, a quote mark): a
# line of prose without any is skipped before the costlier shape tests.
_MAY_START = re.compile(r"[:：@<>\-_=*\d]")


def _may_start_next(lines: list[str], i: int) -> bool:
    return i + 1 < len(lines) and _MAY_START.search(lines[i + 1]) is not None


def _separator(lines: list[str], i: int) -> bool:
    """A separator line: the known ones, or a title framed by dashes above a header block."""
    line = lines[i]
    if FORWARD_SEPARATOR.match(line) or FORWARD_INTRO.match(line):
        return True
    head = _FRAMED_HEAD.match(line)
    if head is not None and line[head.end() :].strip():
        # "-------- Ursprüngliche Nachricht --------Von: …": the block run on after the title.
        title = head.group("title")
        return bool(_ORIGINAL.search(title) or FORWARD_SEPARATOR.match(head.group(0)))
    framed = _FRAMED.match(line)
    if framed is None:
        return False
    if _ORIGINAL.search(framed.group("title")):
        return True
    return _block(lines, _next_text(lines, i + 1)) > 0


def _attribution(lines: list[str], i: int) -> int:
    """The number of lines (1 to 3) of a reply attribution starting at line `i`, 0 if none."""
    for n in range(_MAX_HEADER_LINES):
        if i + n >= len(lines) or not _continues(lines, i, i + n):
            return 0
        if not _qualifies(lines, i, i + n):
            continue
        # Wrapped over lines, it starts on a line with something of a header on it, and not
        # above a later line that starts it with a date: "Hi," or a sentence above is new text.
        if n and not (_HEADERISH.search(lines[i]) or _verb(lines[i]) is not None):
            return 0
        if any(
            _starts(lines, k, i + n) for k in range(i + 1, i + n + 1) if not _wraps(lines[k - 1])
        ):
            return 0
        if i + n + 1 < len(lines) and _bare_wrote(lines[i + n + 1]):
            return n + 2
        return n + 1
    return 0


def _wraps(line: str) -> bool:
    """A date cut off by a comma ("On Nov 21, 2014,"): Apple Mail wraps its attribution so, and
    the next line ("at 10:18, John <j@x> wrote:") goes on with it rather than starting one."""
    return line.rstrip().endswith(",") and _DATE.search(line) is not None


def _continues(lines: list[str], i: int, end: int) -> bool:
    """Line `end` may be part of a header starting at `i` (not blank, not quoted)."""
    line = lines[end]
    if not line.strip():
        return False
    if end > i and _quoted(line):
        # A wrapped address may put its closing bracket on the next line: "<rita@x.com\n>:".
        before = " ".join(lines[i:end])
        return before.count("<") > before.count(">")
    return True


def _starts(lines: list[str], start: int, end: int) -> bool:
    """Lines `start`..`end` are an attribution of their own, opening with a date and naming
    someone: "I have 2 questions" above "On 3 May 2016, Rita <r@x> wrote:" is not part of it."""
    rest = " ".join(lines[start : end + 1])
    named = _ADDRESS.search(rest) is not None or _verb(rest) is not None
    return bool(_DATE.search(lines[start]) and named and _qualifies(lines, start, end))


def _qualifies(lines: list[str], start: int, end: int) -> bool:
    last = lines[end].rstrip()
    # Cheap first: a header ends in a colon, a verb or a dash frame, or a `>` quote follows it.
    ends = last.endswith((":", "：", "-")) or _ends_in_verb(last[-_VERB_TAIL:])
    follows = None if ends else _quote_follows(lines, end + 1)
    if not (ends or follows):
        return False
    joined = " ".join(line.strip() for line in lines[start : end + 1])
    if len(joined) > _MAX_HEADER_CHARS:
        return False
    # Every attribution names a date, an address or a verb.
    if not (_DIGIT_OR_AT.search(joined) or _verb(joined) is not None):
        return False
    if follows is None:
        follows = _quote_follows(lines, end + 1)
    return _is_attribution(joined, quote_follows=follows)


@lru_cache(maxsize=1024)  # a line's end is asked once for each header it may end (up to three)
def _ends_in_verb(tail: str) -> bool:
    return _verb(tail) is not None


def _verb(text: str) -> str | None:
    """What follows the "wrote" of an attribution in `text` (lower-cased), None without one."""
    low = text.lower()
    for match in _VERB.finditer(low):
        start = match.start()
        # A Latin verb starts a word ("wrote", not "ghostwrote"); other scripts have no spaces.
        if match.group().isascii() and start and low[start - 1].isalnum():
            continue
        word = _WORD_END.match(low, match.end())
        return low[word.end() if word else match.end() :]
    return None


def _bare_wrote(line: str) -> bool:
    """`> wrote:` alone: the end of an attribution whose address the client wrapped."""
    rest = line.lstrip(" >")
    after = _verb(rest) if _ENDS_WITH_COLON.search(rest) else None
    return after is not None and not after.strip(" :：") and _VERB.match(rest.lower()) is not None


def _quote_follows(lines: list[str], i: int) -> bool:
    after = _next_text(lines, i)
    return after < len(lines) and (_quoted(lines[after]) or _pipe_quote(lines, after))


def _is_attribution(text: str, *, quote_follows: bool) -> bool:
    framed = _FRAMED.match(text)
    body = framed.group("title") if framed else text
    body = _TRAILING_FRAME.sub("", _LEADING_FRAME.sub("", body))
    body = re.sub(r"<\s+", "<", re.sub(r"\s+>", ">", body))
    address = _ADDRESS.search(body) is not None
    dated = _DATE.search(body) is not None
    wrote = _verb(body)
    colon = _ENDS_WITH_COLON.search(body) is not None
    # "… John Doe <john@doe.com> wrote" and "---- John Smith wrote ----": the verb ends it.
    ends_wrote = wrote is not None and not wrote.strip(" :：>)\"'")
    if framed is not None and wrote is not None:
        return True
    if wrote is not None and (colon or ends_wrote) and (address or dated or quote_follows):
        return True
    if _SENTENCE.search(body):
        return False
    if colon and address and dated and (_TIME.search(body) or _BRACKETED.search(body)):
        # "2016-03-03 17:21 GMT+01:00 Rita <r@x>:" in any language; a sentence naming an
        # address and a day ("… by 3 May to pat@x.com:") gives no time and no brackets.
        return True
    return quote_follows and (address or dated) and (colon or body.rstrip().endswith(">"))


def _block(lines: list[str], i: int) -> int:
    """The number of lines of an Outlook-style header block starting at line `i`, 0 if none.

    A header label first (From, Date; Outlook.com and French Outlook put To or Subject first),
    then other `Label: value` lines; a value the client wrapped onto the next line, a label whose
    value sits on the next line (an HTML table as text) and blank lines between them are part of
    it. It counts as a header when it names a From and another header
    and either an address or a Subject, so "From: Berlin / To: Munich" in an inquiry is not one.
    """
    if i >= len(lines) or (":" not in lines[i] and "：" not in lines[i]):
        return 0  # every header line has its colon, known labels and unknown ones alike
    first = HEADER_LINE.match(lines[i])
    if first is None or canonical(first.group("label")) not in _BLOCK_START:
        return _unknown_block(lines, i)
    seen: list[str] = []
    address = False
    end = i
    j = i
    loose = 0  # lines in a row that are not `Label: value`
    while j < len(lines) and j < i + _MAX_BLOCK_LINES:
        line = lines[j]
        known = HEADER_LINE.match(line)
        if known is not None:
            seen.append(canonical(known.group("label")))
            loose = 0
        elif _LABEL_LINE.match(line) and not _SENTENCE.search(line):
            loose = 0
        elif not line.strip() or (loose == 0 and j > i and len(line) < 200):
            loose += 1
            if loose > 1:
                break
            j += 1
            continue
        else:
            break
        address = address or _ADDRESS.search(line) is not None
        end = j + 1
        j += 1
    kinds = set(seen)
    if "from" in kinds and len(kinds) >= 2 and (address or "subject" in kinds):
        return end - i
    if seen[0] == "date" and len(kinds) >= 2 and address:
        return end - i
    return 0


_BLOCK_START = frozenset({"from", "date", "to", "cc", "subject"})


def _unknown_block(lines: list[str], i: int) -> int:
    """A header block in a language the labels do not know ("Dari: Sam <sam@x>" / "Dikirim: …
    17:21" / "Kepada: …" / "Subjek: …"): four `Label: value` lines in a row, the first naming
    someone by a bracketed address as a From does, another giving a time. Details a person
    lists ("Email: pat@x.com") name a bare address, so they are not taken for one."""
    first = _LABEL_LINE.match(lines[i])
    if first is None or not _BRACKETED.search(first.group("value")):
        return 0
    end = i + 1
    while end < len(lines) and end < i + _MAX_BLOCK_LINES:
        label = _LABEL_LINE.match(lines[end])
        if label is None or _SENTENCE.search(lines[end]):
            break
        end += 1
    block = lines[i + 1 : end]
    if end - i < _MIN_UNKNOWN_BLOCK or not any(_TIME.search(line) for line in block):
        return 0
    return end - i
