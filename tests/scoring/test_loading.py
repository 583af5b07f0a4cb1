"""Rules files: the default loads, and every kind of breakage names the file and the line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from scoring import DEFAULT_RULES, load_rules
from storage.errors import ConfigError

GOOD = """
[[rule]]
name = "ok"
points = 5
reason = "fine"
when.title_any = ["CEO"]
"""


def test_default_file_loads() -> None:
    rules = load_rules()
    assert rules.path == DEFAULT_RULES
    assert rules.hot_threshold > rules.warm_threshold
    assert len(rules.rules) >= 20 and {p.name for p in rules.products}
    assert all(-100 <= r.points <= 100 for r in rules.rules)


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read rules file"):
        load_rules(tmp_path / "missing.toml")


@pytest.mark.parametrize(
    ("body", "line", "message"),
    [
        # line numbers count from the file start; HEADER (conftest) is 7 lines, GOOD 7 more
        (
            GOOD + '\n[[rule]]\nname = "x"\npoints = 3\nreason = "r"\nwhen.titel_any = ["VP"]\n',
            19,
            "rule 'x': unknown condition 'titel_any'",
        ),
        (
            GOOD + '\n[[rule]]\nname = "y"\npoints = 300\nreason = "r"\n',
            17,
            "rule 'y': points 300.0 out of range",
        ),
        (
            GOOD + '\n[[rule]]\nname = "ok"\npoints = 3\nreason = "r"\n',
            15,
            "rule 'ok': duplicate name",
        ),
        (
            GOOD + '\n[[rule]]\nname = "z"\npoints = "five"\nreason = "r"\n',
            17,
            "rule 'z': points must be a number",
        ),
        (
            GOOD + '\n[[rule]]\nname = "rx"\npoints = 1\nreason = "r"\nwhen.text_regex = "(oops"\n',
            19,
            "rule 'rx': 'text_regex': bad regular expression",
        ),
        (
            GOOD + '\n[[rule]]\nname = "f"\npoints = 1\nreason = "r"\n'
            'when.field = {name = "size", gte = "10"}\n',
            19,
            "'gte' must be a number",
        ),
        (
            GOOD + '\n[[rule]]\nname = "k"\npoints = 1\nreason = "r"\nwhen.domain_is = "free"\n',
            19,
            "'free' is not one of business, webmail",
        ),
        (
            GOOD
            + '\n[[rule]]\nname = "c"\npoints = 1\nreason = "r"\nwhen.country_in = ["Europe"]\n',
            19,
            "'Europe' is neither an ISO country code nor a region",
        ),
        (
            GOOD + '\n[[rule]]\nname = "p"\npoints = 1\nreason = "r"\nproduct = "nope"\n',
            19,
            "product 'nope' is not defined",
        ),
        (
            GOOD + '\n[[rule]]\nname = "a"\npoints = 1\nreason = "r"\n'
            'when.activity = {kind = "x", min_count = 0}\n',
            19,
            "'min_count' must be",
        ),
        (
            GOOD + '\n[[rule]]\nname = "s"\npoints = 1\nreason = "r"\nsurprise = true\n',
            19,
            "rule 's': unknown key 'surprise'",
        ),
        (GOOD + '\n[[rule]]\nname = "n"\npoints = 1\n', 15, "rule 'n': needs a reason"),
        (
            GOOD + '\n[[rule]]\nname = "t"\npoints = 1\nreason = "r"\nwhen.title_any = "CEO"\n',
            19,
            "'title_any' must be a non-empty list of strings",
        ),
        (GOOD + '\n[[rule]]\nname = "broken\npoints = 1\n', 16, "Illegal character"),
        (GOOD + "\n[[rule]]\npoints = 1 2\n", 16, "Expected newline or end of document"),
        (GOOD + "\n[tresholds]\nhot = 3\n", 15, "unknown section 'tresholds'"),
    ],
)
def test_broken_files_name_file_and_line(
    write_rules: Callable[[str], Path], body: str, line: int, message: str
) -> None:
    path = write_rules(body)
    with pytest.raises(ConfigError) as info:
        load_rules(path)
    text = str(info.value)
    assert text.startswith(f"{path} line {line}: "), text
    assert message in text, text


@pytest.mark.parametrize(
    ("header", "line", "message"),
    [
        ("[thresholds]\nwarm = 30\nhot = 20\n", 3, "hot threshold 20 must be above"),
        ("[settings]\nhalf_life_days = 0\n", 2, "half_life_days must be > 0"),
        ("[settings]\nhalf_lives = 3\n", 2, "[settings]: unknown key 'half_lives'"),
        ('[regions]\nX = ["DEU"]\n', 2, "two-letter ISO country codes"),
        ('\n[products.a]\nlabel = "A"\n', 2, "product 'a' needs keywords"),
        ("[grades]\nA = 1\nB = 5\n", 2, "grades must satisfy"),
    ],
)
def test_broken_sections(
    write_rules: Callable[[str], Path], header: str, line: int, message: str
) -> None:
    path = write_rules(GOOD, header=header)
    with pytest.raises(ConfigError) as info:
        load_rules(path)
    assert str(info.value).startswith(f"{path} line {line}: "), str(info.value)
    assert message in str(info.value)


def test_inline_table_rule_error_points_at_the_key(write_rules: Callable[[str], Path]) -> None:
    body = (
        GOOD + '\n[[rule]]\nname = "w"\npoints = 1\nreason = "r"\nwhen = {title_any = ["a"],\n'
        '  colour = "red"}\n'
    )
    path = write_rules(body.replace(",\n  colour", ", colour"))
    with pytest.raises(ConfigError, match=r"line 19: rule 'w': unknown condition 'colour'"):
        load_rules(path)
