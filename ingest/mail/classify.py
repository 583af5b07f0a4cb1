"""Mail archived but never a lead: auto-replies (RFC 3834), bounces (RFC 3464), bulk and lists."""

# ruff: noqa: RUF001 - the vocabulary is Cyrillic, Turkish and CJK text on purpose

from __future__ import annotations

import re
from email.message import Message

from ingest.inquiry import NotALead
from ingest.mail.body import content_type
from ingest.mail.headers import first
from ingest.mail.receipts import calendar_response, read_receipt

# Subjects only an auto-responder writes. Phrases a person could open a subject with ("Out of
# office next week - need the quote today") count only when a colon, the end or "until" follows.
_AUTO_SUBJECT = re.compile(
    r"^\W*(automatic reply|auto[- ]?reply|autoreply|auto[- ]?response|abwesenheitsnotiz|"
    r"automatische antwort|r[ée]ponse automatique|respuesta autom[áa]tica|risposta automatica|"
    r"resposta autom[áa]tica|automatisch antwoord|autosvar|automaattinen vastaus|"
    r"automatyczna odpowied[źz]|automatick[áa] odpov[ěe][ďd]|otomatik (yan[ıi]t|cevap)|"
    r"αυτόματη απάντηση|автоматический ответ|автоответ|自动回复|自動回覆|自動回复|自動応答|"
    r"自動返信|자동 응답|자동응답|رد تلقائي|תשובה אוטומטית|"
    r"((out of (the )?office|on vacation|away from (the )?office|absence du bureau|"
    r"fuera de la oficina|fuori ufficio|aus[êe]ncia tempor[áa]ria|abwesend|nicht im büro|"
    r"afwezig|poza biurem)(\s*auto[- ]?reply)?\s*([:：(]|-\s*re:|$|until\b|bis\b|jusqu))|"
    r"auto:\s.{0,200}\b(out of (the )?office|abwesend|absent))",
    re.IGNORECASE,
)
# Delivery reports as mail servers and gateways title them, in the languages they localise to.
_BOUNCE_SUBJECT = re.compile(
    r"(undeliverable|undelivered mail|delivery status notification|mail delivery failed|"
    r"delivery failure|delivery has failed|returned mail|failure notice|unzustellbar|"
    r"nicht zustellbar|mail delivery (system|subsystem)|(your )?message (could not|couldn.t|"
    r"was not|wasn.t) (be )?delivered|delivery (notification|report): ?(delay|fail)|"
    r"non remis|non distribu[ée]|[ée]chec de (la )?(remise|distribution)|"
    r"notification d.[ée]tat de (la )?(remise|distribution)|"
    r"no se (puede|pudo) entregar|notificaci[óo]n de estado de (la )?entrega|"
    r"impossibile recapitare|non recapitabile|notifica sullo stato del recapito|"
    r"n[ãa]o (é poss[íi]vel|foi poss[íi]vel) entregar|"
    r"onbestelbaar|kan niet worden bezorgd|niedostarczaln|nie mo[żz]na dostarczy[ćc]|"
    r"nedoru[čc]iteln|ej levererbar|kunde inte levereras|"
    r"ikke levert|kan ikke leveres|kunne ikke leveres|ei voitu toimittaa|"
    r"kézbesíthetetlen|nedostavljiv|teslim edilemedi|iletilemedi|"
    r"недоставлен|не доставлен|не может быть доставлен|не вдалося доставити|"
    r"(メール)?(配信不能|配信エラー|配送エラー|送信エラー)|未配達|宛先不明|"
    r"退信|无法投递|無法投遞|投递失败|发送失败|전송 실패|배달 실패|반송)",
    re.IGNORECASE,
)
_BOUNCE_SENDER = re.compile(r"(^|[<\s\"])(mailer-daemon|postmaster)@", re.IGNORECASE)
# Machine reports inside a message: delivery status, complaint feedback (RFC 5965 ARF), the
# returned headers of a bounce.
_REPORT_PARTS = frozenset(
    {
        "message/delivery-status",
        "message/feedback-report",
        "message/global-delivery-status",
        "text/rfc822-headers",
    }
)
_MAX_PARTS_SEEN = 50
# List servers writing about a post (not a member, awaiting moderation), not a person.
_LIST_SERVER = re.compile(
    r"(^|[<\s\"])([^@<\s\"]+-(owner|bounces?|request)|owner-[^@<\s\"]+|mailman|majordomo|"
    r"listserv|sympa|ezmlm)@",
    re.IGNORECASE,
)
_SUPPRESS = re.compile(r"\b(oof|autoreply|all)\b", re.IGNORECASE)


def classify(msg: Message) -> NotALead | None:
    """A NotALead when the headers say auto-reply, bounce or bulk mail, else None."""
    for check in (_report_receipt, _bounce, _auto_reply, _bulk, calendar_response):
        verdict = check(msg)
        if verdict is not None:
            return verdict
    return None


def _report_receipt(msg: Message) -> NotALead | None:
    # A multipart/report of report-type=disposition-notification is a read receipt, not a bounce.
    return read_receipt(msg, None, "")


def _bounce(msg: Message) -> NotALead | None:
    ctype = content_type(msg)
    if ctype in ("multipart/report", "message/delivery-status", "message/feedback-report"):
        return NotALead("bounce", f"delivery report ({ctype})")
    if msg.get("x-amz-sns-message-type") is not None or msg.get("x-amz-sns-topic-arn"):
        return NotALead("bounce", "Amazon SNS notification (SES bounce or complaint)")
    if msg.is_multipart():
        for n, part in enumerate(msg.walk()):
            if n > _MAX_PARTS_SEEN:
                break
            inner = content_type(part)
            if inner in _REPORT_PARTS:
                return NotALead("bounce", f"a machine report inside ({inner})")
    sender = " ".join(filter(None, (first(msg, "from"), first(msg, "sender"))))
    if _BOUNCE_SENDER.search(sender):
        return NotALead("bounce", "sent by a mailer daemon or postmaster")
    if msg.get("x-failed-recipients") is not None:
        return NotALead("bounce", "X-Failed-Recipients header present (Exim bounce)")
    subject = first(msg, "subject") or ""
    # Anchored at the start: a customer may well write "Re: undeliverable parcel".
    if _BOUNCE_SUBJECT.match(subject.strip()):
        return NotALead("bounce", f"bounce subject: {subject[:80]!r}")
    return None


def _auto_reply(msg: Message) -> NotALead | None:
    submitted = (first(msg, "auto-submitted", limit=100) or "").lower()
    if submitted and not submitted.startswith("no"):
        return NotALead("auto_reply", f"Auto-Submitted: {submitted} (RFC 3834)")
    for marker in ("x-autoreply", "x-autorespond", "x-autoresponse"):
        if msg.get(marker) is not None:
            return NotALead("auto_reply", f"{marker} header present")
    suppress = first(msg, "x-auto-response-suppress", limit=200) or ""
    if _SUPPRESS.search(suppress):
        return NotALead("auto_reply", f"X-Auto-Response-Suppress: {suppress}")
    precedence = (first(msg, "precedence", limit=100) or "").lower()
    if precedence == "auto_reply":
        return NotALead("auto_reply", "Precedence: auto_reply")
    subject = first(msg, "subject") or ""
    if _AUTO_SUBJECT.match(subject):
        return NotALead("auto_reply", f"auto-reply subject: {subject[:80]!r}")
    return None


def _bulk(msg: Message) -> NotALead | None:
    # Only list headers, Precedence and list servers: our own website's form plugins add other
    # marketing headers to notifications that are genuine leads.
    precedence = (first(msg, "precedence", limit=100) or "").lower()
    if precedence in ("bulk", "list", "junk"):
        return NotALead("bulk", f"Precedence: {precedence}")
    for marker in ("list-id", "list-unsubscribe"):
        if msg.get(marker) is not None:
            return NotALead("bulk", f"{marker} header present (mailing list or newsletter)")
    sender = " ".join(filter(None, (first(msg, "from"), first(msg, "sender"))))
    if _LIST_SERVER.search(sender):
        return NotALead("bulk", "sent by a mailing-list server")
    return None
