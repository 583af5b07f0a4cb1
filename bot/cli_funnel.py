"""`leadbot stats` (the funnel: text, --json or --csv) and `leadbot leads export --csv`."""

from __future__ import annotations

import argparse
import json
import sys

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
from storage.stats import BY, EXPORT_COLUMNS, export_rows, report

EX_OK = 0
GROUPS_MAX = 1000


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


def _limit(text: str) -> int:
    n = int(text)
    if not 0 < n <= GROUPS_MAX:
        raise argparse.ArgumentTypeError(f"between 1 and {GROUPS_MAX}")
    return n


def add_funnel_parsers(sub: argparse._SubParsersAction, leads: argparse._SubParsersAction) -> None:
    """`stats` under the top level, `export` under `leads`."""
    p = sub.add_parser(
        "stats",
        help="the funnel: stages, conversions, time to first touch, wins and losses",
        description="The funnel of the leads created in the period (docs/funnel.md).",
    )
    p.add_argument(
        "--since",
        metavar="WHEN",
        help="30d, 12w, 48h, week, month, quarter, a date (2026-10-01) or all (default)",
    )
    p.add_argument("--by", choices=BY, help="one line per source, campaign, rep or product")
    p.add_argument("--limit", type=_limit, default=50, help="at most this many groups (default 50)")
    form = p.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true", help="everything, as JSON")
    form.add_argument("--csv", action="store_true", help="one row for all, then one per group")
    p.set_defaults(func=cmd_stats)

    p = leads.add_parser(
        "export",
        help="every lead with its stage, scores and milestones, as CSV (docs/funnel.md)",
    )
    p.add_argument("--csv", action="store_true", default=True, help="CSV (the only format)")
    p.add_argument("--since", metavar="WHEN", help="only leads created since (as for stats)")
    p.set_defaults(func=cmd_leads_export)
