"""`leadbot score train` and `leadbot import`: learned point rules and historical leads."""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from sqlalchemy import select

from bot.cli_handler import EX_OK, EX_UNAVAILABLE
from bot.jobs.full_path import FullPath, RescoreStats, rules_fingerprint
from bot.jobs.gc import collector_paused
from bot.progress import progress
from bot.runtime import Runtime
from bot.terminal import say
from ingest.facts import activity_facts, lead_facts, stored_score
from scoring import loads_rules
from scoring.learn import LEAD_ATTRIBUTES, POSITIVE, read_csv_rows, train_point_rules
from storage.errors import ConfigError, InputRejected
from storage.imports import ImportReport, import_chunks, score_columns
from storage.models import Lead, LeadStatus, utcnow

LEARN_HINT = "scikit-learn is not installed: pip install 'leadbot[learn]'"


def parse_map(pairs: list[str] | None, *, outcome: str | None) -> dict[str, str]:
    """`COL=field` pairs → read_csv_rows mapping: a lead attribute, `-` (drop) or a field name."""
    mapping: dict[str, str] = {}
    for pair in pairs or []:
        column, sep, target = pair.rpartition("=")
        target = target.strip()
        if not sep or not column or not target:
            raise InputRejected(f"--map {pair!r}: expected COLUMN=field")
        if target in LEAD_ATTRIBUTES or target == "-" or target.startswith("fields."):
            mapping[column] = target
        else:
            mapping[column] = f"fields.{target}"
    if outcome:
        mapping[outcome] = "outcome"
    return mapping


def read_rows(path: str, mapping: dict[str, str], drop: list[str]) -> list[dict[str, str]]:
    """The CSV's rows; a mapped column the file does not have is an error, not a silent no-op."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            header = next(csv.reader(fh), [])
        missing = [c for c in [*mapping, *drop] if c not in header]
        if missing:
            raise InputRejected(
                f"{path}: no column {', '.join(map(repr, missing))} "
                f"(columns: {', '.join(header)[:500]})"
            )
        # A column named like a lead attribute ("Email", "title") needs no --map.
        taken = set(mapping.values())
        for column in header:
            name = column.strip().casefold()
            if column not in mapping and name in LEAD_ATTRIBUTES and name not in taken:
                mapping = {**mapping, column: name}
                taken.add(name)
        return read_csv_rows(path, mapping, drop=drop)
    except OSError as e:
        raise InputRejected(f"{path}: {e.strerror}") from None
    except (UnicodeDecodeError, csv.Error) as e:
        raise InputRejected(f"{path}: not a UTF-8 CSV file: {e}") from None


def store_rows(rt: Runtime) -> list[dict[str, str]]:
    """Won and lost leads as training rows: their fields (and source touch) with the outcome."""
    rows: list[dict[str, str]] = []
    with rt.store.session() as session:
        closed_statuses = [LeadStatus.WON.value, LeadStatus.LOST.value]
        closed = session.scalars(
            select(Lead).where(Lead.status.in_(closed_statuses))  # type: ignore[attr-defined]
        )
        for lead in closed:
            facts = lead_facts(lead)
            row = {f"fields.{k}": v for k, v in facts.fields.items() if v.strip()}
            row.update({k: v for k in LEAD_ATTRIBUTES if (v := getattr(facts, k))})
            row["outcome"] = lead.status
            rows.append(row)
    return rows


def cmd_score_train(args: argparse.Namespace, rt: Runtime) -> int:
    try:
        import sklearn  # noqa: F401
    except ImportError:
        say(f"leadbot score train: {LEARN_HINT}", file=sys.stderr)
        return EX_UNAVAILABLE
    if args.from_store:
        rows, positive = store_rows(rt), {"won"}
    else:
        mapping = parse_map(args.map, outcome=args.outcome)
        if "outcome" not in mapping.values():
            raise InputRejected("--csv needs --outcome COLUMN (or --map COLUMN=outcome)")
        rows, positive = read_rows(args.csv, mapping, args.drop or []), set(POSITIVE)
    try:
        text = train_point_rules(
            rows,
            "outcome",
            positive=positive,
            min_count=args.min_count,
            auto_interactions=args.interactions,
        )
    except ValueError as e:
        raise InputRejected(f"cannot learn from {len(rows)} row(s): {e}") from None
    try:
        loads_rules(text, path=args.output or "<learned rules>")  # refuse to write a broken file
    except ConfigError as e:
        raise InputRejected(f"learned rules did not validate: {e}") from None
    if args.output:
        Path(args.output).write_text(text + "\n", encoding="utf-8")
        rules = text.count("[[rule]]")
        say(
            f"learned {rules} rule(s) from {len(rows)} lead(s); wrote {args.output}",
            file=sys.stderr,
        )
    else:
        sys.stdout.write(text + "\n")
    return EX_OK


def cmd_import(args: argparse.Namespace, rt: Runtime) -> int:
    rows = read_rows(args.csv, parse_map(args.map, outcome=args.outcome), args.drop or [])
    now = utcnow()
    scoring = FullPath(
        rt.store,
        rt.scorer,
        now=now,
        fingerprint=rules_fingerprint(rt.scorer),
        stats=RescoreStats(full=True),
    )

    def score(values: dict[str, Any], imported: dict[str, Any]) -> dict[str, Any]:
        """A new lead is scored before its INSERT, as the rescore would score it."""
        lead = SimpleNamespace(first_touch=None, latest_touch=None, **values)
        result = rt.scorer.score(
            lead_facts(lead), activity_facts([SimpleNamespace(**imported)]), now=now
        )
        return score_columns(stored_score(result))

    with progress(f"importing {Path(args.csv).name}", total=len(rows)) as advance:
        seen = 0

        def done(ids: list[int], report: ImportReport) -> None:
            nonlocal seen
            if ids:
                scoring.leads(ids)  # leads that existed, with values filled in: scored again
            advance(report.rows - seen)
            seen = report.rows

        # The CSV's rows stay in memory: with the collector on, every full collection walks them
        # all (the import's own objects make few reference cycles, and are freed per chunk).
        with collector_paused():
            report = import_chunks(
                rt.store,
                rows,
                source=f"import:{Path(args.csv).name}",
                now=now,
                chunk=args.chunk,
                score=score,
                done=done,
            )
    for line in report.skipped[:20]:
        say(f"leadbot import: {args.csv}: {line}", file=sys.stderr)
    if len(report.skipped) > 20:
        say(f"leadbot import: … and {len(report.skipped) - 20} more", file=sys.stderr)
    say(
        f"{report.rows} row(s): {report.created} lead(s) created, {report.updated} updated, "
        f"{report.won} won, {report.lost} lost, {len(report.skipped)} skipped"
    )
    return EX_OK
