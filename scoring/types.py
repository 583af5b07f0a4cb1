"""The seam between storage and scoring: plain facts in, a score with its reasons out.

Scoring never touches the database: the caller builds these facts from stored rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

Temperature = Literal["cold", "warm", "hot"]


@dataclass(frozen=True)
class ActivityFacts:
    kind: str  # "email_inquiry", "email_reply", "form_submission", "page_visit", "download", …
    occurred_at: datetime  # aware, UTC
    text: str = ""  # subject + inquiry text, when the activity carried words
    source: str = ""
    fields: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class LeadFacts:
    email: str
    domain: str
    name: str | None = None
    company: str | None = None
    title: str | None = None
    phone: str | None = None
    country: str | None = None
    fields: dict[str, str] = field(default_factory=dict)  # company_size, industry, … when known


@dataclass(frozen=True)
class Reason:
    """One line of an explanation: the points of one rule and why."""

    rule: str
    points: float  # after decay; the reasons of a result sum exactly to its score
    reason: str
    evidence: str = ""  # the words or activity that matched
    group: str = ""  # "fit", "engagement", "negative"
    base_points: float = 0.0  # before decay
    decay: float = 1.0  # factor applied (1.0 = none)
    product: str | None = None


@dataclass(frozen=True)
class ScoreResult:
    score: float
    fit: float
    engagement: float
    temperature: Temperature
    reasons: tuple[Reason, ...] = ()
    product: str | None = None  # the product line whose score made the lead hot, if any
    grade: str | None = None  # fit grade (A-D) where the engine gives one
    # (product, score) of every product in play, in the rules file's order: each is what the
    # lead would score for that product alone (the rules without `product` plus its own); the
    # best one is `score` and `product`. Empty when no product is in play.
    product_scores: tuple[tuple[str, float], ...] = ()


class Scorer(Protocol):
    hot_threshold: float

    def score(
        self, lead: LeadFacts, activities: list[ActivityFacts], *, now: datetime
    ) -> ScoreResult: ...
