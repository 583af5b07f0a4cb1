"""What a `leadbot` command is to the parts that run it: its handler, named by module and function
and imported only when it runs, and the exit statuses (sysexits.h, which a mail server understands
for `ingest`: 65 EX_DATAERR bounces the message, 75 EX_TEMPFAIL keeps it queued and tries again)."""

from __future__ import annotations

import argparse
import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.runtime import Runtime

EX_OK = 0
EX_NOTFOUND = 1
EX_USAGE = 64
EX_DATAERR = 65
EX_UNAVAILABLE = 69  # a needed part (an optional extra) is not installed
EX_SOFTWARE = 70
EX_OSERR = 71
EX_TEMPFAIL = 75
EX_CONFIG = 78
EX_PIPE = 141  # what a shell reports for a command ended by SIGPIPE

# Commands that only read: run where there is no database, they say so instead of making one.
READS_ONLY = frozenset(
    {
        "cmd_leads_list",
        "cmd_leads_show",
        "cmd_leads_search",
        "cmd_score_explain",
        "cmd_review_list",
        "cmd_review_show",
        "cmd_outbox_list",
        "cmd_db_current",
        "cmd_db_history",
        "cmd_db_backup",
        "cmd_export",
    }
)
# Commands that open the database as it is: the rest upgrade one that is behind first.
AS_IT_IS = frozenset(
    {"cmd_serve", "cmd_db_upgrade", "cmd_db_current", "cmd_db_history", "cmd_db_backup"}
)


@dataclass(frozen=True)
class Handler:
    """A command's function, by module and name, imported when the command runs."""

    module: str
    name: str

    @property
    def reads_only(self) -> bool:
        return self.name in READS_ONLY

    @property
    def migrates(self) -> bool:
        return self.name not in AS_IT_IS

    @property
    def piped(self) -> bool:
        """`ingest`: a mail server runs it, and keeps what it was not told to bounce."""
        return self.name == "cmd_ingest"

    def __call__(self, args: argparse.Namespace, rt: Runtime) -> int:
        function = getattr(importlib.import_module(self.module), self.name)
        code: int = function(args, rt)
        return code
