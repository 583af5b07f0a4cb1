"""`leadbot stats` (the funnel: text, --json or --csv) and `leadbot leads export --csv`."""

from __future__ import annotations

import argparse
import json
import sys

from bot.cli_handler import EX_OK
from bot.funnel import (
    STATS_COLUMNS,
    parse_since,
    report_text,
    stats_rows,
    write_csv,
)
from bot.runtime import Runtime
from storage.errors import InputRejected
from storage.models import utcnow
from storage.stats import EXPORT_COLUMNS, export_rows, report


def cmd_stats(args: argparse.Namespace, rt: Runtime) -> int:
    now = utcnow()
    try:
        period = parse_since(args.since, now)
    except ValueError as e:
        raise InputRejected(str(e)) from None
    with rt.store.reading() as session:
        got = report(session, now=now, since=period.since, by=args.by, limit=args.limit)
    if args.json:
        json.dump({**got, "period": period.label}, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    elif args.csv:
        write_csv(stats_rows(got), STATS_COLUMNS, sys.stdout)
    else:
        print(report_text(got, period=period))
    return EX_OK


def cmd_leads_export(args: argparse.Namespace, rt: Runtime) -> int:
    now = utcnow()
    try:
        period = parse_since(args.since, now)
    except ValueError as e:
        raise InputRejected(str(e)) from None
    with rt.store.reading() as session:
        rows = (
            {**row, "product_scores": _scores(row["product_scores"])}
            for row in export_rows(session, now=now, since=period.since)
        )
        n = write_csv(rows, EXPORT_COLUMNS, sys.stdout)
    print(f"leadbot leads export: {n} lead(s), {period.label}", file=sys.stderr)
    return EX_OK


def _scores(scores: dict[str, float]) -> str:
    """`analytics:71.2;integrations:48`: the best first."""
    ordered = sorted(scores.items(), key=lambda kv: -kv[1])
    return ";".join(f"{name}:{round(value, 2):g}" for name, value in ordered)
