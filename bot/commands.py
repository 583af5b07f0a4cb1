"""The `leadbot` commands that run on a Runtime: serve, ingest, reprocess, leads, outbox, review,
forget, export, prune, db, rescore and score explain. bot.cli parses the command line and imports
this module only once a command runs (the rest: bot.cli_funnel, cli_ops, cli_scoring,
cli_tracking)."""

from __future__ import annotations

import argparse
import asyncio
import shlex
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

from bot.cli_handler import EX_CONFIG, EX_DATAERR, EX_NOTFOUND, EX_OK, EX_OSERR
from bot.progress import progress, shown
from bot.runtime import Runtime
from bot.terminal import json_text, say
from ingest.facts import activity_facts, lead_facts
from ingest.mail.text import clean_line
from scoring import explain_json, explain_text
from storage import outbox
from storage import raw as raw_store
from storage.errors import ConfigError, InputRejected, LeadNotFound, ParseError
from storage.leads import activities_of, get_lead, list_leads, notes_of, search_leads
from storage.models import Lead, OutboxMessage, RawStatus, utcnow
from storage.public import fits_text, lead_detail, lead_public
from storage.scores import engagement_activities


def _print_json(value: Any) -> None:
    sys.stdout.write(json_text(value) + "\n")


def _lead_line(lead: Lead) -> str:
    owner = f" owner={lead.owner}" if lead.owner else ""
    who = f"{lead.name} <{lead.email}>" if lead.name else lead.email
    company = f" · {lead.company}" if lead.company else ""
    return f"#{lead.id:<6} {lead.score:>6.1f} {lead.temperature:<4} {lead.status:<12} {who}{company}{owner}"


def _print_leads(leads: list[Lead], *, json: bool, none: str) -> None:
    """`leads list` and `leads search`: JSON, or a line a lead (`none` when there is none)."""
    if json:
        _print_json([lead_public(lead) for lead in leads])
        return
    for lead in leads:
        say(_lead_line(lead))
    if not leads:
        say(none)


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
        _print_leads(leads, json=args.json, none="no leads")
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
    _print_leads(leads, json=args.json, none="no match")
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
