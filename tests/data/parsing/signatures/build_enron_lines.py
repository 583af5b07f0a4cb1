"""Build enron_lines.json from Quagga's line-labelled Enron sample (run by hand; see LICENSES.md).

    python tests/data/parsing/signatures/build_enron_lines.py /tmp/quagga \
        > tests/data/parsing/signatures/enron_lines.json

Quagga marks each line of these 169 messages as header (H>), body (B>) or signature (S>), but
names no fields. The message parts below were picked and their fields labelled by us from the
signature lines as printed: the part's sender as its header shows it, the name, the job title,
the organisation and the phone numbers (never a fax) of the person who signs.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

# (file, part): sender, labels. Parts are counted from 0 at each run of header lines.
LABELS: dict[tuple[str, int], dict[str, Any]] = {
    ("maildir_bass-e_all_documents_939.", 1): {
        "sender": '"Bass, Jason" <Jason.Bass2@COMPAQ.com>',
        "name": ["Jason Bass"],
        "title": ["TSE"],
        "company": ["Compaq Computer Corporation"],
    },
    ("maildir_dorland-c_all_documents_109.", 0): {
        "sender": "chris.dorland@enron.com",
        "name": ["Chris Dorland"],
        "phone": ["+14039746910"],
    },
    ("maildir_haedicke-m_inbox_508.", 1): {
        "sender": '"Mayeux, Gay" <gay.mayeux@enron.com>',
        "name": ["Gay Mayeux"],
        "title": ["Vice President, Investor Relations"],
        "company": ["Enron Corp."],
        "phone": ["+17138539905", "+17134168821"],
    },
    ("maildir_hyvl-d_all_documents_906.", 1): {
        "sender": '"Kleiner, Michael" <Michael.Kleiner@Crestar-Energy.com>',
        "name": ["Michael Kleiner"],
        "company": ["Gulf Canada Resources Limited"],
        "phone": ["+14032333330"],
    },
    ("maildir_jones-t_all_documents_12024.", 0): {
        "sender": "Taffy Milligan <taffy.milligan@enron.com>",
        "name": ["Taffy Milligan"],
        "title": ["Sr. Admin Assistant"],
        "phone": ["+17133457373"],
    },
    ("maildir_kaminski-v_discussion_threads_1268.", 2): {
        "sender": "J_Martin@baylor.edu",
        "name": ["John D. Martin"],
        "title": ["Carr P. Collins Chair in Finance"],
        "company": ["Baylor University", "Finance Department Baylor University"],
        "phone": ["+12547104473"],
    },
    ("maildir_kaminski-v_inbox_275.", 0): {
        "sender": '"Frolov, Yevgeny" <frolov@enron.com>',
        "name": ["Yevgeny Frolov"],
        "phone": ["+17133458250"],
    },
    ("maildir_kaminski-v_sent_1320.", 1): {
        "sender": '"John H Herbert" <jhh1@email.msn.com>',
        "name": ["John H Herbert"],
        "phone": ["+17035324544", "+16037196675"],
    },
    ("maildir_kean-s_all_documents_1945.", 0): {
        "sender": "John.Baker@daniel.com",
        "name": ["John A. Baker"],
        "title": ["Director of Information Technology"],
        "company": ["Fisher-Rosemount / Daniel (A Division of Emerson Electric)", "Daniel"],
        "phone": ["+17138273328"],
    },
    ("maildir_lay-k_deleted_items_227.", 0): {
        "sender": '"leslie@hgea.org" <leslie@hgea.org>',
        "name": ["Leslie Segundo"],
    },
    ("maildir_lay-k_discussion_threads_736.", 0): {
        "sender": '"A.BIJAN GHODSTINAT" <BIJANGH2000@TAVANA.NET>',
        "phone": ["+989112131031", "+982120067702"],
    },
    ("maildir_mann-k__sent_mail_2453.", 2): {
        "sender": "tseigler@coral-energy.com",
        "name": ["Tom Seigler"],
        "phone": ["+17137675672"],
    },
    ("maildir_mclaughlin-e_eol___tagg_118.", 0): {
        "sender": '"Johnson, Cheryl" <cheryl.johnson@enron.com>',
        "name": ["Cheryl Johnson"],
        "company": ["Enron Net Works"],
        "phone": ["+17138533103"],
    },
    ("maildir_perlingiere-d_all_documents_2473.", 0): {
        "sender": "debra.perlingiere@enron.com",
        "name": ["Debra Perlingiere"],
        "company": ["Enron North America Corp."],
        "phone": ["+17138537658"],
    },
    ("maildir_perlingiere-d_sent_574.", 0): {
        "sender": "Debra Perlingiere <debra.perlingiere@enron.com>",
        "name": ["Debra Perlingiere"],
        "company": ["Enron North America Corp."],
        "phone": ["+17138537658"],
    },
    ("maildir_richey-c_infrastructure_6.", 3): {
        "sender": "faheem.qavi@enron.com",
        "name": ["Faheem A. Qavi"],
        "company": ["Enron Net Works"],
        "phone": ["+17133458338"],
    },
    ("maildir_richey-c_infrastructure_6.", 4): {
        "sender": '"Richey, Cooper" <cooper.richey@enron.com>',
        "name": ["Cooper Richey"],
        "phone": ["+14039746946"],
    },
    ("maildir_rogers-b_deleted_items_207.", 0): {
        "sender": "JPade@nyiso.com",
        "name": ["John Pade"],
        "title": ["Manager of Load Forecasting"],
        "company": ["New York Independent System Operator"],
        "phone": ["+15183566224"],
    },
    ("maildir_shackleton-s_nelson_72.", 0): {
        "sender": "cheryl.nelson@enron.com",
        "name": ["Cheryl Nelson"],
        "title": ["Senior Counsel"],
        "phone": ["+17133454693"],
    },
    ("maildir_shapiro-r_california_3.", 0): {
        "sender": "susan.mara@enron.com",
        "name": ["Sue Mara"],
        "company": ["Enron Corp."],
        "phone": ["+14157827802"],
    },
    ("maildir_dasovich-j_deleted_items_1947.", 4): {
        "sender": '"Mara, Susan" <Susan.J.Mara@ENRON.com>',
        "name": ["Susan Mara", "Sue Mara"],
        "phone": ["+14157827802"],
    },
    ("maildir_taylor-m_inbox_lisa_j_18.", 0): {
        "sender": '"Jacobson, Lisa" <lisa.jacobson@enron.com>',
        "name": ["Lisa Jacobson"],
        "title": ["Manager, Environmental Strategies"],
        "company": ["Enron"],
        "phone": ["+12024669176"],
    },
    ("maildir_watson-k_e_mail_bin_460.", 0): {
        "sender": "audrey.robertson@enron.com",
        "name": ["Audrey D. Robertson"],
        "company": ["Transwestern Pipeline Company"],
        "phone": ["+17138535849"],
    },
}


def _parts(body: str) -> list[list[str]]:
    """The message's parts: the lines (label removed) between runs of header lines."""
    parts: list[list[str]] = []
    current: list[str] = []
    in_header = False
    for line in body.split("\n"):
        label, sep, text = line.partition(">")
        if not sep or label not in {"H", "B", "S"}:
            label, text = "B", line
        if label == "H":
            if current and not in_header:
                parts.append(current)
                current = []
            in_header = True
            continue
        in_header = False
        current.append(text)
    parts.append(current)
    return parts


def _unquote(lines: list[str]) -> list[str]:
    for _ in range(5):
        filled = [x for x in lines if x.strip()]
        if not filled or sum(x.lstrip().startswith(">") for x in filled) < len(filled) / 2:
            break
        lines = [re.sub(r"^\s*> ?", "", x) for x in lines]
    return lines


def main(root: Path) -> None:
    folder = root / "Datasets/Enron/annotated_lines"
    cases: list[dict[str, Any]] = []
    for (name, part), label in LABELS.items():
        raw = (folder / name).read_text(encoding="utf-8", errors="replace").replace("\r\n", "\n")
        body = raw.split("\n\n", 1)[1]
        lines = _unquote(_parts(body)[part])
        fields = {k: v for k, v in label.items() if k != "sender"}
        ident = f"{name.removeprefix('maildir_').rstrip('.')}#{part}"
        text = "\n".join(lines).strip("\n")
        cases.append(
            {
                "id": ident,
                "split": "test",
                "sender": label["sender"],
                "body": text,
                "labels": fields,
            }
        )
    json.dump(cases, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
