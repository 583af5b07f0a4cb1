"""Replies: every labelled reply through the real pipeline keeps its new text and loses its quote."""

# ruff: noqa: RUF001 - attributions in Cyrillic on purpose

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlmodel import col

from bot.runtime import Runtime
from ingest.inquiry import Inquiry
from ingest.mail import read_email
from storage.models import Activity, RawStatus
from tests.corpora import INTERNAL, RECEIVED, as_message, replies

MIN_RIGHT = 0.95
CASES = replies.cases()


def test_every_reply_is_stored_with_its_new_text(runtime: Runtime) -> None:
    raw_ids: dict[str, int] = {}
    for case in CASES:
        raw_id, new = runtime.pipeline.accept(case.raw, channel="file")
        assert new, f"{case.name}: taken for an earlier case"
        outcome = runtime.pipeline.process(raw_id)
        assert outcome.status == RawStatus.PROCESSED, (case.name, outcome.status, outcome.reason)
        raw_ids[case.name] = raw_id
    with runtime.store.session() as s:
        stored = {
            a.raw_id: str(a.data.get("text", ""))
            for a in s.scalars(
                select(Activity).where(col(Activity.kind).in_(("email_reply", "email_inquiry")))
            )
        }
    missing = [name for name, raw_id in raw_ids.items() if raw_id not in stored]
    assert not missing, f"no activity for {missing[:5]}"
    verdicts = {case.name: replies.judge(case, stored[raw_ids[case.name]]) for case in CASES}
    wrong = {name: v.detail for name, v in verdicts.items() if not v.right}
    right = sum(v.right for v in verdicts.values()) / len(CASES)
    assert right >= MIN_RIGHT, f"{right:.1%} right; misses: {wrong}"


def test_the_pipeline_stores_what_the_reader_reads() -> None:
    # The fraction the bench prints (read_email alone) is the one the pipeline test holds.
    outcomes = [replies.ours(case) for case in CASES]
    assert not [o.detail for o in outcomes if o.wrong], "a reply made someone else the lead"
    assert sum(o.right for o in outcomes) / len(CASES) >= MIN_RIGHT


def text_of(body: str) -> str:
    raw = as_message(body, sender="Pat Buyer <pat@buyer.example>")
    result = read_email(raw, internal_domains=INTERNAL, received_at=RECEIVED)
    assert isinstance(result, Inquiry), result
    assert result.email == "pat@buyer.example"
    return result.text


QUOTE = "> Dear customer, here is our offer for the 20 units.\n"


@pytest.mark.parametrize(
    "header",
    [
        "2016-03-03 17:21 GMT+01:00 Sam Rep <sam@rep.example>:",  # Gmail's ISO form, no verb
        "2016-03-03 17:21 GMT+01:00 Sam Rep <\nsam@rep.example>:",  # ... its address wrapped
        "Sam Rep <sam@rep.example> schrieb am Fr., 4. März 2016, 17:21 Uhr:",
        "Sam Rep <sam@rep.example> schrieb am Fr., 4. März 2016,\n17:21 Uhr:",
        "Il giorno gio 3 mar 2016 alle ore 17:21 Sam Rep <sam@rep.example> ha scritto:",
        "3 мар. 2016 г., в 17:21, Sam Rep <sam@rep.example>:",
        "W dniu 3.03.2016 o 17:21, Sam Rep pisze:",
        "---- On Thu, 03 Mar 2016 17:21:00 +0100 sam@rep.example wrote ----",
        "Sam Rep <sam@rep.example> wrote:",
    ],
)
def test_an_attribution_is_found_by_its_shape(header: str) -> None:
    text = text_of(f"Yes, we take 20 units.\n\n{header}\n\n{QUOTE}")
    assert text == "Yes, we take 20 units."


@pytest.mark.parametrize(
    "block",
    [
        "Da: Sam Rep <sam@rep.example>\nData: giovedì 3 marzo 2016 17:21\nA: Pat Buyer\n"
        "Oggetto: R: Offerta",
        "Da: Sam Rep [mailto:sam@rep.example]\nInviato: giovedì 3 marzo 2016 17:21\nA: Pat\n"
        "Cc: Ufficio acquisti\nOggetto: R: Offerta",
        # An HTML table as text: each value on the line below its label.
        "Da:\nSam Rep <sam@rep.example>\nData:\n3 marzo 2016 17:21\nOggetto:\nOfferta",
        # A label the vocabulary does not know ("Envoyé le") among ones it does.
        "De : Sam Rep<mailto:sam@rep.example>\nEnvoyé le :jeudi 3 mars 2016 17:21\n"
        "À : pat@buyer.example\nObjet : Offre",
        "From: Human Resources\n<sam@rep.example>\nSent: Thursday, March 3, 2016 5:21 PM\n"
        "To: Pat Buyer\nSubject: Offer",
        # Labels in none of the known languages: found by the bracketed From and the time.
        "Dari: Sam Rep <sam@rep.example>\nDikirim: Kamis, 3 Maret 2016 17:21\nKepada: Pat\n"
        "Subjek: Penawaran",
    ],
)
def test_an_outlook_block_is_found_by_its_shape(block: str) -> None:
    body = f"Grazie, 20 pezzi.\n\n{block}\n\nDear customer, here is our offer for the 20 units.\n"
    assert text_of(body) == "Grazie, 20 pezzi."


def test_an_answer_below_the_quote_is_kept() -> None:
    body = f"On Thu, 3 Mar 2016 at 17:21, Sam Rep <sam@rep.example> wrote:\n{QUOTE}\nYes, 20 units."
    assert text_of(body) == "Yes, 20 units."


def test_inline_answers_between_quotes_are_kept() -> None:
    body = (
        "On Thu, 3 Mar 2016 at 17:21, Sam Rep <sam@rep.example> wrote:\n> How many units?\n\n"
        "Twenty.\n\n> Which colour?\n\nBlue.\n"
    )
    assert text_of(body) == "Twenty.\n\nBlue."


def test_text_below_a_header_at_the_very_top_is_the_new_text() -> None:
    body = "Od: Sam Rep <sam@rep.example>\nWysłano: 3 marca 2016 17:21\nTemat: Oferta\n\nTak, 20."
    assert text_of(body) == "Tak, 20."


def test_an_unmarked_older_thread_below_a_quote_is_cut() -> None:
    body = (
        f"Yes, 20 units.\n\nOn Thu, 3 Mar 2016 at 17:21, Sam Rep <sam@rep.example> wrote:\n"
        f"{QUOTE}\nOriginal text of an older message\n\n"
        "On Wed, 2 Mar 2016 at 10:00, Pat Buyer <pat@buyer.example> wrote:\n\nHello, a question."
    )
    assert text_of(body) == "Yes, 20 units."


def test_a_reply_that_is_only_a_thank_you_keeps_it() -> None:
    assert text_of(f"Thank you.\n\nSam Rep <sam@rep.example> wrote:\n{QUOTE}") == "Thank you."


@pytest.mark.parametrize(
    "body",
    [
        # Label: value lines of an inquiry are not a header block: no address, no subject.
        "Hi, I need a quote:\n\nFrom: Berlin\nTo: Munich\nDate: 12 May 2026 10:00\n\n3 pallets.",
        "Please call me on 12/03/2024 at 10:00 or mail pat@buyer.example. Details:\n\n3 pallets.",
        "On Monday we talked.\nOn 3 March at 10:00 we meet.\n\n3 pallets.",
        "In 2024 08:19 escreveu some more text\n\n3 pallets.",
        "Please ship by 12 May 2026 to pat@buyer.example:\n\n3 pallets.",
        "My details:\n\nEmail: pat@buyer.example\nPhone: +1 555 0100\nArrival: 12 May 2026 "
        "18:00\nRoom: double\n\n3 pallets.",
    ],
)
def test_text_that_only_looks_like_a_header_is_kept(body: str) -> None:
    assert text_of(body).endswith("3 pallets.")
