"""The `leadbot` command's entry point: `leadbot ingest -` first tries to hand the message to the
running server (bot.handoff), before anything heavy is imported; every other command, and an
ingest that cannot be handed over, runs the full command line (bot.cli)."""

from __future__ import annotations

import io
import sys
from collections.abc import Sequence

from bot.cli_handler import EX_OK, EX_TEMPFAIL
from bot.terminal import say

GLOBAL_FLAGS = frozenset({"-v", "--verbose"})


def piped_ingest(argv: Sequence[str]) -> tuple[str | None] | None:
    """(the --env-file given, or None) when argv is `[-v] [--env-file F] ingest [-]`, else None."""
    env: str | None = None
    rest = list(argv)
    while rest and rest[0] != "ingest":
        arg = rest.pop(0)
        if arg in GLOBAL_FLAGS:
            continue
        if arg == "--env-file" and rest:
            env = rest.pop(0)
        elif arg.startswith("--env-file="):
            env = arg.partition("=")[2]
        else:
            return None
    if rest in (["ingest"], ["ingest", "-"]):
        return (env,)
    return None


def handed_over(explicit_env: str | None) -> int | None:
    """The exit status when the message on standard input was handed over (or may have been);
    None when this process must read it, with standard input still holding the message."""
    # Late, as everything here: `leadbot --help` and the other commands load none of it.
    from pydantic import ValidationError

    from bot.config import env_file, load_settings
    from bot.handoff import Uncertain, hand_over
    from storage.errors import ConfigError

    try:
        settings = load_settings(env=env_file(explicit_env))
    except (ConfigError, ValidationError, ValueError):
        return None  # the full command line reports it, naming the setting
    content = sys.stdin.buffer.read()
    # Whatever happens next, the full command line reads the same bytes from standard input.
    sys.stdin = io.TextIOWrapper(io.BytesIO(content))
    if not content or len(content) > settings.max_message_bytes:
        return None  # refused there, with the reason
    try:
        where = hand_over(content, settings)
    except Uncertain as e:
        say(f"leadbot ingest: {e}; try again later", file=sys.stderr)
        return EX_TEMPFAIL
    if where is None:
        return None
    say(f"-: stored by the running server ({where}), which reads it now")
    return EX_OK


def main(argv: Sequence[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if (ingest := piped_ingest(args)) is not None and (code := handed_over(*ingest)) is not None:
        return code
    # Late on purpose: everything a command needs, loaded only once it is not handed over.
    from bot.cli import main as run

    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
