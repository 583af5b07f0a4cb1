"""Samples: auto-replies, receipts, calendar answers and bounces in many languages; signatures."""

# ruff: noqa: RUF001 - samples are written in Greek, Cyrillic, Turkish and CJK on purpose

from __future__ import annotations

from tests.ingest.mail_samples import Sample, message, raw

OOF_SUBJECTS = (
    "自动回复: 询价",
    "自動回覆: 詢價",
    "自動応答: 見積",
    "Автоматический ответ: Запрос",
    "Automatyczna odpowiedź: oferta",
    "Otomatik yanıt: teklif",
    "Αυτόματη απάντηση: Προσφορά",
    "Abwesend: Angebot",
    "AUTO: Jane Doe is out of the office (returning 09/11/2026)",
)
NOT_LEADS = [
    Sample(
        f"oof-subject-{i}", message("I am away until Monday.\n", subject=s), not_a_lead="auto_reply"
    )
    for i, s in enumerate(OOF_SUBJECTS)
]
NOT_LEADS += [
    Sample(
        "exim-x-failed-recipients",
        message(
            "A message that you sent could not be delivered.\n",
            subject="Re: pricing",
            headers="X-Failed-Recipients: bob@acme.example\n",
        ),
        not_a_lead="bounce",
    ),
    Sample(
        "read-receipt-mdn-report",
        raw("""From: Jane Doe <jane@acme.example>
To: rita@ourco.com
Subject: Read: Pricing
Message-ID: <mdn-1@acme.example>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=disposition-notification; boundary="b"

--b
Content-Type: text/plain

Your message was read.
--b
Content-Type: message/disposition-notification

Final-Recipient: rfc822; jane@acme.example
Disposition: manual-action/MDN-sent-manually; displayed
--b--
"""),
        not_a_lead="auto_reply",
    ),
    Sample(
        "read-receipt-outlook-plain",
        message(
            "Your message\n\n To: Jane Doe\n Subject: Pricing\n Sent: 02/11/2026 09:00\n\n"
            "was read on 02/11/2026 10:00.\n",
            subject="Read: Pricing",
        ),
        not_a_lead="auto_reply",
    ),
    Sample(
        "read-receipt-outlook-fr",
        message(
            "Votre message\n\n À : Jean\n Objet : Devis\n\na été lu le 02/11/2026 10:00.\n",
            subject="Lu : Devis",
        ),
        not_a_lead="auto_reply",
    ),
    Sample(
        "calendar-accepted-method-reply",
        raw("""From: Jane Doe <jane@acme.example>
To: rita@ourco.com
Subject: Accepted: Demo call
Message-ID: <cal-1@acme.example>
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="b"

--b
Content-Type: text/plain; charset=utf-8

Jane Doe has accepted this invitation.
--b
Content-Type: text/calendar; charset=utf-8

BEGIN:VCALENDAR
METHOD:REPLY
BEGIN:VEVENT
ATTENDEE;PARTSTAT=ACCEPTED:mailto:jane@acme.example
END:VEVENT
END:VCALENDAR
--b--
"""),
        not_a_lead="auto_reply",
    ),
]
# People who merely mention being away, or answer a read request, stay leads.
NOT_LEADS += [
    Sample(
        "human-out-of-office-in-subject",
        message(
            "I'll be out next week, so please send the quote for 40 seats today.\n",
            subject="Out of office next week - need quote today",
        ),
        {"kind": "email_inquiry"},
    ),
    Sample(
        "human-out-of-office-in-body",
        message(
            "Hi,\nI called but got your out of office message. Can you send pricing for 40 "
            "seats?\n\nJane\n",
            subject="Pricing",
        ),
        {"kind": "email_inquiry"},
        text_has=("out of office message",),
    ),
    Sample(
        "human-read-subject-long-body",
        message("Read the brochure, we want a quote for 40 seats.\n", subject="Read: brochure"),
        {"kind": "email_inquiry"},
    ),
]

SIGNATURES = [
    Sample(
        "sig-de-national-number-and-fax",
        message(
            "Hallo,\nbitte Angebot.\n\nMit freundlichen Grüßen\n\nHans Weber\nEinkaufsleiter\n"
            "Weber Maschinen GmbH\nFax 030 1234568\nTel. 030 1234567\n",
            sender="Hans Weber <h.weber@weber-maschinen.de>",
        ),
        {"title": "Einkaufsleiter", "company": "Weber Maschinen GmbH", "phone": "+49301234567"},
    ),
    Sample(
        "sig-nl-inkoper",
        message(
            "Goedemorgen,\ngraag een offerte.\n\nMet vriendelijke groet,\nJan de Vries\nInkoper\n"
            "De Vries Techniek B.V.\nT +31 20 123 4567\n",
            sender="Jan de Vries <jan@devries-techniek.nl>",
        ),
        {"title": "Inkoper", "company": "De Vries Techniek B.V.", "phone": "+31201234567"},
    ),
    Sample(
        "sig-title-and-company-on-one-line",
        message(
            "Hi, quote please.\n\n-- \nJane Doe\nCEO, Acme Corp\nM: +44 7911 123456\n",
            sender="Jane Doe <jane@acme.co.uk>",
        ),
        {"title": "CEO", "company": "Acme Corp", "phone": "+447911123456"},
    ),
    Sample(
        "sig-one-line-pipes-no-closing-and-disclaimer",
        message(
            "Hi,\nwe need 50 licences.\n\nJane Doe | VP Sales | Acme Corp | +1 415 555 0134\n\n"
            "This email and any files transmitted with it are confidential and intended solely "
            "for the use of the individual or entity to whom they are addressed.\n"
        ),
        {"title": "VP Sales", "company": "Acme Corp", "phone": "+14155550134"},
        text_has=("50 licences",),
        text_lacks=("confidential", "VP Sales"),
    ),
    Sample(
        "sig-confidentiality-banner-on-top",
        message(
            "CAUTION: This email originated from outside of the organization. Do not click "
            "links unless you recognize the sender.\n\nHi, we need 50 licences.\n"
        ),
        {"kind": "email_inquiry"},
        text_has=("50 licences",),
        text_lacks=("CAUTION",),
    ),
    Sample(
        "sig-german-disclaimer-after-closing",
        message(
            "Hallo,\nbitte Angebot für 20 Stück.\n\nGruß\nHans\n\nDiese E-Mail enthält "
            "vertrauliche und/oder rechtlich geschützte Informationen. Wenn Sie nicht der "
            "richtige Adressat sind, informieren Sie bitte sofort den Absender.\n",
            sender="Hans <hans@weber.de>",
        ),
        text_has=("20 Stück",),
        text_lacks=("vertrauliche",),
    ),
    Sample(
        "sig-iphone-de",
        message(
            "Hallo,\nAngebot bitte.\n\nVon meinem iPhone gesendet\n", sender="Hans <hans@weber.de>"
        ),
        text_lacks=("iPhone",),
    ),
    Sample(
        "sig-iphone-ru",
        message("Прошу цену.\n\nОтправлено с iPhone\n", sender="Иван <ivan@romashka.ru>"),
        text_lacks=("iPhone",),
    ),
]

SAMPLES = NOT_LEADS + SIGNATURES
