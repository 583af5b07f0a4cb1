"""`leadbot import`, `leadbot score train`, `leadbot rescore` and broken rules at start-up,
run in-process through `main(argv)`."""

from __future__ import annotations

import csv
import io
import os
import random
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.cli import main
from scoring import load_rules
from storage.db import Store
from storage.leads import activities_of, get_lead
from storage.models import Lead, OutboxMessage, utcnow
from tests.reference import record_inquiry

INDUSTRIES = ["Software", "Retail", "Education", "Logistics"]
MAP = [
    "--map",
    "E-mail=email",
    "--map",
    "Full Name=name",
    "--map",
    "Job=title",
    "--map",
    "Employees=company_size",
    "--outcome",
    "Converted",
]


def have_sklearn() -> bool:
    try:
        import sklearn  # noqa: F401
    except ImportError:
        return False
    return True


needs_sklearn = pytest.mark.skipif(
    not have_sklearn() and not os.environ.get("LEADBOT_TEST_REQUIRE_POSTGRES"),
    reason="scikit-learn is not installed (pip install 'leadbot[learn]')",
)


def history_csv(path: Path, rows: int = 120) -> Path:
    """Historical leads where Software buyers mostly convert and Education ones rarely do."""
    rng = random.Random(7)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["E-mail", "Full Name", "Job", "Industry", "Employees", "Converted", "Notes"])
        for i in range(rows):
            industry = INDUSTRIES[i % 4]
            p = {"Software": 0.8, "Retail": 0.4, "Education": 0.1, "Logistics": 0.4}[industry]
            won = "Yes" if rng.random() < p else "No"
            w.writerow(
                [
                    f"Person{i}@Firm{i % 50}.example",
                    f"Person {i}",
                    "Manager",
                    industry,
                    rng.choice(["10", "80", "500", "Select"]),
                    won,
                    "x",
                ]
            )
        w.writerow(["not-an-address", "Nobody", "", "Software", "", "Yes", ""])
    return path


@pytest.fixture
def env(db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)
    values = {"LEADBOT_DATABASE_URL": db_url, "LEADBOT_RESCORE_INTERVAL_MINUTES": "0"}
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


def test_import_is_idempotent_and_records_outcomes(
    env: dict[str, str], db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = history_csv(tmp_path / "history.csv")
    assert main(["import", str(data), *MAP, "--drop", "Notes"]) == 0
    out, err = capsys.readouterr()
    assert "121 row(s): 120 lead(s) created, 0 updated" in out and "1 skipped" in out
    assert "row 121" in err and "not-an-address" in err
    assert main(["import", str(data), *MAP, "--drop", "Notes"]) == 0
    assert "0 lead(s) created, 0 updated, 0 won, 0 lost" in capsys.readouterr().out

    store = Store(db_url)
    with store.session() as s:
        statuses = [lead.status for lead in s.scalars(select(Lead))]
        assert len(statuses) == 120 and set(statuses) == {"won", "lost"}
        lead = get_lead(s, email="person0@firm0.example")
        assert (lead.name, lead.title) == ("Person 0", "Manager")
        assert lead.fields["Industry"] == "Software" and "Notes" not in lead.fields
        assert [a.kind for a in activities_of(s, lead.id or 0)] == ["imported", lead.status]
    store.dispose()


def test_imported_leads_wait_for_new_activity_before_announcement(
    env: dict[str, str],
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(
        '[thresholds]\nwarm = 5\nhot = 10\n[[rule]]\nname = "exec"\npoints = 20\n'
        'when.title_any = ["CTO"]\nreason = "Executive"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("LEADBOT_SCORING_RULES", str(rules))
    data = tmp_path / "prospects.csv"
    data.write_text("email,title\nana@acme.example,CTO\n", encoding="utf-8")
    assert main(["import", str(data)]) == 0
    assert main(["rescore"]) == 0
    assert "1 changed, 1 score change(s) recorded; 0 announced" in capsys.readouterr().out
    store = Store(db_url)
    with store.session() as s:
        lead = get_lead(s, email="ana@acme.example")
        assert (lead.status, lead.temperature, lead.score) == ("nurturing", "hot", 20)
        assert s.scalars(select(OutboxMessage)).first() is None
        record_inquiry(
            s,
            email="ana@acme.example",
            kind="email_inquiry",
            source="email",
            occurred_at=utcnow(),
            dedup_key="<new@acme.example>",
            profile={},
        )
    assert main(["rescore"]) == 0  # new activity after the import: now it is news
    assert "; 1 announced" in capsys.readouterr().out
    with store.session() as s:
        assert get_lead(s, email="ana@acme.example").status == "announced"
    store.dispose()


@needs_sklearn
def test_import_then_train_from_store_and_from_csv(
    env: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = history_csv(tmp_path / "history.csv")
    assert main(["import", str(data), *MAP]) == 0
    capsys.readouterr()
    learned = tmp_path / "learned.toml"
    assert main(["score", "train", "--from-store", "--min-count", "10", "-o", str(learned)]) == 0
    assert "from 120 lead(s)" in capsys.readouterr().err
    rules = load_rules(learned)
    points = {r.name: r.points for r in rules.rules}
    assert points["industry-software"] > 0 > points["industry-education"]

    assert (
        main(["score", "train", "--csv", str(data), *MAP, "--drop", "Notes", "--min-count", "10"])
        == 0
    )
    text = capsys.readouterr().out
    assert 'name = "industry-software"' in text and "Notes" not in text

    monkeypatch.setenv("LEADBOT_SCORING_RULES", str(learned))
    assert main(["rescore"]) == 0
    assert "rescored 120 lead(s)" in capsys.readouterr().out


def test_unknown_column_is_a_clear_error(
    env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = history_csv(tmp_path / "history.csv", rows=4)
    assert main(["import", str(data), "--map", "Nope=email"]) == 65
    assert "no column 'Nope'" in capsys.readouterr().err


def test_train_without_scikit_learn_names_the_extra(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # `import sklearn` fails, as on an install without the extra (None in sys.modules: ImportError).
    monkeypatch.setitem(sys.modules, "sklearn", None)
    assert main(["score", "train", "--from-store"]) == 69
    assert "pip install 'leadbot[learn]'" in capsys.readouterr().err


@pytest.mark.parametrize(
    "command", [["serve", "--smtp-port", "0", "--http-port", "0"], ["ingest", "-"]]
)
def test_broken_rules_file_is_refused_at_start_up(
    command: list[str],
    sqlite_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    rules = tmp_path / "broken.toml"
    rules.write_text(
        '[thresholds]\nhot = 45\n\n[[rule]]\nname = "exec"\npoints = "many"\nreason = "x"\n',
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LEADBOT_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("LEADBOT_SCORING_RULES", str(rules))
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"From: a@b.example\n\nhi\n")))
    started = time.monotonic()
    code = main(command)
    err = capsys.readouterr().err
    assert code == (75 if command[0] == "ingest" else 78), err  # an MTA keeps the mail on 75
    assert time.monotonic() - started < 30  # refused at once, not after serving
    assert f"{rules} line 6" in err, err
    assert "points" in err
