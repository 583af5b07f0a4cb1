"""Localised header labels and separators that mail clients write above quoted or forwarded mail."""

from __future__ import annotations

import re

# Label -> canonical header, as Outlook, Gmail, Apple Mail and Thunderbird write them in the
# languages our reps use (English, German, French, Spanish, Italian, Portuguese, Dutch, Nordic).
_LABELS: dict[str, tuple[str, ...]] = {
    "from": ("from", "von", "de", "da", "van", "fra", "från", "od", "от", "absender", "expéditeur"),
    "date": (
        "date", "sent", "gesendet", "datum", "envoyé", "enviado el", "enviado", "inviato",
        "data", "enviada em", "enviada", "fecha", "sendt", "skickat", "verzonden", "wysłano",
    ),
    "to": ("to", "an", "à", "a", "para", "til", "till", "aan", "do", "destinatario", "empfänger"),
    "cc": ("cc", "bcc", "kopie", "cco", "ccn", "copie à", "copia"),
    "subject": (
        "subject", "betreff", "objet", "asunto", "oggetto", "assunto", "onderwerp", "emne",
        "ämne", "temat", "sujet",
    ),
    "reply-to": ("reply-to", "antwort an", "répondre à", "responder a"),
}  # fmt: skip
_CANONICAL = {label: key for key, labels in _LABELS.items() for label in labels}
_ALTERNATION = "|".join(re.escape(x) for x in sorted(_CANONICAL, key=len, reverse=True))

# `*From:* Jane` (Gmail HTML bold as text), `De :` (French space before the colon), `> From:`.
HEADER_LINE = re.compile(
    rf"^[\s>]*[*_]*\s*(?P<label>{_ALTERNATION})\s*[*_]*\s*:\s*[*_]*\s*(?P<value>.*?)[*_\s]*$",
    re.IGNORECASE,
)

FORWARD_SEPARATOR = re.compile(
    r"^[\s>]*[-_=*]{2,}\s*("
    r"forwarded message|original message|forwarded message follows|weitergeleitete nachricht|"
    r"ursprüngliche nachricht|original-nachricht|message transféré|message d'origine|"
    r"message original|mensaje reenviado|mensaje original|messaggio inoltrato|"
    r"messaggio originale|mensagem encaminhada|mensagem original|mensagem reencaminhada|"
    r"doorgestuurd bericht|oorspronkelijk bericht|videresendt melding|vidarebefordrat meddelande"
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

# A reply quote starts with an attribution line: "On … wrote:" and its translations.
ATTRIBUTION = re.compile(
    r"^[\s>]*("
    r"on\b.{0,300}\bwrote|am\b.{0,300}\bschrieb\b.{0,200}|le\b.{0,300}\ba écrit|"
    r"el\b.{0,300}\bescribió|il\b.{0,300}\bha scritto|em\b.{0,300}\bescreveu|"
    r"op\b.{0,300}\bschreef\b.{0,200}|den\b.{0,300}\bskrev\b.{0,200}|"
    r".{0,300}\bнаписал[аи]?|\d{1,4}[./-]\d{1,2}[./-]\d{1,4}\b.{0,200}@.{0,200}"  # noqa: RUF001 - Russian "написал" (wrote)
    r")\s*:\s*$",
    re.IGNORECASE,
)
ATTRIBUTION_START = re.compile(r"^[\s>]*(on|am|le|el|il|em|op|den|\d{1,4}[./-])\b", re.IGNORECASE)


def canonical(label: str) -> str:
    """The canonical header name for a localised label (`Betreff` -> `subject`)."""
    return _CANONICAL[label.lower()]


def unquote(line: str) -> str:
    """A line without its leading `>` quote markers."""
    return re.sub(r"^(\s*>)+\s?", "", line)
