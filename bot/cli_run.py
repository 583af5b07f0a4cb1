"""Running a parsed `leadbot` command: the settings, the runtime, the database upgraded when it is
behind, and every error of our hierarchy turned into one line and an exit status that a mail
server understands for `ingest` (bot.cli_handler)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from pydantic import ValidationError

from bot import logs
from bot.cli_handler import (
    EX_CONFIG,
    EX_DATAERR,
    EX_NOTFOUND,
    EX_OK,
    EX_SOFTWARE,
    EX_TEMPFAIL,
    EX_USAGE,
    Handler,
)
from bot.config import env_file, explain, json_logs, load_settings, unknown_variables
from bot.runtime import build_runtime
from bot.terminal import say, terminal
from storage.db import Store
from storage.errors import ConfigError, InputRejected, LeadBotError, LeadNotFound, StoreUnavailable
from storage.schema import at_heads

log = logging.getLogger("leadbot.db")


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    logs.configure(verbose=args.verbose, json_lines=json_logs())
    command: Handler = args.func
    if command.name == "cmd_doctor":
        return cmd_doctor(args)
    if command.name == "cmd_completion":
        return cmd_completion(args, parser)
    if command.name == "cmd_rescore" and args.batch < 1:  # said before a database is opened
        say(f"leadbot rescore: --batch must be at least 1, not {args.batch}", file=sys.stderr)
        return EX_USAGE
    try:
        settings = load_settings(env=env_file(args.env_file))
        if command.reads_only and (missing := _missing_sqlite(settings.database_url)):
            say(
                f"leadbot: no database at {missing}: set LEADBOT_DATABASE_URL, or --env-file",
                file=sys.stderr,
            )
            return EX_CONFIG
        runtime = build_runtime(settings)
    except ConfigError as e:
        say(f"leadbot: configuration error: {e}", file=sys.stderr)
        return _config_failed(command)
    except ValidationError as e:  # named by the variables a person sets, not pydantic's fields
        say(f"leadbot: configuration error: {explain(e)}", file=sys.stderr)
        return _config_failed(command)
    try:
        if command.migrates:
            _migrate(runtime.store)
        return command(args, runtime)
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
        return EX_TEMPFAIL if command.piped else EX_SOFTWARE


def cmd_completion(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Completion from the parser itself (shtab), so it never lags behind the commands."""
    import shtab

    sys.stdout.write(shtab.complete(parser, shell=args.shell))
    return EX_OK


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


def _migrate(store: Store) -> None:
    """Upgrade a database that is behind (a fresh one just works, as with `serve`); one that is at
    the heads costs one SELECT, not Alembic's import (a tenth of a second per piped message)."""
    if at_heads(store):
        return
    from storage.migrate import current, pending, upgrade

    before, behind = current(store), pending(store)
    upgrade(store)
    if before:  # said, not silent: the schema of a shared database changed under its users
        log.info(
            "database upgraded first: %d migration branch(es) applied (leadbot db history)",
            len(behind),
        )
    else:
        log.info("database created, at the newest schema")


def _config_failed(command: Handler) -> int:
    """78, except for `ingest`: the mail server would bounce the inquiry to its sender (Postfix
    maps 78 to 5.3.5); 75 keeps it queued until the setting is fixed."""
    return EX_TEMPFAIL if command.piped else EX_CONFIG


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()[0][:300] if str(e).strip() else ""
    return terminal(f"{type(e).__name__}: {text}" if text else type(e).__name__)
