"""Tables of rescoring: which rules the stored scores and reasons were last computed with."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from storage.models import UTCDateTime, utcnow


class ScoringState(SQLModel, table=True):
    """A named value kept between rescoring runs (the fingerprint of the rules last applied)."""

    __tablename__ = "scoring_state"

    name: str = Field(primary_key=True, max_length=40)
    value: str = Field(default="", max_length=200)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
