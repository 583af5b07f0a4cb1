"""Localised header labels and separators that mail clients write above quoted or forwarded mail."""

# ruff: noqa: RUF001 - the vocabulary is Cyrillic, Turkish and CJK text on purpose

from __future__ import annotations

import re

# Label -> canonical header, as Outlook, Gmail, Apple Mail and Thunderbird write them in the
# languages our reps use (English, German, French, Spanish, Italian, Portuguese, Dutch, Nordic).
_LABELS: dict[str, tuple[str, ...]] = {
    "from": (
        "from", "von", "de", "da", "van", "fra", "från", "od", "от", "absender", "expéditeur",
        "kimden", "από", "من", "מאת", "发件人", "發件人", "寄件者", "差出人", "送信者", "보낸 사람",
        "lähettäjä", "feladó", "odesílatel", "de la", "šalje", "pošiljatelj", "saatja", "від",
        "odesielateľ",
    ),
    "date": (
        "date", "sent", "gesendet", "datum", "envoyé", "enviado el", "enviado", "inviato",
        "data", "enviada em", "enviada", "fecha", "sendt", "skickat", "verzonden", "wysłano",
        "отправлено", "дата", "gönderildi", "tarih", "στάλθηκε", "ημερομηνία", "تاريخ الإرسال",
        "التاريخ", "נשלח", "תאריך", "发送时间", "發送時間", "时间", "日期", "送信日時", "日付",
        "보낸 날짜", "날짜", "lähetetty", "elküldve", "odesláno", "dato", "päivämäärä", "päiväys",
        "dátum", "trimis", "dată", "poslano", "saadetud", "kuupäev", "odoslané", "надіслано",
        "wysłany", "datums", "message du",
    ),
    "to": (
        "to", "an", "à", "a", "para", "til", "till", "aan", "do", "destinatario", "empfänger",
        "pour", "кому", "kime", "προς", "إلى", "אל", "收件人", "收件者", "宛先", "받는 사람",
        "vastaanottaja", "címzett", "komu", "către", "prima", "kellele", "saaja", "адресат",
    ),
    "cc": (
        "cc", "bcc", "kopie", "cco", "ccn", "copie à", "copia", "копия", "bilgi", "κοιν",
        "نسخة", "עותק", "抄送", "副本", "참조", "másolat", "kopio",
    ),
    "subject": (
        "subject", "betreff", "objet", "asunto", "oggetto", "assunto", "onderwerp", "emne",
        "ämne", "temat", "sujet", "тема", "konu", "θέμα", "الموضوع", "נושא", "主题", "主旨",
        "主題", "件名", "제목", "aihe", "tárgy", "předmět", "subiect", "teema", "predmet",
        "тема листа",
    ),
    "reply-to": ("reply-to", "antwort an", "répondre à", "responder a"),
}  # fmt: skip
_CANONICAL = {label: key for key, labels in _LABELS.items() for label in labels}
# Labels that name an address that is never the sender (delivery reports, message ids): a block
# whose first address sits under one of them is not a forwarded header.
_NOT_SENDER = (
    "recipient", "final-recipient", "original-recipient", "delivered-to", "x-original-to",
    "envelope-to", "return-path", "message-id", "in-reply-to", "references", "organizer",
    "attendees", "required", "optional",
)  # fmt: skip
_KNOWN = {**_CANONICAL, **dict.fromkeys(_NOT_SENDER, "other")}
_ALTERNATION = "|".join(re.escape(x) for x in sorted(_CANONICAL, key=len, reverse=True))

_LONGEST_LABEL = max(map(len, _CANONICAL))
_COLON = re.compile("[:\uff1a]")
# Any label right after an address's closing bracket: `…<j@x.com>Komu:` in whatever language.
_AFTER_ADDRESS = re.compile(r">\s*(?P<label>[^\W\d_]+(?:[ .'’-][^\W\d_]+){0,2})\s*[:：]")
# …and the first label after the separator the line starts with (`----- X ----- Fra: …`).
_AFTER_SEPARATOR = re.compile(
    r"^[\s>]*+[-_=*]{2,}+[^@<>]{1,80}?[-_=*]{2,}\s*(?P<label>[^\W\d_]+(?:[ .'’-][^\W\d_]+){0,2})\s*[:：]"
)
_MIN_RUN_TOGETHER = 3  # labelled pieces, one with the sender's address and one a date


def split_run_together(line: str) -> list[str]:
    """A header block collapsed onto one line back into one line per header; any other line as
    it is. Yahoo and some web clients write `----- Forwarded Message ----- From: Jane <j@x>To:
    Rita <r@y>Sent: Monday, … GMT+1Subject: Quote`, labels glued to the previous value. The
    structure says it is a block: at least three labelled pieces, the sender's address in the
    first address-bearing one, a date in another, and labels we know (or a separator) for the
    rest. A label glued to a word is only taken when it is capitalised after a capital
    (`CETEmne:`, a time zone and then the label), never inside a word (`Plan:`, `mailto:`)."""
    # A label's colon is followed by a space (or is CJK's full-width one); `mailto:` is not.
    colons = line.count(": ") + line.count(":\t") + line.count("：")
    if colons < _MIN_RUN_TOGETHER or "@" not in line:
        return [line]
    starts: dict[int, str | None] = {}
    seen: set[str] = set()
    for at, label in _inline_labels(line):
        before = line[at - 1] if at else " "
        if before.isalpha() and not (before.isupper() and label[0].isupper()):
            continue
        if line[max(0, at - 4) : at].lower() == "mail":
            continue  # mailto:
        key = canonical(label)
        if key not in seen:  # a value may hold a label-like word: the first of each counts
            seen.add(key)
            starts[at] = key
    for match in (*_AFTER_SEPARATOR.finditer(line), *_AFTER_ADDRESS.finditer(line)):
        starts.setdefault(match.start("label"), known(match.group("label")))
    if len(starts) < _MIN_RUN_TOGETHER:
        return [line]
    order = sorted(starts)
    ends = [*order[1:], len(line)]
    pieces = [(starts[a], line[a:b]) for a, b in zip(order, ends, strict=True)]
    sender = next((p for k, p in pieces if k == "from"), None)
    if sender is None:
        first = next((p for _, p in pieces if "@" in p), None)
        sender = first if first is not None and known_label(first) is None else None
    if sender is None or "@" not in sender:  # a block names the sender's address
        return [line]
    dated = "date" in seen or any(DATE_LIKE.search(p) for _, p in pieces if p is not sender)
    explicit = "from" in seen or "--" in line[: order[0]]
    if not dated or not (explicit or sum(k is not None for k, _ in pieces) >= 2):
        return [line]
    head = line[: order[0]]
    return [p.rstrip() for p in (head, *(p for _, p in pieces)) if p.strip()]


def _inline_labels(line: str) -> list[tuple[int, str]]:
    """(start, label) of each known label written right before a colon anywhere in the line,
    the longest that fits. A dictionary look-up at each colon, not a scan of every position
    with an alternation of every label (which costs a millisecond on a Yahoo line)."""
    found: list[tuple[int, str]] = []
    for colon in _COLON.finditer(line):
        offset = max(0, colon.start() - _LONGEST_LABEL - 8)  # room for `*From* :`
        head = line[offset : colon.start()].rstrip(" \t*_")
        window = head[-_LONGEST_LABEL:].lower()
        for size in range(len(window), 0, -1):
            if window[-size:] in _CANONICAL:
                found.append((offset + len(head) - size, head[len(head) - size :]))
                break
    return found


# A value that holds a date or a time: a year, `10:00` / `12.46`, `28/10/2021`, `2021年`.
DATE_LIKE = re.compile(
    r"(?<!\d)(?:19|20)\d\d(?!\d)|(?<![\d.:])\d{1,2}[:.]\d\d(?!\d)|\d{1,2}[./-]\d{1,2}[./-]\d{2,4}|\d{4}\s*年"
)
# Any `Label: value` line, in any language or script: one to four words of letters before the
# colon (`De la`, `Enviado el`, `От кого`, `보낸 사람`, `Reply-To`), bold or quoted or not.
ANY_HEADER = re.compile(
    r"^[\s>]*[*_]*\s*(?P<label>[^\W\d_]+(?:[ .'’-]{1,2}[^\W\d_]+){0,3}\.?)\s*[*_]*\s*[:：]"
    r"\s*[*_]*\s*(?P<value>.*?)[*_\s]*$"
)
_LABEL_LIMIT = 40
# A line of dashes around a few words (`-------- Пересылаемое сообщение --------`, `-----Original
# Message-----`), in whatever language: the shape clients draw above a forwarded header block.
ANY_SEPARATOR = re.compile(r"^[\s>]*[-_=*]{2,}\s*[^\W\d_][^@<>]{1,80}?\s*[-_=*]{2,}\s*$")
# A short sentence ending in a colon above the block (`Začátek přeposílané zprávy:`, `Start på
# videresendt besked:`, `Forwarded message:`): at least two words, no address, no digits.
ANY_INTRO = re.compile(r"^[\s>]*[^\W\d_]+(?:[ '’-][^\W\d_]+){1,7}\s*[:：]\s*$")


def known(label: str) -> str | None:
    """The canonical header for a label we know in some language, else None."""
    return _KNOWN.get(" ".join(label.lower().split()))


def known_label(piece: str) -> str | None:
    """The canonical header of a `Label: value` piece whose label we know, else None."""
    match = ANY_HEADER.match(piece)
    return known(match.group("label")) if match else None


def any_header(line: str) -> tuple[str, str] | None:
    """(label, value) of a `Label: value` line in any language, or None. A URL is not one."""
    match = ANY_HEADER.match(line)
    if match is None or len(match.group("label")) > _LABEL_LIMIT:
        return None
    value = match.group("value")
    if value.startswith("//"):
        return None
    return match.group("label"), value


# `*From:* Jane` (Gmail HTML bold as text), `De :` (French space before the colon), `> From:`.
HEADER_LINE = re.compile(
    rf"^[\s>]*+[*_]*+\s*+(?P<label>{_ALTERNATION})\s*+[*_]*+\s*+[:：]\s*+[*_]*+\s*+"
    r"(?P<value>(?:.*[^*_\s])?)[*_\s]*$",
    re.IGNORECASE,
)

FORWARD_SEPARATOR = re.compile(
    r"^[\s>]*[-_=*]{2,}\s*("
    r"forwarded message|original message|forwarded message follows|weitergeleitete nachricht|"
    r"ursprüngliche nachricht|original-nachricht|message transféré|message d'origine|"
    r"message original|mensaje reenviado|mensaje original|messaggio inoltrato|"
    r"messaggio originale|mensagem encaminhada|mensagem original|mensagem reencaminhada|"
    r"doorgestuurd bericht|oorspronkelijk bericht|videresendt melding|vidarebefordrat meddelande|"
    r"пересылаемое сообщение|исходное сообщение|пересланное сообщение|wiadomość przekazana|"
    r"oryginalna wiadomość|iletilen ileti|özgün ileti|προωθημένο μήνυμα|αρχικό μήνυμα|"
    r"原始邮件|原始郵件|转发邮件|轉寄郵件|原文|元のメッセージ|転送メッセージ|원본 메시지|전달된 메시지"
    r")\s*[-_=*]{2,}\s*$",
    re.IGNORECASE,
)
FORWARD_INTRO = re.compile(
    r"^[\s>]*(begin forwarded message|inizio messaggio inoltrato|"
    r"anfang der weitergeleiteten (nachricht|e-mail)|début du message (réexpédié|transféré)|"
    r"comienzo del mensaje reenviado|in[ií]cio da mensagem (reencaminhada|encaminhada)|"
    r"doorgestuurd bericht)\s*:?\s*$",
    re.IGNORECASE,
)
# Outlook draws a line of underscores above its From/Sent/To/Subject block.
RULE = re.compile(r"^[\s>]*_{10,}\s*$")

# A reply quote starts with an attribution line: "On … wrote:" and its translations, or a date
# and the quoted author's <address> (Japanese, Russian and Hebrew Gmail: "2026年11月2日(月) 9:00
# Rita <rita@x>:"). The verbs are matched anywhere so each client's word order works.
_WROTE = (
    r"wrote|a écrit|escribió|ha scritto|escreveu|schreef|skrev|schrieb\b.{0,200}|"
    r"написал[аи]?|pisze|napisał[a]?|yazdı|έγραψε|kirjoitti|írta|napsal[a]?"
)
ATTRIBUTION = re.compile(
    r"^[\s>]*("
    rf".{{0,300}}\b({_WROTE})|.{{0,300}}(写道|寫道|님이 작성)|"
    r".{0,300}(\d{4}\s*年|\d{1,4}[./-]\d{1,2}[./-]\d{1,4}|\b(19|20)\d\d\b)"
    r".{0,300}<[^<>\s]+@[^<>\s]+>.{0,100}|"
    r"\d{1,4}[./-]\d{1,2}[./-]\d{1,4}\b.{0,200}@.{0,200}"
    r")\s*[:：]\s*$",
    re.IGNORECASE,
)
ATTRIBUTION_START = re.compile(
    r"^[\s>]*((on|am|le|el|il|em|op|den|w dniu|στις|\d{1,4}[./-])\b|在|\d{4}\s*[年년])",
    re.IGNORECASE,
)


def canonical(label: str) -> str:
    """The canonical header name for a localised label (`Betreff` -> `subject`)."""
    return _CANONICAL[label.lower()]


def unquote(line: str) -> str:
    """A line without its leading `>` quote markers."""
    return re.sub(r"^(\s*>)+\s?", "", line)
