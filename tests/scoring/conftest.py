"""Shared helpers for the scoring tests: a fixed clock and a rules-file writer."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)

HEADER = """
[settings]
half_life_days = 10

[thresholds]
warm = 10
hot = 20
"""


@pytest.fixture
def write_rules(tmp_path: Path) -> Callable[[str], Path]:
    def write(body: str, *, header: str = HEADER) -> Path:
        path = tmp_path / "rules.toml"
        path.write_text(header + body, encoding="utf-8")
        return path

    return write
