"""`leadbot links make` (tracked links for nurturing emails), `leadbot links admin` (a signed link to
the dashboard or one lead's page) and `leadbot events import FILE.csv`."""

from __future__ import annotations

import argparse
import csv
import itertools
import re
import sys
from datetime import timedelta

from bot.cli_handler import EX_DATAERR, EX_OK
from bot.pages.links import MAX_HOURS, page_link
from bot.runtime import Runtime
from ingest.tracking import links
from ingest.tracking.imports import columns, missing_columns, read_rows
from ingest.tracking.record import Recorded, record_events
from storage.errors import InputRejected
from storage.leads import get_lead
from storage.models import utcnow

CHUNK = 500  # rows per transaction: a large export never holds the write lock for long
CAMPAIGN = re.compile(r"^[\w .:/+-]{1,100}$")
PERSON = re.compile(r"^[A-Za-z0-9_.@:-]{1,64}$")


def public_base(rt: Runtime) -> str:
    """Where people reach the HTTP server: LEADBOT_PUBLIC_URL, else the listening address."""
    s = rt.settings
    if s.public_url:
        return s.public_url
    print(
        "leadbot: LEADBOT_PUBLIC_URL is not set: the link uses the listening address,"
        " which people outside this machine may not reach",
        file=sys.stderr,
    )
    return f"http://{s.host}:{s.http_port}"


def cmd_links_make(args: argparse.Namespace, rt: Runtime) -> int:
    campaign = (args.campaign or "").strip() or None
    if campaign is not None and not CAMPAIGN.match(campaign):
        raise InputRejected("--campaign: up to 100 letters, digits, spaces and . : / + - _")
    try:
        target = links.check_target(args.url)
    except ValueError as e:
        raise InputRejected(f"--url: {e}") from None
    days = rt.settings.links_expire_days if args.expires_days is None else args.expires_days
    if days <= 0:
        raise InputRejected("--expires-days must be more than 0")
    with rt.store.session() as session:
        lead = get_lead(session, email=args.email)
    assert lead.id is not None
    token = links.make_link(
        rt.secret.key(),
        lead_id=lead.id,
        url=target,
        campaign=campaign,
        expires_at=utcnow() + timedelta(days=days),
    )
    print(f"{public_base(rt)}/r/{token}")
    return EX_OK


def cmd_links_admin(args: argparse.Namespace, rt: Runtime) -> int:
    hours = rt.settings.pages_link_hours if args.hours is None else args.hours
    if not 0 < hours <= MAX_HOURS:
        raise InputRejected(f"--hours must be more than 0 and at most {MAX_HOURS}")
    person = args.person.strip()
    if not PERSON.match(person):
        raise InputRejected("--for: a Slack user id or a short name (letters, digits, _ . @ : -)")
    lead_id = None
    if args.lead is not None:
        with rt.store.session() as session:
            wanted = args.lead.strip()
            if wanted.isascii() and wanted.isdigit() and len(wanted) < 19:
                lead = get_lead(session, lead_id=int(wanted))
            else:
                lead = get_lead(session, email=wanted)
        lead_id = lead.id
    print(page_link(rt, person=person, lead_id=lead_id, hours=hours, base=public_base(rt)))
    return EX_OK


def cmd_events_import(args: argparse.Namespace, rt: Runtime) -> int:
    source = args.source or "csv"
    if not CAMPAIGN.match(source) or " " in source:
        raise InputRejected("--source: up to 100 letters, digits and . : / + - _")
    total = Recorded()
    problems: list[str] = []
    rows = 0
    try:
        with open(args.file, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            found = columns(reader.fieldnames or [])
            missing = missing_columns(found)
            if missing:
                raise InputRejected(
                    f"{args.file}: no column {', '.join(missing)} "
                    f"(columns: {', '.join(reader.fieldnames or [])[:500]})"
                )
            while chunk := list(itertools.islice(reader, CHUNK)):
                now = utcnow()
                read = read_rows(chunk, found, source=source, now=now, first=rows + 2)
                rows += len(chunk)
                problems += read.problems
                if not read.events:
                    continue
                with rt.store.session() as session:
                    done = record_events(session, read.events, scorer=rt.scorer, now=now)
                for name, value in vars(done).items():
                    setattr(total, name, getattr(total, name) + value)
    except OSError as e:
        raise InputRejected(f"{args.file}: {e.strerror}") from None
    except (UnicodeDecodeError, csv.Error) as e:
        raise InputRejected(f"{args.file}: not a UTF-8 CSV file: {e}") from None
    for line in problems[:20]:
        print(f"leadbot events import: {args.file}: {line}", file=sys.stderr)
    if len(problems) > 20:
        print(f"leadbot events import: … and {len(problems) - 20} more", file=sys.stderr)
    print(
        f"{rows} row(s): {total.recorded} recorded, {total.duplicate} already recorded, "
        f"{total.anonymous} kept for anonymous visitors, {total.joined} joined to their lead, "
        f"{total.ignored} ignored (forgotten people), {len(problems)} skipped"
        + (f"; {total.announced} lead(s) announced" if total.announced else "")
    )
    return EX_DATAERR if rows and len(problems) == rows else EX_OK
