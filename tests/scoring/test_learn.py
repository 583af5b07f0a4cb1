"""Learned point rules: a small synthetic CSV becomes rules TOML that loads and ranks well."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

pytest.importorskip("sklearn")

from scoring import RuleSet, loads_rules
from scoring.learn import find_interactions, read_csv_rows, row_to_lead, train_point_rules
from tests.scoring.conftest import NOW


def synthetic_csv(path: Path, n: int = 600) -> None:
    rnd = random.Random(3)
    lines = ["Id,Source,Minutes,Job,Won,"]  # trailing comma: an empty last column, as in exports
    for i in range(n):
        source = rnd.choice(["Reference", "Ads", "Select", ""])
        minutes = rnd.randint(0, 60)
        job = rnd.choice(["Student", "Manager", "Select"])
        logit = (
            -1.0
            + (2.0 if source == "Reference" else 0)
            + minutes / 15
            - (2.0 if job == "Student" else 0)
        )
        won = int(rnd.random() < 1 / (1 + 2.718**-logit))
        lines.append(f"{i},{source},{minutes},{job},{won},")
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")


def test_read_csv_rows_maps_and_nulls(tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    path.write_text("Id,Job Title,Source,Won,\r\n1,CEO,Select,1,\r\n2,,Ads,0,\r\n")
    rows = read_csv_rows(path, {"Job Title": "title", "Won": "outcome", "Id": "-"})
    assert rows == [{"title": "CEO", "outcome": "1"}, {"fields.Source": "Ads", "outcome": "0"}]
    lead = row_to_lead(rows[1], index=7)
    assert lead.email == "row7@example.invalid" and lead.fields == {"Source": "Ads"}


def test_trained_rules_load_and_rank_positives_first(tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    synthetic_csv(path)
    rows = read_csv_rows(path, {"Won": "outcome"}, drop=["Id"])
    toml = train_point_rules(rows, "outcome", interactions=[("Source", "Job")], min_count=10)
    rules = loads_rules(toml, path="learned.toml")
    assert all(float(r.points).is_integer() for r in rules.rules)
    names = {r.name for r in rules.rules}
    assert "base" in names and any(n.startswith("source-reference") for n in names)
    assert any("learned:" in r.reason and "odds" in r.reason for r in rules.rules)
    scores = [
        (rules.score(row_to_lead(r, index=i), [], now=NOW).score, r["outcome"])
        for i, r in enumerate(rows)
    ]
    pos = [s for s, y in scores if y == "1"]
    neg = [s for s, y in scores if y == "0"]
    # A rank statistic (AUC) straight from the pairs: positives should usually outrank.
    wins = sum((p > q) + 0.5 * (p == q) for p in pos for q in neg)
    assert wins / (len(pos) * len(neg)) > 0.75


def test_training_needs_both_outcomes() -> None:
    with pytest.raises(ValueError, match="both outcomes"):
        train_point_rules([{"fields.a": "x", "outcome": "1"}], "outcome")


def test_interactions_are_found_in_the_data_and_learned_as_rules() -> None:
    # Won only when the plan and the region go together: neither field alone says much.
    rnd = random.Random(5)
    rows = []
    for _ in range(1500):
        plan, region, noise = rnd.choice("AB"), rnd.choice("NS"), rnd.choice("XYZ")
        won = rnd.random() < (0.8 if (plan, region) in {("A", "N"), ("B", "S")} else 0.1)
        rows.append(
            {
                "fields.Plan": plan,
                "fields.Region": region,
                "fields.Colour": noise,
                "outcome": str(int(won)),
            }
        )
    ys = [int(r["outcome"]) for r in rows]
    found = find_interactions(rows, ys, ["Colour", "Plan", "Region"], top=3)
    assert found[0] == ("Plan", "Region")
    plain = loads_rules(train_point_rules(rows, "outcome"), path="plain.toml")
    paired = loads_rules(
        train_point_rules(rows, "outcome", auto_interactions=1), path="paired.toml"
    )
    assert any(r.name.startswith("plan-a-region-n") for r in paired.rules)

    def auc(rules: RuleSet) -> float:
        scores = [
            (rules.score(row_to_lead(r, index=i), [], now=NOW).score, r["outcome"])
            for i, r in enumerate(rows)
        ]
        pos = [s for s, y in scores if y == "1"]
        neg = [s for s, y in scores if y == "0"]
        return sum((p > q) + 0.5 * (p == q) for p in pos for q in neg) / (len(pos) * len(neg))

    assert auc(plain) < 0.6 < 0.8 < auc(paired)
