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
        "wysłany", "datums",
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
_ALTERNATION = "|".join(re.escape(x) for x in sorted(_CANONICAL, key=len, reverse=True))

# A label and its colon inside a line, where a header block was run together onto one line.
_INLINE_LABEL = re.compile(
    rf"(?:^|(?<=[\s*_]))(?P<label>{_ALTERNATION})\s*[*_]*\s*[:：]", re.IGNORECASE
)
_MIN_RUN_TOGETHER = 3  # labels of different headers, one of them From: the shape of a block


def split_run_together(line: str) -> list[str]:
    """A header block collapsed onto one line back into one line per header; any other line as
    it is. Yahoo and some web clients write `----- Forwarded Message ----- From: Jane <j@x>
    To: Rita <r@y> Sent: Monday, … Subject: Quote`: the structure (a From and at least two other
    headers' labels, each followed by its colon, a date among them and an address in the From)
    says it is a block, in any of the languages."""
    if line.count(":") + line.count("：") < _MIN_RUN_TOGETHER:
        return [line]
    if "@" not in line:
        return [line]
    starts: list[int] = []
    seen: dict[str, int] = {}
    for match in _INLINE_LABEL.finditer(line):
        key = canonical(match.group("label"))
        if key not in seen:  # a value may hold a label-like word: the first of each counts
            seen[key] = len(starts)
            starts.append(match.start())
    if not {"from", "date"} <= seen.keys() or len(seen) < _MIN_RUN_TOGETHER:
        return [line]
    ends = [*starts[1:], len(line)]
    pieces = [line[: starts[0]], *(line[a:b] for a, b in zip(starts, ends, strict=True))]
    if "@" not in pieces[1 + seen["from"]]:  # a block names the sender's address
        return [line]
    return [p.rstrip() for p in pieces if p.strip()]


# `*From:* Jane` (Gmail HTML bold as text), `De :` (French space before the colon), `> From:`.
HEADER_LINE = re.compile(
    rf"^[\s>]*[*_]*\s*(?P<label>{_ALTERNATION})\s*[*_]*\s*[:：]\s*[*_]*\s*(?P<value>.*?)[*_\s]*$",
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
