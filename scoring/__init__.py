"""Scoring: rules as data (TOML), one small engine that records why each point was given."""

from scoring.engine import RuleSet
from scoring.explain import explain_json, explain_text, temperature_for
from scoring.rules import DEFAULT_RULES, load_rules, loads_rules
from scoring.types import ActivityFacts, LeadFacts, Reason, Scorer, ScoreResult, Temperature

__all__ = [
    "DEFAULT_RULES",
    "ActivityFacts",
    "LeadFacts",
    "Reason",
    "RuleSet",
    "ScoreResult",
    "Scorer",
    "Temperature",
    "explain_json",
    "explain_text",
    "load_rules",
    "loads_rules",
    "temperature_for",
]
