"""The `leadbot` command line: its parsers, and the hand-over of a parsed command to bot.cli_run.

Each command's function is named here by module and name (bot.cli_handler) and imported only when
it runs (bot.commands and the bot.cli_* modules): `leadbot --help`, `--version`, a usage error and
the completion script load none of the libraries the commands use.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from bot.cli_handler import EX_DATAERR, EX_OK, EX_PIPE, EX_USAGE, Handler

__all__ = ["EX_DATAERR", "EX_OK", "EX_USAGE", "Handler", "build_parser", "main"]

JSON_HELP = "print JSON instead of lines"
INPUT_HELP = "the input's id (from `leadbot review list`)"
# Mirrors of the values the commands use, so that parsing imports none of them (a test compares).
BY = ("source", "campaign", "rep", "product")  # storage.stats.BY
CHUNK = 2_000  # storage.imports.CHUNK
GROUPS_MAX = 1000
STATUSES = ("nurturing", "announced", "claimed", "won", "lost", "disqualified")  # LeadStatus


def _run(name: str, module: str = "bot.commands") -> Handler:
    return Handler(module, name)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="leadbot", description="Inquiries in, scored leads out, hot ones in Slack."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    parser.add_argument(
        "--env-file",
        metavar="PATH",
        help="read settings from this file (default: $LEADBOT_ENV_FILE, else ./.env)",
    )
    parser.add_argument("--version", action=_Version, nargs=0, help="show the version and exit")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="run SMTP, HTTP, the outbox dispatcher and the scheduler")
    p.add_argument("--host", help="address to listen on (default: LEADBOT_HOST)")
    p.add_argument(
        "--smtp-port", type=int, help="SMTP port, 0 for any free one (LEADBOT_SMTP_PORT)"
    )
    p.add_argument(
        "--http-port", type=int, help="HTTP port, 0 for any free one (LEADBOT_HTTP_PORT)"
    )
    p.set_defaults(func=_run("cmd_serve"))

    p = sub.add_parser(
        "ingest", help="store and process raw RFC 5322 messages (files or - for stdin)"
    )
    p.add_argument(
        "files", nargs="*", metavar="FILE", help="message files; - or none: standard input"
    )
    p.set_defaults(func=_run("cmd_ingest"))

    p = sub.add_parser("reprocess", help="retry inputs that failed to parse or were left pending")
    p.set_defaults(func=_run("cmd_reprocess"))

    leads = sub.add_parser("leads", help="list, show and search leads").add_subparsers(
        dest="leads_command", required=True
    )
    p = leads.add_parser("list", help="leads by score, highest first")
    p.add_argument("--status", choices=STATUSES, help="only this status")
    p.add_argument("--temperature", choices=["cold", "warm", "hot"], help="only this temperature")
    p.add_argument("--limit", type=int, default=1000, help="at most this many (default 1000)")
    p.add_argument("--json", action="store_true", help=JSON_HELP)
    p.set_defaults(func=_run("cmd_leads_list"))
    p = leads.add_parser("show", help="one lead by address: profile, activities, notes")
    p.add_argument("email", help="the lead's email address")
    p.add_argument("--json", action="store_true", help=JSON_HELP)
    p.set_defaults(func=_run("cmd_leads_show"))
    p = leads.add_parser("search", help="find leads by name, company, address or domain")
    p.add_argument("query", help="words, an address or a domain")
    p.add_argument("--limit", type=int, default=20, help="at most this many (default 20)")
    p.add_argument("--json", action="store_true", help=JSON_HELP)
    p.set_defaults(func=_run("cmd_leads_search"))

    score = sub.add_parser("score", help="explain scores").add_subparsers(
        dest="score_command", required=True
    )
    p = score.add_parser("explain", help="why a lead has its score: each rule and its points")
    p.add_argument("email", help="the lead's email address")
    p.add_argument("--json", action="store_true", help=JSON_HELP)
    p.set_defaults(func=_run("cmd_score_explain"))
    _train_parser(score)
    _import_parser(sub)

    p = sub.add_parser("rescore", help="recompute every lead's score (decay, changed rules)")
    p.add_argument(
        "--batch", type=int, default=10_000, help="leads per transaction (default 10000)"
    )
    p.add_argument("--full", action="store_true", help="compare stored reasons of every lead too")
    p.set_defaults(func=_run("cmd_rescore"))

    review = sub.add_parser(
        "review", help="inputs that need a person: forwards without a sender, failed inputs"
    ).add_subparsers(dest="review_command", required=True)
    p = review.add_parser("list", help="kept for review or failed, oldest first")
    p.add_argument("--limit", type=int, default=1000, help="at most this many (default 1000)")
    p.add_argument("--json", action="store_true", help=JSON_HELP)
    p.set_defaults(func=_run("cmd_review_list"))
    p = review.add_parser("show", help="one input: its headers, the reason and its text")
    p.add_argument("id", type=int, help=INPUT_HELP)
    p.add_argument("--json", action="store_true", help=JSON_HELP)
    p.set_defaults(func=_run("cmd_review_show"))
    p = review.add_parser("resolve", help="name the sender: the input becomes their lead")
    p.add_argument("id", type=int, help=INPUT_HELP)
    p.add_argument("--email", required=True, help="the sender's address: the lead it becomes")
    p.add_argument("--name", help="the sender's name, when the input does not say it")
    p.set_defaults(func=_run("cmd_review_resolve"))
    p = review.add_parser("dismiss", help="not a lead: archive it with the reason")
    p.add_argument("id", type=int, help=INPUT_HELP)
    p.add_argument("--reason", required=True, help="why it is no lead (kept with the input)")
    p.set_defaults(func=_run("cmd_review_dismiss"))

    box = sub.add_parser("outbox", help="Slack messages not sent yet, dead letters").add_subparsers(
        dest="outbox_command", required=True
    )
    p = box.add_parser("list", help="pending messages and dead letters, oldest first")
    p.add_argument("--dead", action="store_true", help="dead letters only")
    p.add_argument("--limit", type=int, default=1000, help="at most this many (default 1000)")
    p.add_argument("--json", action="store_true", help=JSON_HELP)
    p.set_defaults(func=_run("cmd_outbox_list"))
    p = box.add_parser("retry", help="send messages again: these ids, or every dead letter")
    p.add_argument("ids", nargs="*", type=int, metavar="ID", help="outbox message ids")
    p.add_argument("--dead", action="store_true", help="every dead letter")
    p.set_defaults(func=_run("cmd_outbox_retry"))

    db = sub.add_parser("db", help="database schema").add_subparsers(
        dest="db_command", required=True
    )
    p = db.add_parser("upgrade", help="apply Alembic migrations")
    p.set_defaults(func=_run("cmd_db_upgrade"))
    p = db.add_parser("current", help="the revisions the database is at, and what is left")
    p.set_defaults(func=_run("cmd_db_current"))
    p = db.add_parser("history", help="every migration, newest first")
    p.set_defaults(func=_run("cmd_db_history"))
    _backup_parser(db)

    p = sub.add_parser(
        "forget", help="erase a person everywhere (Slack too); an anonymous tombstone stays"
    )
    p.add_argument("email", help="the person's email address")
    p.add_argument("--reason", default="", help="why (kept in the tombstone's activity)")
    p.set_defaults(func=_run("cmd_forget"))
    p = sub.add_parser("export", help="everything held about a person, as JSON")
    p.add_argument("email", help="the person's email address")
    p.set_defaults(func=_run("cmd_export"))
    p = sub.add_parser("prune", help="apply the raw-input retention now (serve does it too)")
    p.add_argument("--days", type=float, help="default: LEADBOT_RAW_RETENTION_DAYS")
    p.set_defaults(func=_run("cmd_prune"))

    _tracking_parsers(sub)
    _funnel_parsers(sub, leads)

    p = sub.add_parser(
        "doctor",
        help="check the configuration, database, Slack, files and ports; exit 78 on a problem",
    )
    p.add_argument(
        "--no-ports", action="store_true", help="skip the port checks (serve is running)"
    )
    p.set_defaults(func=_run("cmd_doctor", "bot.cli_run"))

    p = sub.add_parser(
        "completion",
        help='print the shell completion script: eval "$(leadbot completion bash)"',
    )
    p.add_argument("shell", choices=["bash", "zsh"], help="the shell to complete in")
    p.set_defaults(func=_run("cmd_completion", "bot.cli_run"))
    return parser


def _limit(text: str) -> int:
    n = int(text)
    if not 0 < n <= GROUPS_MAX:
        raise argparse.ArgumentTypeError(f"between 1 and {GROUPS_MAX}")
    return n


def _funnel_parsers(sub: argparse._SubParsersAction, leads: argparse._SubParsersAction) -> None:
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
    p.set_defaults(func=_run("cmd_stats", "bot.cli_funnel"))

    p = leads.add_parser(
        "export",
        help="every lead with its stage, scores and milestones, as CSV (docs/funnel.md)",
    )
    p.add_argument("--csv", action="store_true", default=True, help="CSV (the only format)")
    p.add_argument("--since", metavar="WHEN", help="only leads created since (as for stats)")
    p.set_defaults(func=_run("cmd_leads_export", "bot.cli_funnel"))


def _backup_parser(db: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = db.add_parser(
        "backup",
        help="copy the database while serve runs: SQLite online backup, PostgreSQL pg_dump",
    )
    p.add_argument("file", metavar="FILE", help="the backup to write (replaced if it exists)")
    p.set_defaults(func=_run("cmd_db_backup", "bot.cli_ops"))


def _train_parser(score: argparse._SubParsersAction) -> None:
    p = score.add_parser(
        "train", help="learn point rules from won/lost leads (needs leadbot[learn])"
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--from-store", action="store_true", help="won and lost leads in the database")
    src.add_argument("--csv", metavar="FILE", help="a CSV of historical leads with an outcome")
    _csv_options(p)
    p.add_argument(
        "--min-count",
        type=int,
        default=20,
        help="leads a value needs to get a rule of its own (default 20)",
    )
    p.add_argument(
        "--interactions",
        type=int,
        default=10,
        metavar="N",
        help="pairs of fields to learn together, found in the data (default 10; 0: none)",
    )
    p.add_argument("--output", "-o", metavar="FILE", help="rules file to write (default: stdout)")
    p.set_defaults(func=_run("cmd_score_train", "bot.cli_scoring"))


def _import_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("import", help="import historical leads from a CSV (idempotent on email)")
    p.add_argument("csv", metavar="CSV", help="the file: a header row, then one lead per row")
    _csv_options(p)
    p.add_argument(
        "--chunk",
        type=_positive,
        default=CHUNK,
        metavar="N",
        help=f"rows per transaction, scored once committed (default {CHUNK})",
    )
    p.set_defaults(func=_run("cmd_import", "bot.cli_scoring"))


def _csv_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--map",
        action="append",
        metavar="COL=field",
        help="column to lead attribute (email, name, company, title, phone, country, "
        "domain), to a field name, or to - (ignore); other columns become fields",
    )
    p.add_argument("--outcome", metavar="COL", help="column saying won (yes/1/won) or lost")
    p.add_argument("--drop", action="append", metavar="COL", help="column to ignore")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _tracking_parsers(sub: argparse._SubParsersAction) -> None:
    group = sub.add_parser("links", help="tracked links for nurturing emails").add_subparsers(
        dest="links_command", required=True
    )
    p = group.add_parser("make", help="a signed tracked link to URL for one lead: prints it")
    p.add_argument("--email", required=True, help="the lead who gets the link")
    p.add_argument("--url", required=True, help="where the link goes (http or https)")
    p.add_argument("--campaign", help="the campaign clicks are counted for")
    p.add_argument(
        "--expires-days",
        type=float,
        metavar="DAYS",
        help="how long the link works (default: LEADBOT_LINKS_EXPIRE_DAYS, 365)",
    )
    p.set_defaults(func=_run("cmd_links_make", "bot.cli_tracking"))
    p = group.add_parser(
        "admin", help="a signed, expiring link to the dashboard (or one lead's page): prints it"
    )
    p.add_argument("--lead", metavar="ID|EMAIL", help="only this lead's page (default: dashboard)")
    p.add_argument(
        "--hours",
        type=float,
        help="how long the link works (default: LEADBOT_PAGES_LINK_HOURS, 12)",
    )
    p.add_argument(
        "--for",
        dest="person",
        default="cli",
        help="who the link is issued to, shown on the page (default: cli)",
    )
    p.set_defaults(func=_run("cmd_links_admin", "bot.cli_tracking"))

    group = sub.add_parser("events", help="tracking events").add_subparsers(
        dest="events_command", required=True
    )
    p = group.add_parser(
        "import", help="load events exported from other tools (CSV: docs/tracking.md)"
    )
    p.add_argument("file", metavar="FILE.csv", help="the events, one a row, with a header row")
    p.add_argument(
        "--source",
        default="csv",
        help="names the tool: the activities' source is import:NAME (default csv)",
    )
    p.set_defaults(func=_run("cmd_events_import", "bot.cli_tracking"))


class _Version(argparse.Action):
    """`--version`, read from the installed metadata only when asked (importlib.metadata and the
    search through site-packages cost every other command 20 ms)."""

    def __call__(self, parser: argparse.ArgumentParser, *args: object, **kwargs: object) -> None:
        from importlib import metadata

        try:
            version = metadata.version("leadbot")
        except metadata.PackageNotFoundError:
            version = "unknown"
        sys.stdout.write(f"leadbot {version}\n")
        parser.exit()


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; `| head` closing the pipe early is not an error worth a traceback."""
    try:
        code = _main(argv)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
        return code
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # Python flushes stdout again at exit
        return EX_PIPE


def _main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # Parsed: a command runs, and only now is what commands need loaded.
    from bot.cli_run import run

    return run(args, parser)


if __name__ == "__main__":
    raise SystemExit(main())
