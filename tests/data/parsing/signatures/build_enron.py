"""Build enron.json from Quagga's detailed Enron annotations (run by hand; see LICENSES.md).

    git --git-dir=/work/.mirror/HPI-Information-Systems+Quagga/repo/.git archive HEAD Datasets \
        | tar x -C /tmp/quagga
    python tests/data/parsing/signatures/build_enron.py /tmp/quagga > tests/data/parsing/signatures/enron.json

One case per message part (the top message and each quoted or forwarded one) whose signature the
annotators labelled with a name, position, organisation or phone. The labels are theirs, from the
signature block of the part's own author; CORRECTIONS below are ours, each with its reason.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

import phonenumbers

_ADDRESS = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")
_DEPARTMENT = re.compile(r"(?i)\b(dept|department|division)\b")
_FIELDS = {
    "Body/Signature/Name": "name",
    "Body/Signature/Position": "title",
    "Body/Signature/Organisation": "company",
    "Body/Signature/Phone": "phone",
}
# Ours: annotation slips (a title labelled as a phone, a firm's name as a person's) and labels that
# name a department or a team rather than the organisation; "skip" drops a part altogether.
CORRECTIONS: dict[str, dict[str, Any]] = {
    # The signature is someone else's than the sender's: a letter passed on, an announcement list,
    # an assistant sending for a lawyer, a colleague's text pasted without a header.
    "kean-s_calendar_untitled_973#0": {"skip": "Bill Paxon's letter sent by Cynthia Sandherr"},
    "kaminski-v_c_mangmt_group_software_management_362#0": {"skip": "announcement list"},
    "kaminski-v_discussion_threads_5340#0": {"skip": "announcement list"},
    "nemec-g_deleted_items_153#0": {"skip": "announcement list"},
    "jones-t_all_documents_9638#0": {"skip": "a department's mailbox, signed by a person"},
    "jones-t_notes_inbox_4142#3": {"skip": "Wayne Bartel's text sent by Bob Shults"},
    "jones-t_trading_issues_13#0": {"skip": "Neal Wolkoff's letter sent by Elona Dotson"},
    "beck-s_discussion_threads_640#0": {"skip": "Patti writing from Sally Beck's mailbox"},
    "sager-e_inbox_740#2": {"skip": "Dede Russo's message sent by ntillett"},
    "taylor-m_deleted_items_601#1": {"skip": "a newsletter; its fields are in the display name"},
    # Annotation slips.
    "sanders-r_all_documents_1492#0": {
        "name": None,  # "Luce, Forward" is the firm's name, not the sender's
        "company": ["Luce, Forward, Hamilton & Scripps LLP"],
    },
    "kaminski-v_sent_items_2302#1": {"name": ["Paul Quilkey"]},
    "lewis-a_inbox_74#0": {"name": ["Mark Sullivan"]},
    "mann-k_discussion_threads_1421#2": {"name": ["Lynn DeKrey"]},
    "jones-t_sent_items_89#2": {"name": ["Lauri Marttila"], "title": None},
    "dasovich-j_all_documents_10386#1": {"name": ["Carolyn M. Vavrek", "Carolyn Vavrek"]},
    "shackleton-s_notes_inbox_2517#0": {"name": None},  # a support desk, not a person
    "wolfe-j_saved_02_32#1": {"name": ["Judy Paul"]},
    "beck-s_inbox_693#1": {"title": ["Assistant to Greg Piper"]},  # "President & CEO" is his
    "kaminski-v_resumes_184#2": {
        "title": ["President", "CPC - President"],  # CPC is a credential
        "company": ["QUALITEC PROFESSIONAL SERVICES, LP"],
    },
    "mann-k_sent_2865#1": {"company": None},  # "King=01;& Spalding": a mangled character
    "mann-k_sent_2865#3": {"company": None},
    # A department or a team where a company or a job title is asked for.
    "kaminski-v_notes_inbox_166#0": {"company": None},
    "taylor-m_notes_inbox_741#0": {"company": None},
    "whalley-l_notes_inbox_557#0": {"company": None},
    "jones-t_notes_inbox_2520#0": {"title": None},
    "jones-t_notes_inbox_4448#0": {"title": None},
    "shackleton-s_notes_inbox_2668#5": {"title": None, "company": ["Lehman Brothers"]},
}


def _headers(raw: str) -> dict[str, str]:
    head = raw.replace("\r\n", "\n").split("\n\n", 1)[0]
    found: dict[str, str] = {}
    for line in head.split("\n"):
        key, sep, value = line.partition(":")
        if sep and not key.startswith((" ", "\t")):
            found.setdefault(key.strip().lower(), value.strip())
    return found


def _x_from_name(x_from: str) -> str | None:
    """The display name in Enron's X-From ("Cook, Mary </O=ENRON/...>", '"A B" <a@b.com>@ENRON')."""
    value = re.sub(r"\s*<IMCEANOTES-[^>]*>", "", x_from).strip()
    value = re.sub(r"@ENRON$", "", value).strip()
    if "<" in value:
        value = value.split("<", 1)[0]
    value = value.strip().strip('"').strip("'").strip()
    if not value or _ADDRESS.fullmatch(value) or "@" in value:
        return None
    return value


def _flip(name: str) -> str:
    last, sep, first = name.partition(",")
    return f"{first.strip()} {last.strip()}" if sep and first.strip() else name


def _e164(text: str) -> str | None:
    digits = re.sub(r"(?i)\s*(ext?\.?|x)\s*\d+\s*$", "", text.strip())
    try:
        number = phonenumbers.parse(digits, "US")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _unquote(body: str) -> str:
    """A part quoted once or twice in the thread, as its author sent it."""
    lines = body.split("\n")
    for _ in range(5):
        filled = [x for x in lines if x.strip()]
        if not filled or sum(x.lstrip().startswith(">") for x in filled) < len(filled) / 2:
            break
        lines = [re.sub(r"^\s*> ?", "", x) for x in lines]
    return "\n".join(lines)


def _groups(dens: list[dict[str, Any]], start: int, end: int) -> list[list[dict[str, Any]]]:
    """The labelled fields of each signature block in text[start:end], in text order."""
    inside = [x for x in dens if start <= x["start"] and x["end"] <= end]
    blocks = sorted((x for x in inside if x["type"] == "Body/Signature"), key=lambda x: x["start"])
    fields = sorted(
        (x for x in inside if x["type"].startswith("Body/Signature/")), key=lambda x: x["start"]
    )
    groups: list[list[dict[str, Any]]] = [[] for _ in blocks]
    loose: list[dict[str, Any]] = []
    for f in fields:
        home = [
            i for i, b in enumerate(blocks) if b["start"] <= f["start"] and f["end"] <= b["end"]
        ]
        (groups[home[0]] if home else loose).append(f)
    return [g for g in [*groups, loose] if g]


def _sender_of_part(
    text: str, dens: list[dict[str, Any]], head: dict[str, Any]
) -> tuple[str | None, str | None]:
    people = [
        x["text"].strip()
        for x in dens
        if x["type"] == "Header/Person/From" and head["start"] <= x["start"] < head["end"]
    ]
    address = next((p for p in people if _ADDRESS.fullmatch(p)), None)
    block = text[head["start"] : head["end"]]
    if address is None:
        first_line = re.split(r"\n\s*(?:>\s*)?(?:To|Sent|Date)\s*:", block, maxsplit=1)[0]
        match = _ADDRESS.search(first_line)
        address = match.group(0) if match else None
    name = next((p for p in people if not _ADDRESS.fullmatch(p) and "@" not in p), None)
    if name:
        name = re.split(r"/|@", name, maxsplit=1)[0].strip().strip('"').strip()
    return name or None, address


def _choose(
    groups: list[list[dict[str, Any]]], name: str | None, address: str | None
) -> list[dict[str, Any]]:
    """The block of the part's own author: the one naming them or their address, else the first."""

    def mine(group: list[dict[str, Any]]) -> bool:
        for f in group:
            value = f["text"].strip().lower()
            if address and f["type"] == "Body/Signature/Mail" and value == address.lower():
                return True
            if name and f["type"] == "Body/Signature/Name":
                words = set(re.findall(r"\w+", _flip(name).lower()))
                if words and len(words & set(re.findall(r"\w+", value))) >= min(2, len(words)):
                    return True
        return False

    return next((g for g in groups if mine(g)), groups[0])


def _case(
    ident: str, split: str, body: str, name: str | None, address: str, group: list[dict[str, Any]]
) -> dict[str, Any] | None:
    labels: dict[str, list[str]] = {}
    for f in group:
        field = _FIELDS.get(f["type"])
        if field is None:
            continue
        value = " ".join(f["text"].split())
        if field == "phone":
            value = _e164(f["text"]) or ""
        elif field == "company" and "\n" in f["text"].strip():
            lines = [" ".join(x.split()) for x in f["text"].strip().split("\n") if x.strip()]
            # Any line of a multi-line organisation names it, but a department alone does not.
            labels.setdefault(field, []).extend(x for x in lines if not _DEPARTMENT.search(x))
        if value and value not in labels.get(field, []):
            labels.setdefault(field, []).append(value)
    names = labels.pop("name", [])
    display = _flip(name) if name else None
    full = [n for n in names if len(n.split()) >= 2]
    if display and len(display.split()) >= 2 and display not in full:
        full.append(display)
    if full:
        labels["name"] = full
    if not labels:
        return None
    # A quarter of the parts are sent without a display name, as many clients and lists do.
    bare = name is None or hashlib.sha256(ident.encode()).digest()[0] < 64
    sender = address if bare else f'"{name}" <{address}>'
    return {"id": ident, "split": split, "sender": sender, "body": body, "labels": labels}


def _constructed(name: str | None) -> str | None:
    """first.last@enron.com, the corpus's own convention, for Notes headers that show no address."""
    if not name:
        return None
    words = re.findall(r"[A-Za-z]+", _flip(name))
    return f"{words[0]}.{words[-1]}@enron.com".lower() if len(words) >= 2 else None


def main(root: Path) -> None:
    cases: list[dict[str, Any]] = []
    for ann in sorted((root / "Datasets/Enron/annotated_detailled").glob("*/*.ann")):
        try:
            data = json.loads(ann.read_text(encoding="utf-8"))
        except ValueError:
            continue  # a hundred files of the set are empty
        raw = ann.with_suffix("").read_text(encoding="utf-8", errors="replace")
        text: str = data["text"]
        dens: list[dict[str, Any]] = data["denotations"]
        heads = sorted((x for x in dens if x["type"] == "Header"), key=lambda x: x["start"])
        top = _headers(raw)
        bounds = [(0, heads[0]["start"] if heads else len(text), None)]
        bounds += [
            (h["end"], heads[i + 1]["start"] if i + 1 < len(heads) else len(text), h)
            for i, h in enumerate(heads)
        ]
        for part, (start, end, head) in enumerate(bounds):
            groups = _groups(dens, start, end)
            if not groups:
                continue
            if head is None:
                name, address = _x_from_name(top.get("x-from", "")), top.get("from")
            else:
                name, address = _sender_of_part(text, dens, head)
            group = _choose(groups, name, address)
            mail = next(
                (f["text"].strip() for f in group if f["type"] == "Body/Signature/Mail"), None
            )
            address = address or (mail if mail and _ADDRESS.fullmatch(mail) else None)
            address = address or _constructed(name)
            if address is None:
                continue
            ident = f"{ann.name.removesuffix('.txt.ann')}#{part}"
            fix = CORRECTIONS.get(ident, {})
            if fix.get("skip"):
                continue
            body = _unquote(text[start:end]).strip("\n")
            case = _case(ident, ann.parent.name, body, name, address.lower(), group)
            if case is None:
                continue
            for field, value in fix.items():
                if field == "note":
                    case["note"] = value
                elif value:
                    case["labels"][field] = value
                else:
                    case["labels"].pop(field, None)
            if case["labels"]:
                cases.append(case)
    json.dump(cases, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
