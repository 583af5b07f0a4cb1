"""Words that mark signatures in the languages our leads write: closings, titles, legal forms."""

# ruff: noqa: RUF001 - the vocabulary is Cyrillic, Turkish and CJK text on purpose

from __future__ import annotations

import re

# "-- " (RFC 3676 4.3, trailing space trimmed), Outlook's underscores, an em dash.
DELIMITER = re.compile(r"^(--|__|—)\s*$")

# Lines that mobile and webmail clients append: everything after them is signature.
MOBILE = re.compile(
    r"^\s*(sent from my|sent from (outlook|mail|yahoo|proton|gmail|samsung)|sent via|sent with|"
    r"get outlook for|outlook für (ios|android) (beziehen|herunterladen)|obtenir outlook pour|"
    r"(gesendet von|envoyé à partir de|enviado desde|inviato da|verzonden vanuit|sendt fra|"
    r"skickat från|lähetetty sovelluksesta|wysłane z aplikacji|odesláno z aplikace|"
    r"отправлено из приложения) outlook|von outlook für (ios|android) gesendet|"
    r"obtener outlook para|(ottieni|scarica) outlook per|outlook voor (ios|android) downloaden|"
    r"(obter o|baixe o|obtenha o) outlook para|hämta outlook för|"
    r"von meinem .* gesendet|gesendet von meinem|gesendet mit|envoyé de mon|"
    r"envoyé depuis|enviado desde mi|enviado desde|inviato da|enviado do meu|enviado de meu|"
    r"verzonden vanaf mijn|verstuurd vanaf mijn|skickat från min|sendt fra min|lähetetty "
    r"iphonesta|wysłane z|odesláno z|отправлено с|iphone'umdan gönderildi|发自我的|來自我的|"
    r"iphoneから送信|android(から|で)送信|나의 iphone에서 보냄|נשלח מה-?iphone|أرسلت من|"
    r"签名由\s*网易邮箱大师\s*定制|发自网易邮箱大师|来自网易邮箱大师|发自\s*(qq|网易)邮箱)",
    re.IGNORECASE,
)

# "Sent from <an app>" in the languages mail apps speak, as a whole short line ("Sent from
# TypeApp", "Gesendet von Outlook für Android", "Envoyé à partir de Outlook pour iOS",
# "Von Outlook für iOS gesendet", "Отправлено из мобильной Почты Mail.ru"); signature.py
# checks the length (a sentence that starts so is text).
SENT_FROM_APP = re.compile(
    r"^\s*((sent|gesendet|envoyé|enviado|inviato|verzonden|verstuurd|sendt|skickat|lähetetty|"
    r"wysłane|odesláno|odoslané|отправлено|надіслано|trimis|poslano|elküldve)\s+"
    r"(from|with|via|using|on|von|mit|über|de|à partir de|depuis|avec|desde|con|da|do|dal|"
    r"vanuit|vanaf|met|via|fra|från|med|z|ze|из|с|з|de pe|s|iz|a)\s+\S"
    r"|von .{1,40} gesendet|envoyé avec .{1,40}|.{1,40} から送信)",
    re.IGNORECASE,
)

# A closing formula alone on its line ("Best regards," / "Mit freundlichen Grüßen" / "此致").
VALEDICTION = re.compile(
    r"^\s*((with )?(best|kind|warm|warmest|kindest) (wishes|regards|rgds)|best|regards|rgds|"
    r"brgds|br|many thanks|thanks( again| in advance| so much)?|thank you( in advance| again)?|"
    r"thx|tks|cheers|sincerely|yours sincerely|sincerely yours|yours truly|yours|all the best|"
    r"cordially|respectfully|warmly|take care|love|ciao|"
    r"mit freundlichen grüßen|mit freundlichen gruessen|freundliche grüße|viele grüße|"
    r"beste grüße|liebe grüße|mfg|gruß|grüße|(viele|beste|liebe|freundliche) gruesse|gruss|"
    r"(mit )?(freundlichen|freundliche|beste|liebe|viele|herzliche|schöne) grüsse|grüsse|lg|vg|"
    r"herzliche grüße|schöne grüße|bis bald|"
    r"cordialement|bien cordialement|bien à vous|amicalement|bien amicalement|[àa] bient[ôo]t|"
    r"[àa] plus|bonne (journée|soirée)|belle journée|bises|"
    r"salutations|meilleures salutations|sinc[èe]res salutations|saludos|saludos cordiales|"
    r"un saludo|un abrazo|abrazos|atentamente|cordiali saluti|distinti saluti|saluti|un saluto|"
    r"a presto|buona giornata|atenciosamente|"
    r"cumprimentos|abraços|met vriendelijke groet(en)?|vriendelijke groet(en)?|groeten|groetjes|"
    r"med vänliga hälsningar|hälsningar|mvh|med venlig hilsen|ystävällisin terveisin|"
    r"pozdrawiam|z poważaniem|pozdrowienia|s pozdravem|с уважением|всего доброго|"
    r"спасибо|с наилучшими пожеланиями|saygılarımla|saygılar|iyi çalışmalar|"
    r"με εκτίμηση|φιλικά|مع تحيات[يى]?|مع التحية|تحياتي|בברכה|תודה|"
    r"此致(\s*敬礼)?|敬礼|谢谢|謝謝|祝好|顺祝商祺|よろしくお願い(いた)?します|"
    r"よろしくお願い申し上げます|以上、?よろしくお願いいたします|감사합니다|고맙습니다)"
    r"\s*[,.!。！，、]*\s*$",
    re.IGNORECASE,
)

# Job titles, word-bounded where the script has word boundaries. German compounds
# ("Einkaufsleiter", "Vertriebsmitarbeiterin") end in the title word, so those are suffixes.
TITLE = re.compile(
    r"\b(ceo|cto|cfo|coo|cmo|cio|vp|svp|evp|president|founder|co-founder|owner|partner|"
    r"director|head|manager|lead|chief|officer|engineer|developer|architect|consultant|"
    r"specialist|analyst|buyer|purchasing|procurement|sales|marketing|administrator|"
    r"coordinator|assistant|counsel|attorney|lawyer|paralegal|solicitor|associate|"
    r"executive|advis[oe]r|accountant|controller|treasurer|secretary|principal|"
    r"supervisor|superintendent|scientist|researcher|professor|lecturer|trader|planner|"
    r"designer|editor|recruiter|strategist|producer|technician|estimator|chair(man|woman|person)?|"
    r"fellow|staff|journalist|reporter|writer|economist|geologist|geophysicist|physicist|chemist|"
    r"candidate|student|intern|clerk|agent|broker|dean|provost|chancellor|rector|trustee|"
    r"commissioner|governor|senator|minister|ambassador|pastor|physician|nurse|"
    r"represen[a-z]*|specialist|programmer|operator|scheduler|auditor|actuary|senior|support|"
    r"leiter(in)?|einkauf|vertrieb|geschäftsführer(in)?|geschaftsfuhrer|inhaber(in)?|vorstand|"
    r"prokurist(in)?|einkäufer(in)?|directeur|directrice|responsable|gérant(e)?|acheteur|"
    r"acheteuse|ingénieur|gerente|jefe|jefa|director[a]?|comprador[a]?|direttore|direttrice|"
    r"responsabile|titolare|amministratore|diretor[a]?|inkoper|eigenaar|bedrijfsleider|"
    r"kierownik|dyrektor|prezes|właściciel(ka)?|specjalista|директор|менеджер|руководитель|"
    r"начальник|специалист|müdür(ü)?|yönetici|sahibi|διευθυντής|υπεύθυνος|مدير|מנהל(ת)?|"
    r"מנכ\"?ל)\b"
    r"|\w(leiter(in)?|führer(in)?|manager(in)?|referent(in)?|berater(in)?)\b"
    r"|(总经理|總經理|经理|經理|部长|部長|总监|總監|董事长|董事長|主管|主任|代表取締役|取締役|"
    r"社長|課長|本部長|マネージャー|대표이사|대표|팀장|부장|과장|이사)",
    re.IGNORECASE,
)

# Legal forms that say a line is a company name.
COMPANY = re.compile(
    r"\b(inc|llc|l\.l\.c|ltd|limited|gmbh|mbh|ag|kg|ug|e\.k|se|sa|s\.a|sas|sarl|s\.a\.r\.l|"
    r"s\.r\.l|srl|spa|s\.p\.a|s\.l|sl|bv|b\.v|nv|n\.v|co|corp|corporation|company|plc|pty|oy|"
    r"ab|as|aps|a/s|kft|zrt|s\.r\.o|a\.s|sp\. z o\.o|ltda|lda|s\.a\.s|a\.ş|ltd\. ?şti|"
    r"llp|l\.l\.p|lp|l\.p|pllc|pc|p\.c|gbr|ohg|eg|kgaa|sarl|sàrl|bvba|cv|ab|asa|oyj|"
    r"group|holding|technologies|solutions|systems|labs|ооо|оао|зао|пао|ао|тов)(?!\w)\.?"
    r"|(株式会社|有限会社|合同会社|股份有限公司|有限公司|集团|公司|주식회사|㈜|\(주\))",
    re.IGNORECASE,
)

# Words of organisations that carry no legal form: universities, schools, associations, banks.
ORGANISATION = re.compile(
    r"\b(university|universit[äéà]t?|universidad|università|universidade|universiteit|college|"
    r"institute|institut|instituto|istituto|school|academy|akademie|association|associates|"
    r"society|foundation|stiftung|fondation|fundación|council|committee|commission|authority|"
    r"agency|ministry|bank|banque|banco|partners|consulting|capital|services|ventures|"
    r"laboratory|laboratories|hospital|clinic|klinik|centre|center|zentrum|trust|exchange|"
    r"securities|international|industries|enterprises|associés|hochschule|fachhochschule|"
    r"école|ecole|escuela|scuola|universitet|uniwersytet|университет|институт|大学|学院)\b",
    re.IGNORECASE,
)

# A line naming a part of an organisation: a department is not the company.
DEPARTMENT = re.compile(
    r"\b(dept|department|division|desk|team|affairs|abteilung|département|departamento|"
    r"dipartimento|afdeling|avdelning|отдел|部門)\b",
    re.IGNORECASE,
)

# Credentials and suffixes after a signed name ("Mark Guinney, CFA", "John Doe, Ph.D.").
CREDENTIAL = re.compile(
    r"(ph\.?\s?d|m\.?d|mba|cfa|cpa|cpc|cfp|frm|esq|jr|sr|ii|iii|iv|p\.e|llm|ll\.m|msc|bsc)\.?",
    re.IGNORECASE,
)
# Honorifics before a signed name.
HONORIFIC = re.compile(
    r"(dr|prof|mr|mrs|ms|miss|me|mme|mlle|herr|frau|sr|sra|srta|dott|ing|dipl\.-ing|mag)\.?",
    re.IGNORECASE,
)

# A number's label that makes it a fax, before ("Fax:", "F:", "f.") or after ("(fax)") it.
FAX = re.compile(
    r"\b(fax|facsimile|telefax|fx|f)\b\.?\s*[:.]?|传真|傳真|ファックス|팩스", re.IGNORECASE
)

# Parts of a postal address: a line with one of these is not a title or a company.
ADDRESS = re.compile(
    r"\b(street|avenue|ave\.?|road|rd\.|boulevard|blvd|drive|lane|suite|ste\.|"
    r"floor|room|building|p\.?\s?o\.? box|box \d+|strasse|straße|str\.|platz|rue|avenue|"
    r"calle|via|piazza|rua|plaza|weg|laan|gatan|gade|vej|ulica|ul\.)\b"
    r"|\b\d{5}(-\d{4})?\b|\b[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}\b|\b[A-Z]\d[A-Z] ?\d[A-Z]\d\b",
    re.IGNORECASE,
)
# "Houston, TX", "Denver, Colo.", "Sioux Falls, SD": a town and a US state or Canadian province.
TOWN_STATE = re.compile(
    r",\s*(al|ak|az|ar|ca|co|ct|de|fl|ga|hi|id|il|in|ia|ks|ky|la|me|md|ma|mi|mn|ms|mo|mt|ne|nv|"
    r"nh|nj|nm|ny|nc|nd|oh|ok|or|pa|ri|sc|sd|tn|tx|ut|vt|va|wa|wv|wi|wy|dc|ab|bc|mb|nb|nl|ns|"
    r"on|pe|qc|sk|alabama|alaska|arizona|arkansas|california|calif|colorado|colo|connecticut|"
    r"conn|delaware|florida|fla|georgia|hawaii|idaho|illinois|ill|indiana|ind|iowa|kansas|kan|"
    r"kentucky|louisiana|maine|maryland|massachusetts|mass|michigan|mich|minnesota|minn|"
    r"mississippi|missouri|montana|nebraska|nevada|new hampshire|new jersey|new mexico|new york|"
    r"north carolina|north dakota|ohio|oklahoma|okla|oregon|pennsylvania|penn|rhode island|"
    r"south carolina|south dakota|tennessee|tenn|texas|tex|utah|vermont|virginia|washington|"
    r"wash|west virginia|wisconsin|wis|wyoming|alberta|british columbia|manitoba|ontario|"
    r"quebec|québec|saskatchewan|usa|u\.s\.a|canada|uk|england)\.?(\s+[\dA-Z -]{3,10})?\s*$",
    re.IGNORECASE,
)

# Labels that say a number on a body line is a phone (not an order or reference number).
PHONE_LABEL = re.compile(
    r"(\b(tel|tél|phone|mobile|mob|cell|fon|telefon|telefono|teléfono|telefone|handy|direct|"
    r"office|port|portable|móvil|cellulare|celular|gsm|tlf|puh|тел|моб|t|m|p)\b|电话|電話|手机|"
    r"手機|携帯|전화|휴대폰|هاتف|جوال|טל|נייד)\.?\s*[:.：]?\s*[+(\d]",
    re.IGNORECASE,
)

# A person giving their number in the text: "call me at", "my number is", in many languages.
CALL_ME = re.compile(
    r"(\b(call|reach|ring|text|phone|whatsapp|contact) (me|us)( back)?( at| on| under)?|"
    r"\bmy (phone |mobile |cell |direct )?(number|line)( is)?|\b(phone|mobile|cell) number( is)?|"
    r"rufen sie (mich|uns)( bitte)? (unter|an)|erreichen sie (mich|uns)( bitte)? unter|"
    r"(meine|unsere) (telefon|handy|mobil)?nummer|appelez-(moi|nous)|joignable au|"
    r"mon (numéro|portable|téléphone)|ll[áa]m(a|e)me|mi (número|teléfono|móvil)|chiamami|"
    r"il mio (numero|cellulare)|bel (me|mij)|mijn (telefoon)?nummer|ligue(-me)? para|"
    r"meu (número|telefone|celular)|zadzwoń|pod numerem|позвоните|мой (номер|телефон))"
    r"[^\n\d+]{0,25}[+(\d]",
    re.IGNORECASE,
)

# Confidentiality notices and disclaimers: boilerplate, never the inquiry.
DISCLAIMER = re.compile(
    r"(intended (solely |only )?for the (use of the )?(individual|addressee|recipient|named)|"
    r"if you are not the intended recipient|intended recipient|confidentiality notice|"
    r"this (e-?mail|message) (and any (files|attachments)[^.]{0,60})?(is|are|may be) "
    r"(confidential|privileged)|disclaimer\s*:|vertrauliche (und/oder|informationen)|"
    r"nicht der (richtige|beabsichtigte) (adressat|empfänger)|destinataire(s)? (exclusif|"
    r"désigné|prévu)|message (et toutes les pièces jointes )?(est|sont) confidentiel|"
    r"destinatario (previsto|indicado)|información confidencial|destinatario indicato|"
    r"informazioni riservate|riservat[oa] e confidenziale|destinatário (pretendido|indicado)|"
    r"não (é|for) o destinatário|vertrouwelijk|"
    r"niet de (beoogde )?geadresseerde|poufn|конфиденциальн|机密|保密|秘密情報|機密情報|"
    r"기밀|סודי|سري)",
    re.IGNORECASE,
)

# What a mailing list's software appends (Mailman, Google Groups, Discourse, Groups.io): no one
# wrote it.
LIST_FOOTER = re.compile(
    r"(/mailman/listinfo/|^\S+ mailing list( -- \S+@\S+)?$|^\S+@(lists?|groups?)\.\S+$|"
    r"^to unsubscribe send an email to \S+-(leave|unsubscribe|request)@|you received this "
    r"message because you are subscribed to|to unsubscribe from this (group|list|topic)|"
    r"view this discussion on the web|^(to )?unsubscribe:? \S+@|groups\.io links:)",
    re.IGNORECASE | re.MULTILINE,
)

# Banners that mail gateways put at the top of external mail.
BANNER = re.compile(
    r"^\W{0,3}(external|caution|warning|attention|notice|confidential|disclaimer|externe?|"
    r"achtung|vorsicht|hinweis)\b.{0,400}(outside (of )?(your|the|our) organi[sz]ation|"
    r"external sender|außerhalb|extérieur|do not click|nicht auf links|intended (only |solely )?"
    r"for|privileged)",
    re.IGNORECASE | re.DOTALL,
)
