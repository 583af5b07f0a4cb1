"""The parts every entry point needs, built once from Settings: store, scorer, pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.config import Settings
from ingest.forms.config import load_forms
from ingest.pipeline import Pipeline, ReadContext
from scoring import load_rules
from scoring.types import Scorer
from storage.db import Store


@dataclass
class Runtime:
    settings: Settings
    store: Store
    scorer: Scorer
    pipeline: Pipeline
    extras: dict[str, Any] = field(
        default_factory=dict
    )  # per-feature state (Slack app, rate limits…)


def build_runtime(settings: Settings, *, store: Store | None = None) -> Runtime:
    """Load the rules (a broken file is refused here, at start-up) and wire the pipeline."""
    scorer = load_rules(settings.scoring_rules, hot_threshold=settings.hot_threshold)
    store = store or Store(settings.database_url)
    context = ReadContext(
        internal_domains=settings.internal_domains,
        max_parts=settings.max_mime_parts,
        options={"forms": load_forms(settings.forms_file, strict=settings.forms_strict)},
    )
    pipeline = Pipeline(store, scorer=scorer, context=context)
    return Runtime(settings=settings, store=store, scorer=scorer, pipeline=pipeline)
