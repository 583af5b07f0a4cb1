"""Every written sample reads to the outcome it states: lead fields, text, or NotALead kind."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ingest.inquiry import Inquiry, NotALead
from ingest.mail import read_email
from tests.ingest import mail_samples_auto, mail_samples_fwd, mail_samples_intl
from tests.ingest.mail_samples import INTERNAL, Sample

NOW = datetime(2026, 11, 3, tzinfo=UTC)
SAMPLES = [*mail_samples_intl.SAMPLES, *mail_samples_fwd.SAMPLES, *mail_samples_auto.SAMPLES]


def test_sample_ids_are_unique() -> None:
    ids = [s.id for s in SAMPLES]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.id)
def test_sample_reads_as_expected(sample: Sample) -> None:
    result = read_email(sample.raw, internal_domains=INTERNAL, received_at=NOW)
    if sample.not_a_lead is not None:
        assert isinstance(result, NotALead), result
        assert result.kind == sample.not_a_lead
        return
    assert isinstance(result, Inquiry), result
    for name, value in sample.expect.items():
        assert getattr(result, name) == value, (name, result)
    for fragment in sample.text_has:
        assert fragment in result.text
    for fragment in sample.text_lacks:
        assert fragment not in result.text, (fragment, result.text)
