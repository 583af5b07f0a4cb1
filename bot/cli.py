"""The `leadbot` command: serve, ingest, leads, score, rescore, reprocess, review, outbox, db.

Errors of our hierarchy are caught here once and become a message and an exit status that a mail
server understands for `ingest` (sysexits.h: 65 EX_DATAERR, 75 EX_TEMPFAIL).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shlex
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot import logs
from bot.cli_funnel import add_funnel_parsers
from bot.cli_ops import add_db_ops_parsers, cmd_db_backup
from bot.cli_scoring import add_import_parser, add_train_parser
from bot.cli_tracking import add_tracking_parsers
from bot.config import env_file, explain, json_logs, load_settings, unknown_variables
from bot.progress import progress, shown
from bot.runtime import Runtime, build_runtime
from bot.terminal import json_text, say, terminal
from ingest.facts import activity_facts, lead_facts
from ingest.mail.text import clean_line
from scoring import explain_json, explain_text
from storage import outbox
from storage import raw as raw_store
from storage.db import Store
from storage.errors import (
    ConfigError,
    InputRejected,
    LeadBotError,
    LeadNotFound,
    ParseError,
    StoreUnavailable,
)
from storage.leads import activities_of, get_lead, list_leads, notes_of, search_leads
from storage.models import Lead, LeadStatus, OutboxMessage, RawStatus, utcnow
from storage.public import fits_text, lead_detail, lead_public
from storage.schema import at_heads
from storage.scores import engagement_activities

EX_OK = 0
EX_USAGE = 64
EX_DATAERR = 65
EX_SOFTWARE = 70
EX_CONFIG = 78
EX_TEMPFAIL = 75
EX_OSERR = 71
EX_NOTFOUND = 1
EX_PIPE = 141  # what a shell reports for a command ended by SIGPIPE

Command = Callable[[argparse.Namespace, Runtime], int]

JSON_HELP = "print JSON instead of lines"
INPUT_HELP = "the input's id (from `leadbot review list`)"


def _print_json(value: Any) -> None:
    sys.stdout.write(json_text(value) + "\n")


def _lead_line(lead: Lead) -> str:
    owner = f" owner={lead.owner}" if lead.owner else ""
    who = f"{lead.name} <{lead.email}>" if lead.name else lead.email
    company = f" · {lead.company}" if lead.company else ""
    return f"#{lead.id:<6} {lead.score:>6.1f} {lead.temperature:<4} {lead.status:<12} {who}{company}{owner}"


def cmd_serve(args: argparse.Namespace, rt: Runtime) -> int:
    # Late on purpose, the one project import in a function (tests/test_house.py): `leadbot
    # ingest` runs once per message from a mail server's pipe, and the HTTP and Slack stack
    # that serve needs (uvicorn, Starlette, Bolt) would cost every such run about 0.2 s.
    from bot.serve import serve

    s = rt.settings
    try:
        asyncio.run(
            serve(
                rt,
                host=args.host or s.host,
                smtp_port=s.smtp_port if args.smtp_port is None else args.smtp_port,
                http_port=s.http_port if args.http_port is None else args.http_port,
            )
        )
    except ConfigError as e:  # a TLS certificate or key that cannot be loaded
        say(f"leadbot: configuration error: {e}", file=sys.stderr)
        return EX_CONFIG
    except OSError as e:  # a port already taken, an address we cannot bind
        say(f"leadbot serve: cannot listen: {e.strerror or e}", file=sys.stderr)
        return EX_OSERR
    return EX_OK


def cmd_ingest(args: argparse.Namespace, rt: Runtime) -> int:
    sources = args.files or ["-"]
    status = EX_OK
    for name in sources:
        try:
            content = sys.stdin.buffer.read() if name == "-" else open(name, "rb").read()  # noqa: SIM115
        except OSError as e:
            say(f"leadbot ingest: {name}: {e.strerror}", file=sys.stderr)
            status = max(status, EX_DATAERR)
            continue
        if len(content) > rt.settings.max_message_bytes:
            say(
                f"leadbot ingest: {name}: message larger than {rt.settings.max_message_bytes} bytes",
                file=sys.stderr,
            )
            status = max(status, EX_DATAERR)
            continue
        channel = "pipe" if name == "-" else "file"
        try:
            raw_id, new = rt.pipeline.accept(content, kind="email", channel=channel)
        except InputRejected as e:
            say(f"leadbot ingest: {name}: refused: {e}", file=sys.stderr)
            status = max(status, EX_DATAERR)
            continue
        if not new:
            say(f"{name}: already stored as raw #{raw_id} (same bytes)")
            continue
        outcome = rt.pipeline.process(raw_id)
        where = f"lead #{outcome.lead_id}" if outcome.lead_id else f"raw #{raw_id}"
        line = f"{name}: {outcome.status.value} ({where})"
        if outcome.reason:
            line += f": {outcome.reason}"
        if outcome.announced:
            line += " — announced as a hot lead"
        say(line, file=sys.stderr if outcome.status is RawStatus.FAILED else sys.stdout)
    return status


def cmd_reprocess(args: argparse.Namespace, rt: Runtime) -> int:
    pending = rt.pipeline.process_pending()
    failed = rt.pipeline.reprocess_failed()
    say(f"processed {pending} pending and retried {failed} failed/review input(s)")
    return EX_OK


def cmd_leads_list(args: argparse.Namespace, rt: Runtime) -> int:
    with rt.store.session() as session:
        leads = list_leads(
            session, status=args.status, temperature=args.temperature, limit=args.limit
        )
        if args.json:
            _print_json([lead_public(lead) for lead in leads])
        else:
            for lead in leads:
                say(_lead_line(lead))
            if not leads:
                say("no leads")
    return EX_OK


def cmd_leads_show(args: argparse.Namespace, rt: Runtime) -> int:
    with rt.store.session() as session:
        try:
            lead = get_lead(session, email=args.email)
        except LeadNotFound:
            _not_found(session, args.email)
            return EX_NOTFOUND
        assert lead.id is not None
        detail = lead_detail(lead, activities_of(session, lead.id), notes_of(session, lead.id))
    if args.json:
        _print_json(detail)
        return EX_OK
    say(_lead_line(lead))
    for key in (
        "name",
        "title",
        "company",
        "phone",
        "country",
        "source",
        "latest_source",
        "forwarded_by",
        "owner",
        "product",
    ):
        if detail.get(key):
            say(f"  {key:<14} {detail[key]}")
    if detail.get("product_scores"):
        say(f"  {'fits':<14} {fits_text(detail['product_scores'])}")
    for key, value in (detail.get("fields") or {}).items():
        say(f"  {key:<14} {value}")
    for label in ("first_touch", "latest_touch"):
        touch = detail.get(label) or {}
        if touch:
            parts = [f"{k}={v}" for k, v in touch.items() if k not in ("source",) and v]
            say(f"  {label:<14} {' '.join(parts)}")
    say("activities:")
    for a in detail["activities"]:
        say(f"  {a['occurred_at']}  {a['kind']:<16} {a['actor']}  {a['detail'][:100]}")
    if detail["notes"]:
        say("notes:")
        for n in detail["notes"]:
            say(f"  {n['created_at']}  {n['author']}: {n['text']}")
    return EX_OK


def _not_found(session: Any, query: str) -> None:
    """No lead has this address: say how to search, and show the closest leads there are."""
    close = search_leads(session, query, limit=5)
    if not close and "@" in query:  # a typo in one half: the other half still finds them
        local, _, domain = query.rpartition("@")
        close = search_leads(session, local, limit=3) + search_leads(session, domain, limit=3)
    what = "the address" if "@" in query else "the address (show takes one)"
    say(f"leadbot: no lead with {what} {query!r}", file=sys.stderr)
    say(
        f"  search names, companies and domains: leadbot leads search {shlex.quote(query)}",
        file=sys.stderr,
    )
    seen: set[int | None] = set()
    for lead in close:
        if lead.id not in seen:
            seen.add(lead.id)
            say(f"  closest: {_lead_line(lead)}", file=sys.stderr)


def cmd_leads_search(args: argparse.Namespace, rt: Runtime) -> int:
    with rt.store.session() as session:
        leads = search_leads(session, args.query, limit=args.limit)
    if args.json:
        _print_json([lead_public(lead) for lead in leads])
    else:
        for lead in leads:
            say(_lead_line(lead))
        if not leads:
            say("no match")
    return EX_OK


def _outbox_row(m: OutboxMessage) -> dict[str, Any]:
    return {
        "id": m.id,
        "kind": m.kind,
        "lead_id": m.lead_id,
        "status": m.status,
        "attempts": m.attempts,
        "next_attempt_at": m.next_attempt_at,
        "created_at": m.created_at,
        "last_error": m.last_error,
    }


def cmd_outbox_list(args: argparse.Namespace, rt: Runtime) -> int:
    with rt.store.session() as session:
        messages = outbox.unsent(session, dead_only=args.dead, limit=args.limit)
        rows = [_outbox_row(m) for m in messages]
    if args.json:
        _print_json(rows)
        return EX_OK
    for r in rows:
        lead = f"lead #{r['lead_id']}" if r["lead_id"] is not None else "no lead"
        when = r["next_attempt_at"].isoformat(timespec="seconds") if r["next_attempt_at"] else ""
        # The error came from Slack or a sender bug: one line, no control characters.
        error = clean_line(r["last_error"], limit=200) or ""
        say(
            f"#{r['id']:<6} {r['status']:<7} {r['kind']:<12} {lead:<12} "
            f"attempts={r['attempts']} next={when} {error}".rstrip()
        )
    if not rows:
        say("no dead letters" if args.dead else "nothing waiting in the outbox")
    return EX_OK


def cmd_outbox_retry(args: argparse.Namespace, rt: Runtime) -> int:
    if args.dead == bool(args.ids):
        raise InputRejected("give message ids or --dead (every dead letter), not both")
    with rt.store.session() as session:
        retried = outbox.retry(session, ids=None if args.dead else args.ids, now=utcnow())
    say(f"{len(retried)} message(s) due again: the dispatcher of `leadbot serve` sends them")
    return EX_OK


_terminal = terminal  # bot.terminal: the one escape for everything printed


def cmd_review_list(args: argparse.Namespace, rt: Runtime) -> int:
    import bot.review as review  # late, as each command's own parts: `ingest` loads none

    with rt.store.session() as session:
        kept = raw_store.needing_review(session, limit=args.limit)
        rows = [review.describe(raw, head).row() for raw, head in kept]
    if args.json:
        _print_json(rows)
        return EX_OK
    for r in rows:
        what = r["subject"] or r["channel"]
        say(f"#{r['id']:<6} {r['status']:<7} {what} — {r['reason'] or ''}".rstrip(" —"))
    if not rows:
        say("nothing waits for review")
    return EX_OK


def cmd_review_show(args: argparse.Namespace, rt: Runtime) -> int:
    import bot.review as review
    from ingest.mail import parse_message
    from ingest.mail.body import message_text

    with rt.store.session() as session:
        raw = raw_store.raw_for_review(session, args.id)
        row = review.describe(raw, raw.content[: raw_store.HEAD_BYTES]).row()
        text = raw.content.decode("utf-8", "replace")
        if raw.kind == "email":
            # What failed to parse (nested 1,000 levels deep) is shown as it came.
            with suppress(ParseError):
                msg = parse_message(raw.content)
                text = message_text(msg, max_parts=rt.settings.max_mime_parts)
    if args.json:
        _print_json({**row, "text": text[:20_000]})
        return EX_OK
    for key in ("id", "status", "kind", "channel", "received_at", "from", "subject", "reason"):
        if row[key] is not None:
            say(f"{key:<12} {row[key]}")
    say()
    say(text[:20_000].rstrip(), lines=True)
    return EX_OK


def cmd_review_resolve(args: argparse.Namespace, rt: Runtime) -> int:
    import bot.review as review

    outcome = review.resolve(
        rt.store, rt.pipeline, args.id, email=args.email, name=args.name, by="cli"
    )
    with rt.store.session() as session:
        email = get_lead(session, lead_id=outcome.lead_id or 0).email
    say(
        f"input {args.id} -> lead #{outcome.lead_id} <{email}> ({outcome.status.value})"
        + (", announced" if outcome.announced else "")
    )
    return EX_OK


def cmd_review_dismiss(args: argparse.Namespace, rt: Runtime) -> int:
    reason = clean_line(args.reason, limit=500)
    if not reason:
        raise InputRejected("--reason must say why")
    with rt.store.session() as session:
        raw_store.dismiss_review(session, args.id, reason=reason, by="cli")
    say(f"input {args.id} dismissed: {reason}")
    return EX_OK


def cmd_forget(args: argparse.Namespace, rt: Runtime) -> int:
    import bot.privacy as privacy

    reason = clean_line(args.reason, limit=500) or "data protection request"
    done = privacy.forget(
        rt.store, args.email, reason=reason, by="cli", suppress=rt.settings.forget_suppress
    )
    say(
        f"lead #{done.lead_id} forgotten: {done.activities} activities scrubbed, {done.notes}"
        f" notes and {done.raw_inputs} raw inputs deleted, {done.slack_messages} Slack messages"
        " to redact" + (", address suppressed" if done.suppressed else "")
    )
    return EX_OK


def cmd_export(args: argparse.Namespace, rt: Runtime) -> int:
    import bot.privacy as privacy

    _print_json(privacy.export(rt.store, args.email))
    return EX_OK


def cmd_prune(args: argparse.Namespace, rt: Runtime) -> int:
    import bot.privacy as privacy

    visits = privacy.prune_visits(rt.store, days=rt.settings.tracking_anonymous_days)
    if visits:
        say(f"anonymous visits older than {rt.settings.tracking_anonymous_days:g} days: {visits}")
    days = rt.settings.raw_retention_days if args.days is None else args.days
    if days <= 0:
        say("retention is off (LEADBOT_RAW_RETENTION_DAYS=0): nothing pruned")
        return EX_OK
    stripped, emptied = privacy.prune(rt.store, days=days)
    say(
        f"raw inputs older than {days:g} days emptied: {emptied};"
        f" older than {days / 2:g} days without attachments now: {stripped}"
    )
    return EX_OK


def cmd_db_upgrade(args: argparse.Namespace, rt: Runtime) -> int:
    from storage.migrate import upgrade

    upgrade(rt.store)
    say("database is up to date")
    return EX_OK


def cmd_db_current(args: argparse.Namespace, rt: Runtime) -> int:
    from storage.migrate import current, pending

    left = pending(rt.store)
    for revision in current(rt.store):
        say(revision)
    say("up to date" if not left else f"{len(left)} head(s) not reached: {', '.join(left)}")
    return EX_OK


def cmd_db_history(args: argparse.Namespace, rt: Runtime) -> int:
    from storage.migrate import history

    for line in history(rt.store):
        say(line)
    return EX_OK


def cmd_rescore(args: argparse.Namespace, rt: Runtime) -> int:
    from bot.jobs.rescore import RescoreStats, expected_leads, rescore_all  # prometheus_client

    stats = RescoreStats()
    total = expected_leads(rt.store) if shown() else None
    with progress("rescoring", total=total) as advance, _polling(stats, advance):
        report = rescore_all(rt, batch=args.batch, full=True if args.full else None, stats=stats)
    say(
        f"rescored {report.leads} lead(s) in {report.seconds:.1f}s: {report.changed} changed, "
        f"{report.recorded} score change(s) recorded; {report.announced} announced"
    )
    return EX_OK


@contextmanager
def _polling(stats: Any, advance: Callable[[int], None]) -> Iterator[None]:
    """Moves the bar by what `stats.leads` counted, from a thread (the batches run in this one)."""
    if not shown():
        yield
        return
    stop = threading.Event()

    def watch() -> None:
        seen = 0
        while not stop.wait(0.2):
            now = stats.leads
            advance(now - seen)
            seen = now

    thread = threading.Thread(target=watch, name="rescore-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def cmd_score_explain(args: argparse.Namespace, rt: Runtime) -> int:
    with rt.store.session() as session:
        lead = get_lead(session, email=args.email)
        assert lead.id is not None
        facts = activity_facts(engagement_activities(session, lead.id))
        result = rt.scorer.score(lead_facts(lead), facts, now=utcnow())
    if args.json:
        _print_json({"email": lead.email, **explain_json(result)})
    else:
        say(f"{lead.email}")
        say(explain_text(result), lines=True)
    return EX_OK


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
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser(
        "ingest", help="store and process raw RFC 5322 messages (files or - for stdin)"
    )
    p.add_argument(
        "files", nargs="*", metavar="FILE", help="message files; - or none: standard input"
    )
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("reprocess", help="retry inputs that failed to parse or were left pending")
    p.set_defaults(func=cmd_reprocess)

    leads = sub.add_parser("leads", help="list, show and search leads").add_subparsers(
        dest="leads_command", required=True
    )
    p = leads.add_parser("list", help="leads by score, highest first")
    p.add_argument("--status", choices=[s.value for s in LeadStatus], help="only this status")
    p.add_argument("--temperature", choices=["cold", "warm", "hot"], help="only this temperature")
    p.add_argument("--limit", type=int, default=1000, help="at most this many (default 1000)")
    p.add_argument("--json", action="store_true", help=JSON_HELP)
    p.set_defaults(func=cmd_leads_list)
    p = leads.add_parser("show", help="one lead by address: profile, activities, notes")
    p.add_argument("email", help="the lead's email address")
    p.add_argument("--json", action="store_true", help=JSON_HELP)
    p.set_defaults(func=cmd_leads_show)
    p = leads.add_parser("search", help="find leads by name, company, address or domain")
    p.add_argument("query", help="words, an address or a domain")
    p.add_argument("--limit", type=int, default=20, help="at most this many (default 20)")
    p.add_argument("--json", action="store_true", help=JSON_HELP)
    p.set_defaults(func=cmd_leads_search)

    score = sub.add_parser("score", help="explain scores").add_subparsers(
        dest="score_command", required=True
    )
    p = score.add_parser("explain", help="why a lead has its score: each rule and its points")
    p.add_argument("email", help="the lead's email address")
    p.add_argument("--json", action="store_true", help=JSON_HELP)
    p.set_defaults(func=cmd_score_explain)
    add_train_parser(score)
    add_import_parser(sub)

    p = sub.add_parser("rescore", help="recompute every lead's score (decay, changed rules)")
    p.add_argument(
        "--batch", type=int, default=10_000, help="leads per transaction (default 10000)"
    )
    p.add_argument("--full", action="store_true", help="compare stored reasons of every lead too")
    p.set_defaults(func=cmd_rescore)

    review = sub.add_parser(
        "review", help="inputs that need a person: forwards without a sender, failed inputs"
    ).add_subparsers(dest="review_command", required=True)
    p = review.add_parser("list", help="kept for review or failed, oldest first")
    p.add_argument("--limit", type=int, default=1000, help="at most this many (default 1000)")
    p.add_argument("--json", action="store_true", help=JSON_HELP)
    p.set_defaults(func=cmd_review_list)
    p = review.add_parser("show", help="one input: its headers, the reason and its text")
    p.add_argument("id", type=int, help=INPUT_HELP)
    p.add_argument("--json", action="store_true", help=JSON_HELP)
    p.set_defaults(func=cmd_review_show)
    p = review.add_parser("resolve", help="name the sender: the input becomes their lead")
    p.add_argument("id", type=int, help=INPUT_HELP)
    p.add_argument("--email", required=True, help="the sender's address: the lead it becomes")
    p.add_argument("--name", help="the sender's name, when the input does not say it")
    p.set_defaults(func=cmd_review_resolve)
    p = review.add_parser("dismiss", help="not a lead: archive it with the reason")
    p.add_argument("id", type=int, help=INPUT_HELP)
    p.add_argument("--reason", required=True, help="why it is no lead (kept with the input)")
    p.set_defaults(func=cmd_review_dismiss)

    box = sub.add_parser("outbox", help="Slack messages not sent yet, dead letters").add_subparsers(
        dest="outbox_command", required=True
    )
    p = box.add_parser("list", help="pending messages and dead letters, oldest first")
    p.add_argument("--dead", action="store_true", help="dead letters only")
    p.add_argument("--limit", type=int, default=1000, help="at most this many (default 1000)")
    p.add_argument("--json", action="store_true", help=JSON_HELP)
    p.set_defaults(func=cmd_outbox_list)
    p = box.add_parser("retry", help="send messages again: these ids, or every dead letter")
    p.add_argument("ids", nargs="*", type=int, metavar="ID", help="outbox message ids")
    p.add_argument("--dead", action="store_true", help="every dead letter")
    p.set_defaults(func=cmd_outbox_retry)

    db = sub.add_parser("db", help="database schema").add_subparsers(
        dest="db_command", required=True
    )
    p = db.add_parser("upgrade", help="apply Alembic migrations")
    p.set_defaults(func=cmd_db_upgrade)
    p = db.add_parser("current", help="the revisions the database is at, and what is left")
    p.set_defaults(func=cmd_db_current)
    p = db.add_parser("history", help="every migration, newest first")
    p.set_defaults(func=cmd_db_history)
    add_db_ops_parsers(db)

    p = sub.add_parser(
        "forget", help="erase a person everywhere (Slack too); an anonymous tombstone stays"
    )
    p.add_argument("email", help="the person's email address")
    p.add_argument("--reason", default="", help="why (kept in the tombstone's activity)")
    p.set_defaults(func=cmd_forget)
    p = sub.add_parser("export", help="everything held about a person, as JSON")
    p.add_argument("email", help="the person's email address")
    p.set_defaults(func=cmd_export)
    p = sub.add_parser("prune", help="apply the raw-input retention now (serve does it too)")
    p.add_argument("--days", type=float, help="default: LEADBOT_RAW_RETENTION_DAYS")
    p.set_defaults(func=cmd_prune)

    add_tracking_parsers(sub)
    add_funnel_parsers(sub, leads)

    p = sub.add_parser(
        "doctor",
        help="check the configuration, database, Slack, files and ports; exit 78 on a problem",
    )
    p.add_argument(
        "--no-ports", action="store_true", help="skip the port checks (serve is running)"
    )
    p.set_defaults(func=cmd_doctor)

    p = sub.add_parser(
        "completion",
        help='print the shell completion script: eval "$(leadbot completion bash)"',
    )
    p.add_argument("shell", choices=["bash", "zsh"], help="the shell to complete in")
    p.set_defaults(func=cmd_completion)
    return parser


def cmd_completion(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Completion from the parser itself (shtab), so it never lags behind the commands."""
    import shtab

    sys.stdout.write(shtab.complete(parser, shell=args.shell))
    return EX_OK


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


def cmd_doctor(args: argparse.Namespace) -> int:
    """Runs before (and without) a runtime: a broken setting is what it is there to report."""
    import bot.doctor as doctor  # Slack's SDK, Alembic, every file loader: only for this command

    try:
        env = env_file(args.env_file)
        settings = load_settings(env=env)
    except ValidationError as e:
        say(doctor.Check("settings", doctor.FAIL, explain(e)).line())
        return EX_CONFIG
    except ConfigError as e:
        say(doctor.Check("settings", doctor.FAIL, str(e)).line())
        return EX_CONFIG
    from slack_sdk import WebClient  # only when Slack is configured: the CLI starts without it

    client = None
    if settings.slack_enabled and settings.slack_bot_token is not None:
        client = WebClient(
            token=settings.slack_bot_token.get_secret_value(),
            base_url=settings.slack_api_url,
            timeout=10,
        )
    store = Store(settings.database_url)
    try:
        checks = doctor.run(
            settings,
            store=store,
            slack=client,
            unknown=unknown_variables(),
            ports=not args.no_ports,
        )
    finally:
        store.dispose()
    for check in checks:
        say(check.line())
    failures = sum(c.level == doctor.FAIL for c in checks)
    warnings = sum(c.level == doctor.WARN for c in checks)
    say(f"{failures} problem(s), {warnings} warning(s)")
    return EX_CONFIG if failures else EX_OK


def _missing_sqlite(url: str) -> Path | None:
    """The file of a SQLite URL when it does not exist (a command run from the wrong folder would
    otherwise create an empty database and report "no leads")."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or ":memory:" in url:
        return None
    path = Path(url[len(prefix) :].split("?", 1)[0])
    return None if path.exists() else path.resolve()


# Commands that only read: run where there is no database, they say so instead of making one.
READS_ONLY = frozenset(
    {
        cmd_leads_list,
        cmd_leads_show,
        cmd_leads_search,
        cmd_score_explain,
        cmd_review_list,
        cmd_review_show,
        cmd_outbox_list,
        cmd_db_current,
        cmd_db_history,
        cmd_db_backup,
        cmd_export,
    }
)


def _migrate(store: Store) -> None:
    """Upgrade a database that is behind (a fresh one just works, as with `serve`); one that is at
    the heads costs one SELECT, not Alembic's import (a tenth of a second per piped message)."""
    if not at_heads(store):
        from storage.migrate import upgrade

        upgrade(store)


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
    logs.configure(verbose=args.verbose, json_lines=json_logs())
    if args.func is cmd_doctor:
        return cmd_doctor(args)
    if args.func is cmd_completion:
        return cmd_completion(args, parser)
    if args.func is cmd_rescore and args.batch < 1:  # said before any database is opened or made
        say(f"leadbot rescore: --batch must be at least 1, not {args.batch}", file=sys.stderr)
        return EX_USAGE
    try:
        settings = load_settings(env=env_file(args.env_file))
        if args.func in READS_ONLY and (missing := _missing_sqlite(settings.database_url)):
            say(
                f"leadbot: no database at {missing}: set LEADBOT_DATABASE_URL, or --env-file",
                file=sys.stderr,
            )
            return EX_CONFIG
        runtime = build_runtime(settings)
    except ConfigError as e:
        say(f"leadbot: configuration error: {e}", file=sys.stderr)
        return _config_failed(args)
    except ValidationError as e:  # named by the variables a person sets, not pydantic's fields
        say(f"leadbot: configuration error: {explain(e)}", file=sys.stderr)
        return _config_failed(args)
    try:
        if args.func not in (
            cmd_serve,
            cmd_db_upgrade,
            cmd_db_current,
            cmd_db_history,
            cmd_db_backup,
        ):
            _migrate(runtime.store)
        code: int = args.func(args, runtime)
        return code
    except StoreUnavailable as e:
        say(f"leadbot: {e} (temporary failure, try again later)", file=sys.stderr)
        return EX_TEMPFAIL
    except LeadNotFound as e:
        say(f"leadbot: {e}", file=sys.stderr)
        return EX_NOTFOUND
    except InputRejected as e:
        say(f"leadbot: {e}", file=sys.stderr)
        return EX_DATAERR
    except LeadBotError as e:
        say(f"leadbot: {e}", file=sys.stderr)
        return EX_SOFTWARE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        raise
    except (OSError, MemoryError) as e:  # a full disk, no descriptors or memory left: not the input
        say(f"leadbot: {_one_line(e)} (temporary failure, try again later)", file=sys.stderr)
        return EX_TEMPFAIL
    except Exception as e:  # a bug: one line, never a traceback a mail server would bounce with
        logging.getLogger("leadbot.cli").debug("unexpected error", exc_info=True)
        say(f"leadbot: internal error: {_one_line(e)}", file=sys.stderr)
        # A message piped in is kept by the mail server and tried again, not bounced to its sender.
        return EX_TEMPFAIL if args.func is cmd_ingest else EX_SOFTWARE


def _config_failed(args: argparse.Namespace) -> int:
    """78, except for `ingest`: the mail server would bounce the inquiry to its sender (Postfix
    maps 78 to 5.3.5); 75 keeps it queued until the setting is fixed."""
    return EX_TEMPFAIL if args.func is cmd_ingest else EX_CONFIG


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()[0][:300] if str(e).strip() else ""
    return _terminal(f"{type(e).__name__}: {text}" if text else type(e).__name__)


if __name__ == "__main__":
    raise SystemExit(main())
