"""`.env.example` lists every setting, and what it says is a valid configuration."""

from __future__ import annotations

import re
from pathlib import Path

from bot.config import env_file, known_variables, load_settings

EXAMPLE = Path(__file__).parents[2] / ".env.example"


def test_every_setting_is_in_env_example() -> None:
    text = EXAMPLE.read_text()
    named = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", text, re.MULTILINE))
    # One name of each setting is enough (SLACK_BOT_TOKEN stands for LEADBOT_SLACK_BOT_TOKEN too).
    aliases = {
        "LEADBOT_SLACK_BOT_TOKEN",
        "LEADBOT_SLACK_SIGNING_SECRET",
        "LEADBOT_SLACK_APP_TOKEN",
        "LEADBOT_FORMS",
    }
    assert known_variables() - aliases - named == set()
    assert named - known_variables() == set()


def test_env_example_loads_and_relative_sqlite_paths_follow_the_file(tmp_path: Path) -> None:
    path = tmp_path / "leadbot.env"
    path.write_text(EXAMPLE.read_text() + "LEADBOT_DATABASE_URL=sqlite:///data/lb.db\n")
    settings = load_settings(env=env_file(path))
    assert settings.inbox_domains == frozenset({"leads.example.com"})
    assert settings.database_url == f"sqlite:///{tmp_path / 'data' / 'lb.db'}"
