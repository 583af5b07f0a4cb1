"""Samples: clients' real shapes and leads writing in many languages and charsets."""

# ruff: noqa: RUF001 - samples are written in Greek, Cyrillic, Turkish and CJK on purpose

from __future__ import annotations

from tests.ingest.mail_samples import Sample, b64, message, qp, raw, word

OUTLOOK_DE_FORWARD = raw("""From: Rita Rep <rita@ourco.com>
To: leads@ourco.com
Subject: WG: Anfrage Angebot
Message-ID: <outlook-de-1@ourco.com>
Thread-Index: AQHZ1234abcd
X-MS-Exchange-Organization-AuthAs: Internal
X-MS-Has-Attach: yes
MIME-Version: 1.0
Content-Type: multipart/related; boundary="rel"; type="text/html"

--rel
Content-Type: text/html; charset="utf-8"
Content-Transfer-Encoding: quoted-printable

<html xmlns:o=3D"urn:schemas-microsoft-com:office:office"><head><style>p.MsoNormal{m=
argin:0}</style></head><body lang=3D"DE"><div class=3D"WordSection1"><p class=3D"MsoNo=
rmal">Bitte k=C3=BCmmern.<o:p></o:p></p><div><div style=3D"border:none;border-top:solid =
#E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm"><p class=3D"MsoNormal"><b>Von:</b> J=C3=BCrgen =
M=C3=BCller &lt;juergen.mueller@maschinenbau-schmidt.de&gt; <br><b>Gesendet:</b> Montag=
, 2. November 2026 09:00<br><b>An:</b> Rita Rep &lt;rita@ourco.com&gt;<br><b>Betreff:</=
b> Anfrage Angebot<o:p></o:p></p></div></div><p class=3D"MsoNormal">Sehr geehrte Damen =
und Herren,<o:p></o:p></p><p class=3D"MsoNormal">wir ben=C3=B6tigen ein Angebot f=C3=BCr=
 200 Einheiten.<o:p></o:p></p><p class=3D"MsoNormal">Mit freundlichen Gr=C3=BC=C3=9Fen<=
o:p></o:p></p><p class=3D"MsoNormal">J=C3=BCrgen M=C3=BCller<o:p></o:p></p><p class=3D"=
MsoNormal">Einkaufsleiter<o:p></o:p></p><p class=3D"MsoNormal">Maschinenbau Schmidt GmbH=
<o:p></o:p></p><p class=3D"MsoNormal">Fax +49 (0)30 1234568<o:p></o:p></p><p class=3D"M=
soNormal">Tel. +49 (0)30 1234567<o:p></o:p></p><img src=3D"cid:image001.png@01DA"></div>=
</body></html>
--rel
Content-Type: image/png; name="image001.png"
Content-ID: <image001.png@01DA>
Content-Transfer-Encoding: base64

iVBORw0KGgo=
--rel
Content-Type: application/ms-tnef; name="winmail.dat"
Content-Disposition: attachment; filename="winmail.dat"
Content-Transfer-Encoding: base64

eJ8+IgEAAQaQCAAEAAAAAAABAAEAAQeQBgAIAAAA5AQAAAAAAADoAAEIgAcAGAAAAElQTS5NaWNy
--rel--
""")

GMAIL_FR_REPLY = raw("""From: =?UTF-8?Q?Fran=C3=A7ois_L=C3=A9vesque?= <f.levesque@atelier-dupont.fr>
To: leads@ourco.com
Subject: RE: Devis
Message-ID: <gmail-fr-1@mail.gmail.com>
In-Reply-To: <offer-1@ourco.com>
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="000000000000abc"

--000000000000abc
Content-Type: text/plain; charset="UTF-8"
Content-Transfer-Encoding: quoted-printable

Bonjour,

Merci pour votre r=C3=A9ponse. Nous voulons 30 licences.

Cordialement,
Fran=C3=A7ois L=C3=A9vesque
Directeur commercial
Atelier Dupont SARL
T=C3=A9l. 01 23 45 67 89

Le lun. 2 nov. 2026 =C3=A0 09:00, Rita Rep <rita@ourco.com> a =C3=A9crit :
> Bonjour, voici notre offre.
--000000000000abc
Content-Type: text/html; charset="UTF-8"
Content-Transfer-Encoding: quoted-printable

<div dir=3D"ltr">Bonjour,<div class=3D"gmail_quote">quoted</div><div class=3D"gmail_sig=
nature">Fran=C3=A7ois</div></div>
--000000000000abc--
""")

APPLE_MAIL_QP = raw("""From: Jane Doe <jane@acme-corp.example>
To: leads@ourco.com
Subject: Pricing
Message-Id: <AB12-CD34@acme-corp.example>
Mime-Version: 1.0 (Mac OS X Mail 16.0 \\(3774.600.62\\))
Content-Type: multipart/alternative; boundary="Apple-Mail=_5B1F2E3A-1111-2222-3333-444455556666"

--Apple-Mail=_5B1F2E3A-1111-2222-3333-444455556666
Content-Transfer-Encoding: quoted-printable
Content-Type: text/plain; charset=utf-8

Hi, could you send pricing for 50 seats? We=E2=80=99d like to start in =
December.

Sent from my iPhone
--Apple-Mail=_5B1F2E3A-1111-2222-3333-444455556666
Content-Transfer-Encoding: 7bit
Content-Type: text/html; charset=us-ascii

<html><body>Hi, could you send pricing for 50 seats?</body></html>
--Apple-Mail=_5B1F2E3A-1111-2222-3333-444455556666--
""")

THUNDERBIRD_FLOWED = message(
    "Hello,\n\nwe would like an offer for 12 machines, delivered to our plant \nin Linz "
    "before March.\n\n-- \nAnna Gruber\nLeiterin Einkauf\nGruber Anlagenbau GmbH\n"
    "Tel. +43 1 234 5678\n",
    sender="Anna Gruber <anna.gruber@gruber-anlagenbau.at>",
    subject="Angebot",
    ctype="text/plain; charset=UTF-8; format=flowed",
)

SAMPLES = [
    Sample(
        "outlook-de-html-forward-related-tnef",
        OUTLOOK_DE_FORWARD,
        {
            "email": "juergen.mueller@maschinenbau-schmidt.de",
            "name": "Jürgen Müller",
            "company": "Maschinenbau Schmidt GmbH",
            "title": "Einkaufsleiter",
            "phone": "+49301234567",
            "forwarded_by": "rita@ourco.com",
            "kind": "email_inquiry",
        },
        text_has=("200 Einheiten",),
        text_lacks=("Gesendet", "Grüßen"),
    ),
    Sample(
        "gmail-fr-reply-quoted",
        GMAIL_FR_REPLY,
        {
            "email": "f.levesque@atelier-dupont.fr",
            "name": "François Lévesque",
            "company": "Atelier Dupont SARL",
            "title": "Directeur commercial",
            "phone": "+33123456789",
            "kind": "email_reply",
        },
        text_has=("30 licences",),
        text_lacks=("voici notre offre", "a écrit"),
    ),
    Sample(
        "apple-mail-qp-iphone",
        APPLE_MAIL_QP,
        {"email": "jane@acme-corp.example", "name": "Jane Doe", "kind": "email_inquiry"},
        text_has=("We\u2019d like to start in December",),
        text_lacks=("iPhone",),
    ),
    Sample(
        "thunderbird-format-flowed-at",
        THUNDERBIRD_FLOWED,
        {"title": "Leiterin Einkauf", "company": "Gruber Anlagenbau GmbH", "phone": "+4312345678"},
        text_has=("our plant in Linz before March",),
        text_lacks=("Anna Gruber",),
    ),
    Sample(
        "ru-koi8r-base64",
        message(
            b64(
                "Здравствуйте!\n\nПрошу выслать коммерческое предложение на 100 лицензий.\n\n"
                "С уважением,\nИван Петров\nДиректор по закупкам\nООО Ромашка\n"
                "Тел.: +7 495 123-45-67\n",
                "koi8-r",
            ),
            sender=f"{word('Иван Петров', 'koi8-r')} <ivan.petrov@romashka.ru>",
            subject=word("Запрос цены", "koi8-r"),
            ctype="text/plain; charset=koi8-r",
            cte="base64",
        ),
        {
            "email": "ivan.petrov@romashka.ru",
            "name": "Иван Петров",
            "company": "ООО Ромашка",
            "title": "Директор по закупкам",
            "phone": "+74951234567",
            "subject": "Запрос цены",
        },
        text_lacks=("С уважением",),
    ),
    Sample(
        "zh-gb2312-signature",
        message(
            b64(
                "您好，\n\n我们想采购500台设备，请报价。\n\n此致\n敬礼\n\n王伟\n采购部长\n"
                "北京华通科技有限公司\n电话：+86 10 1234 5678\n",
                "gb2312",
            ),
            sender=f"{word('王伟', 'gb2312')} <wangwei@huatong-tech.cn>",
            subject=word("询价", "gb2312"),
            ctype="text/plain; charset=gb2312",
            cte="base64",
        ),
        {
            "name": "王伟",
            "company": "北京华通科技有限公司",
            "title": "采购部长",
            "phone": "+861012345678",
        },
        text_lacks=("此致", "敬礼"),
    ),
    Sample(
        "ja-iso2022jp-signature",
        message(
            "お世話になっております。\n\n御社製品の見積もりをお願いします。\n\n"
            "よろしくお願いいたします。\n\n山田太郎\n代表取締役\n株式会社山田製作所\n"
            "TEL: 03-1234-5678\n".encode("iso-2022-jp"),
            sender=f"{word('山田太郎', 'iso-2022-jp')} <yamada@yamada-ss.co.jp>",
            subject=word("お見積もりのお願い", "iso-2022-jp"),
            ctype="text/plain; charset=ISO-2022-JP",
            cte="7bit",
        ),
        {"name": "山田太郎", "company": "株式会社山田製作所", "title": "代表取締役"},
        text_lacks=("株式会社",),
    ),
    Sample(
        "ko-euckr-signature",
        message(
            "안녕하세요.\n견적을 요청드립니다.\n\n감사합니다.\n김철수\n구매팀장\n한빛주식회사\n"
            "전화: 02-1234-5678\n".encode("euc-kr"),
            sender=f"{word('김철수', 'euc-kr')} <cskim@hanbit-corp.co.kr>",
            subject=word("견적 요청", "euc-kr"),
            ctype="text/plain; charset=euc-kr",
        ),
        {"name": "김철수", "company": "한빛주식회사", "phone": "+82212345678"},
        text_lacks=("감사합니다",),
    ),
    Sample(
        "ar-windows1256-rtl",
        message(
            "السلام عليكم\nنرغب في الحصول على عرض سعر.\n\nمع تحيات\nمحمد أحمد\nمدير المشتريات\n"
            "هاتف: +966 11 123 4567\n".encode("windows-1256"),
            sender=f"{word('محمد أحمد', 'windows-1256')} <m.ahmed@alnoor-trading.sa>",
            subject=word("طلب عرض سعر", "windows-1256"),
            ctype="text/plain; charset=windows-1256",
        ),
        {"name": "محمد أحمد", "title": "مدير المشتريات", "phone": "+966111234567"},
        text_lacks=("مع تحيات",),
    ),
    Sample(
        "he-windows1255-qp",
        message(
            qp("שלום,\nנשמח לקבל הצעת מחיר.\nבברכה,\nדוד כהן\nטל: 03-123-4567\n", "windows-1255"),
            sender=f"{word('דוד כהן', 'windows-1255')} <david@cohen-tech.co.il>",
            subject=word("בקשה להצעת מחיר", "windows-1255"),
            ctype="text/plain; charset=windows-1255",
            cte="quoted-printable",
        ),
        {"name": "דוד כהן", "phone": "+97231234567"},
        text_lacks=("בברכה",),
    ),
    Sample(
        "el-iso8859-7",
        message(
            "Καλημέρα,\nΘα θέλαμε προσφορά.\n\nΜε εκτίμηση,\nΓιώργος Παπαδόπουλος\n"
            "Τηλ: 210 1234567\n".encode("iso-8859-7"),
            sender=f"{word('Γιώργος Παπαδόπουλος', 'iso-8859-7')} <g.p@ellas-soft.gr>",
            ctype="text/plain; charset=iso-8859-7",
        ),
        {"name": "Γιώργος Παπαδόπουλος", "phone": "+302101234567"},
        text_lacks=("εκτίμηση",),
    ),
    Sample(
        "tr-iso8859-9",
        message(
            "Merhaba,\nFiyat teklifi rica ediyoruz.\n\nSaygılarımla,\nAyşe Yılmaz\n"
            "Satın Alma Müdürü\nYılmaz Tekstil A.Ş.\nTel: 0212 123 45 67\n".encode("iso-8859-9"),
            sender=f"{word('Ayşe Yılmaz', 'iso-8859-9')} <ayse@yilmaz-tekstil.com.tr>",
            ctype="text/plain; charset=iso-8859-9",
        ),
        {"title": "Satın Alma Müdürü", "company": "Yılmaz Tekstil A.Ş.", "phone": "+902121234567"},
    ),
    Sample(
        "pl-8bit-without-charset",
        raw(
            "From: Zofia Kowalska <zofia@budex.pl>\nTo: leads@ourco.com\n"
            "Subject: Zapytanie ofertowe\nMessage-ID: <pl-1@budex.pl>\n\n"
            "Dzień dobry,\nProszę o ofertę.\n\nPozdrawiam\nZofia Kowalska\n"
            "Kierownik ds. zakupów\nBudex Sp. z o.o.\ntel. +48 22 123 45 67\n"
        ),
        {"company": "Budex Sp. z o.o.", "title": "Kierownik ds. zakupów", "phone": "+48221234567"},
        text_lacks=("Pozdrawiam",),
    ),
    Sample(
        "eai-smtputf8-address",
        message("Hola, quiero precio.\n", sender="José Núñez <josé@例え.jp>"),
        {"email": "josé@例え.jp", "name": "José Núñez"},
    ),
    Sample(
        "idn-punycode-is-the-unicode-lead",
        message("Hallo, Preis bitte.\n", sender="Anna <anna@xn--bcher-mller-thbg.de>"),
        {"email": "anna@bücher-müller.de"},
    ),
]
