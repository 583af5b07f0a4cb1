"""Samples: reps' forwards in many clients and languages, and replies quoting our mail."""

# ruff: noqa: RUF001 - samples are written in Greek, Cyrillic, Turkish and CJK on purpose

from __future__ import annotations

from tests.ingest.mail_samples import Sample, message, rep

RITA = "rita@ourco.com"


def fwd(label: str, body: str, subject: str, expect: dict[str, str | None]) -> Sample:
    return Sample(label, rep(body, subject), {"forwarded_by": RITA, **expect})


FORWARDS = [
    fwd(
        "fr-thunderbird-message-transfere",
        "Voir ci-dessous.\n\n-------- Message transféré --------\nSujet : Demande de devis\n"
        "Date : Mon, 2 Nov 2026 09:00:00 +0100\nDe : Jean Martin <jean.martin@dupont-sas.fr>\n"
        "Pour : Rita <rita@ourco.com>\n\nBonjour, un devis svp.\n",
        "Tr: Demande de devis",
        {
            "email": "jean.martin@dupont-sas.fr",
            "name": "Jean Martin",
            "subject": "Demande de devis",
        },
    ),
    fwd(
        "zh-foxmail-original-mail",
        "请跟进\n\n------------------ 原始邮件 ------------------\n"
        '发件人: "王伟"<wangwei@huatong-tech.cn>;\n发送时间: 2026年11月2日(星期一) 上午9:00\n'
        '收件人: "Rita"<rita@ourco.com>;\n主题: 询价\n\n您好，请报价。\n',
        "转发: 询价",
        {"email": "wangwei@huatong-tech.cn", "name": "王伟", "subject": "询价"},
    ),
    fwd(
        "zh-outlook-fullwidth-colons",
        "请跟进\n\n发件人： 王伟 <wangwei@huatong-tech.cn>\n发送时间： 2026年11月2日 9:00\n"
        "收件人： Rita Rep <rita@ourco.com>\n主题： 询价\n\n您好，请报价。\n",
        "转发: 询价",
        {"email": "wangwei@huatong-tech.cn", "subject": "询价"},
    ),
    fwd(
        "ja-outlook-forward",
        "対応お願いします\n\n差出人: 山田太郎 <yamada@yamada-ss.co.jp>\n送信日時: 2026年11月2日 9:00\n"
        "宛先: Rita Rep <rita@ourco.com>\n件名: 見積\n\n見積をお願いします。\n",
        "FW: 見積",
        {"email": "yamada@yamada-ss.co.jp", "name": "山田太郎", "subject": "見積"},
    ),
    fwd(
        "ru-outlook-forward",
        "Посмотри\n\n-----Original Message-----\nОт: Иван Петров <ivan@romashka.ru>\n"
        "Отправлено: 2 ноября 2026 г. 9:00\nКому: Rita Rep <rita@ourco.com>\nТема: Запрос\n\n"
        "Прошу цену.\n",
        "Fwd: Запрос",
        {"email": "ivan@romashka.ru", "subject": "Запрос"},
    ),
    fwd(
        "outlook-name-only-address-in-signature",
        "FYI\n\n________________________________\nFrom: Jane Doe\n"
        "Sent: Monday, November 2, 2026 9:00 AM\nTo: Rita Rep\nSubject: Pricing\n\n"
        "Hi Rita, please send pricing for 50 seats.\n\nJane Doe\nHead of Purchasing | Acme Corp\n"
        "jane.doe@acme-corp.com | +1 (415) 555-0134\n",
        "FW: Pricing",
        {"email": "jane.doe@acme-corp.com", "name": "Jane Doe", "phone": "+14155550134"},
    ),
    Sample(
        "outlook-html-name-only-mailto-link",
        rep(
            '<html><body><p class=MsoNormal>FYI</p><div style="border:none;border-top:solid '
            '#E1E1E1 1.0pt"><p class=MsoNormal><b>From:</b> <a href="mailto:jane@acme.example">'
            "Jane Doe</a><br><b>Sent:</b> Monday, November 2, 2026 9:00 AM<br><b>To:</b> Rita "
            "Rep<br><b>Subject:</b> Quote</p></div><p class=MsoNormal>Please quote 100 units.</p>"
            "</body></html>",
            "FW: Quote",
            ctype="text/html; charset=utf-8",
        ),
        {"email": "jane@acme.example", "name": "Jane Doe", "forwarded_by": RITA},
        text_has=("Please quote 100 units.",),
    ),
]

QUOTE = "\n\nHello, here is our offer. Call +1 415 555 0100.\n"
ATTRIBUTIONS = {
    "de": "Am 02.11.2026 um 09:00 schrieb Rita Rep <rita@ourco.com>:",
    "de-gmail-mobile": "Rita Rep <rita@ourco.com> schrieb am Mo., 2. Nov. 2026, 09:00:",
    "fr": "Le lun. 2 nov. 2026 à 09:00, Rita Rep <rita@ourco.com> a écrit :",
    "es": "El lun, 2 nov 2026 a las 9:00, Rita Rep (<rita@ourco.com>) escribió:",
    "zh": "在 2026年11月2日 星期一 09:00，Rita Rep <rita@ourco.com> 写道：",
    "ja": "2026年11月2日(月) 9:00 Rita Rep <rita@ourco.com>:",
    "ko": "2026년 11월 2일 (월) 오전 9:00, Rita Rep <rita@ourco.com>님이 작성:",
    "ru": "пн, 2 нояб. 2026 г. в 09:00, Rita Rep <rita@ourco.com>:",
    "pl": "W dniu 2.11.2026 o 09:00, Rita Rep pisze:",
    "tr": "2 Kasım 2026 Pazartesi tarihinde Rita Rep <rita@ourco.com> şunu yazdı:",
    "el": "Στις Δευ 2 Νοε 2026 στις 09:00, ο/η Rita Rep <rita@ourco.com> έγραψε:",
    "he": "בתאריך יום ב׳, 2 בנוב׳ 2026 ב-9:00 מאת Rita Rep <rita@ourco.com>:",
}
REPLIES = [
    Sample(
        f"reply-attribution-{lang}",
        message(f"Yes, 30 units please.\n\n{line}{QUOTE}", subject="Re: Offer"),
        {"kind": "email_reply", "phone": None},
        text_has=("30 units",),
        text_lacks=("our offer", "Rita"),
    )
    for lang, line in ATTRIBUTIONS.items()
]
REPLIES += [
    Sample(
        f"reply-subject-{prefix}",
        message("Yes, 30 units please.\n", subject=f"{prefix} Offer"),
        {"kind": "email_reply"},
    )
    for prefix in ("回复:", "答复:", "Отв:", "ΑΠ:", "AW:", "SV:", "Antw:", "R:", "RES:", "回复：")
]
REPLIES.append(
    Sample(
        "reply-bottom-posted",
        message(
            "On Mon, Nov 2, 2026 at 9:00 AM Rita Rep <rita@ourco.com> wrote:\n"
            "> Would you like a demo?\n> Rita\n\nYes please, Tuesday works for us.\n",
            subject="Re: Demo",
        ),
        {"kind": "email_reply"},
        text_has=("Tuesday works",),
        text_lacks=("demo?", "wrote"),
    )
)

SAMPLES = FORWARDS + REPLIES
