"""What mail systems write: delivery-failure, absence and challenge wording, in many languages.

These are evidence, never a verdict on their own (ingest.mail.classify combines them with who sent
the message and how it is built): people write "my mail bounced" and "I'm away next week" too.
"""

# ruff: noqa: RUF001 - the vocabulary is Cyrillic, Greek, Turkish and CJK text on purpose

from __future__ import annotations

import re

_I = re.IGNORECASE
# Scripts written without spaces between words: a phrase may start anywhere in them.
_UNSPACED = "\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af"


def _lowered(pattern: str) -> re.Pattern[str]:
    """A vocabulary searched in lower-cased text, tried only where a word starts.

    Python's re tries every alternative at every position; starting only at word starts (or
    anywhere in CJK text) and without IGNORECASE is about ten times faster on a long body.
    """
    return re.compile(rf"(?:(?<!\w)|(?=[{_UNSPACED}]))(?:{pattern})")


# Senders that are mail software by name (RFC 5321 4.5.1 postmaster, the MTA's MAILER-DAEMON).
DAEMON_LOCAL = re.compile(
    r"^(mailer[-_.]?daemon|mail[-_.]?daemon|postmaster|post[-_.]master|mdaemon|"
    r"mail[-_.]?delivery[-_.]?(system|subsystem)?|microsoftexchange[0-9a-f]{8,})([-_.+].*)?$",
    _I,
)
DAEMON_NAME = re.compile(
    r"^\W*(mail(er)?[- ]?daemon|postmaster|mail delivery (system|subsystem|service)|"
    r"internet mail delivery)\b",
    _I,
)
# Display names mail software uses, which a person's name field could also say.
AUTOMATED_NAME = re.compile(
    r"^\W*(mail administrator|mail system|system administrator|delivery status notification|"
    r"microsoft outlook|mail delivery|auto[- ]?reply|autoresponder|no[- ]?reply)\b|"
    r"\b(ndr|mailer[- ]?daemon|postmaster|mail delivery (system|subsystem))\b",
    _I,
)
# Words of an automated sender's local part (matched with its - _ . + as spaces, so
# "Symantec_AntiVirus_for_SMTP_Gateways" counts): answering machines, gateways, no-reply
# notifiers. Evidence only, beside what the message says (a shop's noreply@ relays
# real people's form messages).
AUTOMATED_LOCAL = re.compile(
    r"\b(no ?reply|do ?not ?reply|donotreply|mailer|daemon|postmaster|bounces?|"
    r"auto ?(reply|responder|response|mailer|notify)|autoresponder|vacation|mta|smtp|"
    r"gateways?|anti ?virus|virus|scanmail|imss|interscan|mailscanner|mailsweeper|mailguard|"
    r"abuse|fbl|complaints?|notifications?|notify|alerts?|mail ?admin|post ?office|"
    r"(mail|message|delivery) ?(delivery|system|notification|status|failure|report)s?)\b",
    _I,
)

# Subjects only a mail system writes, whatever follows them (anchored at the start).
BOUNCE_SUBJECT_ALONE = re.compile(
    r"^\W*(delivery status notification|undelivered mail returned to sender|"
    r"mail delivery failed|mail delivery (system|subsystem)|returned mail\s*:|failure notice\s*$|"
    r"non[- ]?delivery (report|notification)|delivery notification: delivery has failed|"
    r"delivery (notification|report)\s*:\s*(delay|fail)|mail system error - returned mail|"
    r"notification d.[ée]tat de (la )?(remise|distribution)|[ée]chec de (la )?(remise|distribution)|"
    r"notificaci[óo]n de estado de (la )?entrega|notifica sullo stato del recapito|"
    r"(benachrichtigung|status) zum (zustellungs|übermittlungs)status|"
    r"недоставленное сообщение|отчет о доставке|"
    r"(メール)?(配信不能|配信エラー|配送エラー|送信エラー)|メールエラー通知|"
    r"系统退信|退信通知)",
    _I,
)
# Words a bounce's subject is made of, but so is a customer's ("Undeliverable parcel"): alone
# only as the prefix before the original subject ("Undeliverable: Pricing"), else evidence.
BOUNCE_SUBJECT_WORDS = re.compile(
    r"(undeliverable|undelivered|not delivered|delivery failure|delivery has failed|"
    r"returned mail|could not be delivered|couldn.t be delivered|was not delivered|"
    r"unable to deliver|delivery (problem|error|failed)|mail delivery|"
    r"unzustellbar|nicht zustellbar|non remis|non distribu[ée]|"
    r"no se (puede|pudo) entregar|no entregado|impossibile recapitare|non recapitabil|"
    r"n[ãa]o (é poss[íi]vel|foi poss[íi]vel) entregar|n[ãa]o entregue|onbestelbaar|"
    r"kan niet worden bezorgd|niedostarczaln|nie mo[żz]na dostarczy[ćc]|nedoru[čc]iteln|"
    r"ej levererbar|kunde inte levereras|ikke levert|kan ikke leveres|kunne ikke leveres|"
    r"ei voitu toimittaa|kézbesíthetetlen|nedostavljiv|teslim edilemedi|iletilemedi|"
    r"недоставл|не доставлен|не может быть доставлен|не вдалося доставити|"
    r"αδύνατη η παράδοση|δεν παραδόθηκε|"
    r"エラー通知|配信(不能|エラー|失敗)|送信(エラー|失敗)|未配達|宛先不明|退信|无法投递|無法投遞|"
    r"投递失败|发送失败|반송|전송 실패|배달 실패)",
    _I,
)
PREFIX_AFTER = re.compile(r"\s*[:：]")

# Auto-reply subjects that name themselves: alone they are enough (anchored at the start).
AUTO_SUBJECT_ALONE = re.compile(
    r"^\W*(automatic reply|auto[- ]?reply|autoreply|auto[- ]?response|abwesenheitsnotiz|"
    r"automatische antwort|r[ée]ponse automatique|respuesta autom[áa]tica|risposta automatica|"
    r"resposta autom[áa]tica|automatisch antwoord|autosvar|automaattinen vastaus|"
    r"automatyczna odpowied[źz]|automatick[áa] odpov[ěe][ďd]|otomatik (yan[ıi]t|cevap)|"
    r"αυτόματη απάντηση|автоматический ответ|автоответ|自动回复|自動回覆|自動回复|自動応答|"
    r"自動返信|자동 응답|자동응답|رد تلقائي|תשובה אוטומטית|automatick[áa] odpove[ďd]|"
    r"automatikus v[áa]lasz|r[ăa]spuns automat|automatski odgovor|samodejni odgovor|"
    r"автоматичн[аи] відповідь|автоматичен отговор|autom[āa]tisk[āa] atbilde|"
    r"automatinis atsakymas|automaatvastus|tr[ảa] l[ờo]i t[ựu] [đd][ộo]ng|balasan otomatis|"
    r"ตอบกลับอัตโนมัติ|"
    r"((out of (the )?office|on vacation|away from (the )?office|absence du bureau|"
    r"fuera de la oficina|fuori ufficio|aus[êe]ncia tempor[áa]ria|abwesend|nicht im büro|"
    r"afwezig|poza biurem)(\s*auto[- ]?reply)?\s*([:：]|-\s*re:))|"
    r"auto:\s.{0,200}\b(out of (the )?office|abwesend|absent))",
    _I,
)
# The same names anywhere in a subject: Outlook puts the localised words after others
# ("Ārpus biroja atrašanās automātiskā atbilde: …"), a person replies to them ("Re: Automatic
# reply: …"). Evidence beside an absence notice's text, never alone.
AUTO_SUBJECT_WORDS = re.compile(
    r"(automatic reply|auto[- ]?reply|autoreply|auto[- ]?response|automated response|"
    r"abwesenheitsnotiz|automatische antwort|r[ée]ponse automatique|respuesta autom[áa]tica|"
    r"risposta automatica|resposta autom[áa]tica|automatisch antwoord|autosvar|"
    r"automaattinen vastaus|automatyczna odpowied[źz]|automatick[áa] odpov[ěe][ďd]|"
    r"automatick[áa] odpove[ďd]|automatikus v[áa]lasz|r[ăa]spuns automat|automatski odgovor|"
    r"samodejni odgovor|autom[āa]tisk[āa] atbilde|automatinis atsakymas|automaatvastus|"
    r"otomatik (yan[ıi]t|cevap)|αυτόματη απάντηση|автоматический ответ|автоответ|"
    r"автоматичн[аи] відповідь|автоматичен отговор|自动回复|自動回覆|自動応答|自動返信|"
    r"자동 ?응답|رد تلقائي|תשובה אוטומטית|balasan otomatis|ตอบกลับอัตโนมัติ)",
    _I,
)
# "Out of office until Monday" opens a vacation notice and a customer's request alike.
AWAY_SUBJECT = re.compile(
    r"^\W*(out of (the )?office|on vacation|away from (the )?office|absence du bureau|"
    r"fuera de la oficina|fuori ufficio|aus[êe]ncia tempor[áa]ria|abwesend|nicht im büro|"
    r"afwezig|poza biurem)\b",
    _I,
)

# Sentences of a delivery report (RFC 3464's human-readable part), per language (lower case).
BOUNCE_TEXT = _lowered(
    r"((message|mail|e-?mail|letter)s?( that)?( you sent)?( to [^.]{0,80}?)? "
    r"(could not|couldn.t|cannot|can.t|was not|wasn.t|has not been|have not been|"
    r"could not yet|has not yet been) (be )?(delivered|sent|forwarded)|"
    r"(could not|couldn.t|unable to|failed to|not able to) (be )?deliver|"
    r"undeliverable (mail|message|e-?mail|address|recipient)|(mail|message|e-?mail) "
    r"(is |was )?undeliverable|undelivered (mail|message|e-?mail)|"
    r"delivery (to (the following|these|this) recipients?|of your message)?"
    r"\s*(has )?(failed|failure|was unsuccessful|has been delayed|is delayed)|"
    r"delivery status notification|permanent (fatal )?(error|failure)|"
    r"(the following|these) (address(\(?es\)?)?|recipients?) (had|failed|could not)|"
    r"(user|recipient|mailbox|e-?mail (address|account)|addressee)( name)? "
    r"(is )?(unknown|not found|unavailable|does not exist|doesn.t exist|disabled|inactive|"
    r"full|over quota|not listed|rejected|invalid|suspended|deactivated)|"
    r"no such (user|recipient|mailbox|address|account|domain|person)|unknown (user|recipient)|"
    r"(recipient|relay)( address)? (rejected|denied|refused)|relaying denied|"
    r"(mailbox|mail box|inbox|quota) (is )?(full|exceeded|over)|"
    r"returning message to sender|(mail|message|e-?mail) (was )?returned|"
    r"transcript of (the )?session|host (unknown|not found)|domain (not found|does not exist)|"
    r"delivery (attempts? )?will (continue|be retried)|will (continue to try|retry)|"
    r"(was|has been|is) (rejected|blocked|refused|quarantined) by|"
    r"(virus|malware|infected|harmful content) (was )?(found|detected)|"
    # French
    r"n.a (pas )?pu [êe]tre (remis|d[ée]livr|distribu|livr|achemin|transmis)|non remis|"
    r"non distribu|[ée]chec de (la )?(remise|distribution|livraison du message)|"
    r"impossible de (remettre|distribuer|d[ée]livrer) (le|votre) message|"
    r"adresse (e-?mail|[ée]lectronique|de messagerie) (inconnue|introuvable|inexistante)|"
    r"bo[iî]te (aux lettres |mail )?(est )?pleine|"
    # German
    r"konnte (nicht|leider nicht) (zugestellt|übermittelt|ausgeliefert)|unzustellbar|"
    r"nicht zustellbar|zustellung (ist )?fehlgeschlagen|(empfänger|e-?mail-adresse) (ist )?unbekannt|"
    r"postfach (ist )?voll|fehler bei der zustellung|"
    # Spanish, Portuguese, Italian
    r"no (se )?(ha )?(pudo|puede|podido) (ser )?entreg|no (se )?ha (sido|podido) entreg|"
    r"error (en la|de) entrega|destinatario (desconocido|no existe|inexistente)|buz[óo]n (lleno|no existe)|"
    r"n[ãa]o (foi poss[íi]vel|p[ôo]de ser|pode ser) entreg|falha (na|de) entrega|"
    r"destinat[áa]rio (desconhecido|inexistente)|caixa (postal )?(cheia|lotada)|"
    r"non (è|e.) stato possibile (recapitare|consegnare)|impossibile (recapitare|consegnare)|"
    r"non (è|e.) stat[oa] (recapitat|consegnat)|non recapitabile|recapito non riuscito|"
    r"destinatario sconosciuto|casella (piena|inesistente)|"
    # Dutch, Nordic, Finnish
    r"kon niet (worden )?(bezorgd|afgeleverd)|onbestelbaar|bezorging (is )?mislukt|"
    r"kunde inte levereras|kunne ikke (leveres|afleveres)|kan ikke leveres|ei voitu toimittaa|"
    r"toimitus epäonnistui|"
    # Polish, Czech, Slovak, Hungarian, Croatian, Romanian, Turkish
    r"nie (można|może zostać|mogła zostać|mógł zostać|została) dostarcz|niedostarczon|"
    r"nelze doru[čc]it|nemohla b[ýy]t doru[čc]ena|nedoru[čc]iteln|nebolo mo[žz]n[ée] doru[čc]i|"
    r"kézbesíthetetlen|nem kézbesíthető|nem sikerült kézbesíteni|nije moguće isporučiti|"
    r"nu a putut fi livrat|teslim edilemedi|iletilemedi|ulaştırılamadı|"
    # Russian, Ukrainian, Greek
    r"не (может быть|было|удалось|могло быть|был[оа]?) доставлен|недоставлен|"
    r"не удалось доставить|не вдалося доставити|не було доставлено|"
    r"δεν (ήταν δυνατή η παράδοση|παραδόθηκε|μπόρεσε να παραδοθεί)|αδύνατη η παράδοση|"
    # Japanese, Chinese, Korean, Arabic, Hebrew
    r"(送信|配信|配送|お届け|届けることが)できませんでした|配信不能|宛先不明|"
    r"メールボックスが(一杯|いっぱい|満杯)|存在しない(メール)?アドレス|宛先(のアドレス)?が(存在しません|見つかりません)|"
    r"无法投递|無法投遞|投递失败|发送失败|無法傳送|无法送达|無法送達|收件人不存在|邮箱已满|"
    r"전달되지 않았|전달할 수 없|배달(되지 않았| 실패)|전송(에)? 실패|"
    r"تعذر (تسليم|توصيل)|لم يتم (تسليم|توصيل)|לא ניתן למסור|לא נמסרה)",
)
# Sentences mail software adds around a report, which say nothing a person would.
BOILERPLATE = _lowered(
    r"(this is (an? )?(automatically generated|automated|automatic) (message|notification|reply|e-?mail)|"
    r"this is the mail system at|this message was (created|generated) automatically|"
    r"(please )?do not (reply|respond) (to )?(this|the) (e-?mail|message|notification)|"
    r"(please )?don.t reply|mail delivery (software|system|subsystem)|"
    r"error message|original message (follows|below)|message details|"
    r"for further assistance|include this (problem )?report|"
    r"(ne pas|ne) r[ée]pond(re|ez) pas|no (responda|conteste)|non rispondere|"
    r"nicht (auf diese (e-?mail|nachricht) )?antworten|"
    r"返信(いただけません|しないで)|自動(送信|配信|返信)|本メールは|このメールは|"
    r"请勿回复|請勿回覆|自动发送|회신하지)",
)
# How mail software opens a delivery notice, read at the start of one of its first lines: the
# impersonal "your message" / "the following addresses" of a server, never a person's "my mail".
MTA_OPENING = re.compile(
    r"^\W*(unfortunately,? |sorry,? |hello,? )?("
    r"this (message|e-?mail|mail) was (created|generated|sent) automatically by (the )?mail|"
    r"this is an? (automated|automatic|automatically generated) (message|notification|report) "
    r"(created|generated|sent) by (the )?mail|"
    r"this is an automatically generated delivery status notification|"
    r"this is the (mail|e-?mail) (system|server|delivery|transport)|"
    r"this is the (qmail-send|postfix|exim|sendmail) program|hi\. this is the qmail|"
    r"(the )?transcript of (the )?session follows|the original message was received at|"
    r"i.m sorry to have to inform you that your message|i.m afraid i wasn.t able to deliver|"
    r"your message did not reach some or all|delivery has failed to these recipients|"
    r"delivery to the following recipients? (failed|has been delayed|was delayed)|"
    r"an error was detected while processing the enclosed message|"
    r"we had trouble delivering your message|"
    r"((an? |the |your )?(message|mail|e-?mail)( that| which)?"
    r"( you( have)? (sent|attempted to send|tried to send))?( to [^\n]{0,80}?)? "
    r"(was|is|has been|could not be|couldn.t be|was not|has not (yet )?been|cannot be) "
    r"(not )?(undeliverable|delivered|deliverable)"
    r"( to (the following|one or more|all|some|any)|\s*[.:]\s*$))|"
    r"(unable|failed|could not|couldn.t|cannot) (to )?deliver (the |your |this )?"
    r"(message|mail|e-?mail)s? to|(message|mail) not delivered to the following|"
    r"delivery of (your )?(e-?mail|message|mail) to (this|the following) (address|recipient)|"
    r"это письмо создано автоматически|ваше письмо не (может быть|было) доставлено|"
    r"diese nachricht wurde automatisch (erstellt|erzeugt|generiert)|"
    r"dies ist eine automatisch (erstellte|generierte) (nachricht|benachrichtigung)|"
    r"ihre nachricht (konnte|wurde) nicht|"
    r"ce message a [ée]t[ée] (cr[ée]{2}|g[ée]n[ée]r[ée]) automatiquement|votre message n.a pas pu|"
    r"este mensaje (ha sido|fue) (creado|generado) autom[áa]ticamente|su mensaje no (pudo|ha podido)|"
    r"questo messaggio [èe] stato (creato|generato) automaticamente|il (suo|tuo) messaggio non|"
    r"esta mensagem foi (criada|gerada) automaticamente|sua mensagem n[ãa]o (p[ôo]de|foi)|"
    r"このメールは(自動|送信専用|システム)|本メールは(自動|送信専用|システム)|"
    r"(此|本)(邮件|郵件)(是|为|為)?(系统|系統)自动|这是一封(系统|系統)|이 메일은 (자동|발신 전용))",
    _I,
)
# A person speaking for themselves: mail software says "your message" (and "we will retry"), a
# person "my mail" and "can you". Outside a notice's template sentences, these mark a person.
PERSON_MARKER = re.compile(
    r"(\b(i|i.m|i.ve|i.d|i.ll|my|me|can you|could you|would you|"
    r"ich|mein(e[nmrs]?)?|je|j.ai|moi|mon|yo|eu|meu|minha|ik|mijn|jag|mitt|"
    r"я|мой|моё|моя|меня)\b|私は|私の|我的|我们|저는|제가)",
    _I,
)
# Fields of a report or an SMTP transcript, as they appear inside a notice's text.
DSN_FIELD = re.compile(
    r"^\s*(final-recipient|original-recipient|diagnostic-code|reporting-mta|remote-mta|"
    r"received-from-mta|arrival-date|last-attempt-date|action|status|x-postfix-[a-z-]+)\s*:",
    re.IGNORECASE | re.MULTILINE,
)
SMTP_SHAPE = re.compile(
    r"(\b[245]\d\d[ -]#?[245]\.\d{1,3}\.\d{1,3}\b|^\s*(<<<|>>>)\s*\S|\brcpt to\s*:|"
    r"\bmail from\s*:\s*<|^\s*[45]\d\d[ -][a-z0-9<]|\bsmtp error\b|\bsmtp;\s*[245]\d\d)",
    re.IGNORECASE | re.MULTILINE,
)
# The header fields a notice echoes from the returned message ("Subject: …", "Sent date: …").
ECHO_FIELD = re.compile(
    r"^\s*(subject|to|from|cc|date|sent( date)?|sender|recipients?|mail from|rcpt to|"
    r"message-id|size( \(in bytes\))?|number of lines|reason|error|status|action|host|"
    r"reject reason|target mail address|件名|宛先|送信者|日時|题目|主题|收件人|发件人)\s*[:：]",
    _I,
)
# Where a notice's own text ends and the returned original begins.
ORIGINAL_DIVIDER = re.compile(
    r"^[ \t]*+[-=_*]*+[ \t]*+(original message|this is a copy of the message|below this line is a copy|"
    r"the original message (was|follows|is attached)|returned message|undelivered message|"
    r"message follows|original text|returned mail|bounced e-?mail|headers? of the original|"
    r"ursprüngliche nachricht|message d.origine|mensaje original|messaggio originale|"
    r"mensagem original|originele bericht|元のメッセージ|原始邮件|原邮件)\b",
    re.IGNORECASE | re.MULTILINE,
)

# What an answering machine writes when it says its person is away.
AWAY_TEXT = _lowered(
    r"((i am|i.m|i will be|i.ll be|i have been) (currently |now )?(out of (the )?office|away|"
    r"on (annual |parental |maternity |paternity |sick |business )?(leave|vacation|holiday)|"
    r"travel+ing|out of town|absent)|(limited|no|intermittent|restricted) access to (my )?e-?mail|"
    r"(i will|i.ll) (respond|reply|get back to you|answer|read)[^.]{0,60}(as soon as|upon|when|on my)|"
    r"(i will|i.ll) be (back|returning) (on|in|by)|in my absence|"
    r"for (urgent|immediate) (matters|assistance|requests|enquiries|inquiries|issues)|"
    r"thank you for your (e-?mail|message)[.,!]? ?(i|this)|"
    r"ich bin (derzeit |zurzeit |bis )?(nicht im (büro|haus)|abwesend|im urlaub|außer haus)|"
    r"in dringenden fällen|je suis (actuellement )?(absente?|en cong[ée]s?|en vacances|hors du bureau)|"
    r"en cas d.urgence|estoy (fuera de la oficina|de vacaciones|ausente)|en caso de urgencia|"
    r"sono (fuori ufficio|in ferie|assente)|per urgenze|estou (fora do escrit[óo]rio|de f[ée]rias|ausente)|"
    r"em caso de urg[êe]ncia|ik ben (afwezig|met vakantie|niet op kantoor)|in dringende gevallen|"
    r"jestem (na urlopie|poza biurem|nieobecn)|w pilnych sprawach|"
    r"я (в отпуске|нахожусь в отпуске|отсутствую|вне офиса)|по срочным вопросам|"
    r"不在にしております|不在のため|休暇を(いただいて|取って)|我正在休假|不在办公室|부재중)",
)
# Challenge-response filters asking a stranger to prove they are a person.
CHALLENGE_TEXT = _lowered(
    r"(add(ed)? (yourself |your (e-?mail )?address )?to (the |my |our |the recipient.s )?"
    r"(allowed|approved|safe|white|guest|trusted) ?(list|senders)|"
    r"(verify|confirm) (that )?you are (a )?(human|real person|not a (robot|spammer|machine))|"
    r"to ensure (the )?delivery of your (e-?mail|message)|"
    r"(your )?(e-?mail|message)( about [^\n]{0,120})? (is|has been) (held|pending|queued|waitlisted|"
    r"quarantined)|(click|visit|follow) (on )?the (following |below )?link( below)? to "
    r"(verify|confirm|be added|have your)|sender verification|protected by \w+|"
    r"(spam|junk)[- ](filter|blocker|protection) (requires|asks)|this account is protected)",
)
# What a list server writes back about a post (lower case).
LIST_NOTICE = _lowered(
    r"((you are|you.re) not (a )?(member|subscriber|subscribed)|not a member of (this|the)|"
    r"only (members|subscribers) (can|may) post|you (do not|don.t) have permission to post|"
    r"(your )?(message|post(ing)?) to [^\n]{0,80}?(awaits|is awaiting|requires|has been held|"
    r"was held|is being held|needs)( for)? (moderat|approval)|held for moderat|"
    r"(duplicated|duplicate) message-id|mail loop detected|"
    r"sie sind (kein|nicht) (mitglied|abonnent)|vous n.[êe]tes pas (membre|abonn)|"
    r"no (es|eres|est[áa]s) (miembro|suscrit)|non sei (iscritt|membro))"
)
# Local parts of list software's own addresses (fml's -admin and -ctl, Mailman's -owner…).
LIST_LOCAL = re.compile(
    r"(-(admin|ctl|owner|request|bounces?)|^owner-|^(listserv|majordomo|mailman|sympa|ezmlm|fml))",
    _I,
)
# Complaints a mailbox provider sends about mail it received (feedback loops outside ARF).
COMPLAINT_SUBJECT = re.compile(
    r"(complaint about message|abuse report|spam report|feedback[- ]loop|feedback report|"
    r"reported as (spam|junk|abuse)|email feedback report|\bfbl\b)",
    _I,
)
