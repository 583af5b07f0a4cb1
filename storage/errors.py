"""LeadBot's exception hierarchy: every error raised on purpose, in one tree.

Each is caught once at each entry point, where it becomes an answer: an SMTP status line
(ingest.smtp), a JSON error with an HTTP status (ingest.http.errors), or an exit code (bot.cli).

LeadBotError
├── StoreUnavailable      the database did not answer: temporary (SMTP 451, HTTP 503, exit 75)
│   └── StoreConflict     other writers kept changing the same rows: temporary, retried later
├── InputRejected         input we will never be able to use (SMTP 5xx, HTTP 4xx, exit 65)
│   ├── ParseError        a message or form that could not be read into an inquiry
│   │   ├── FieldError    one submitted form field is missing or invalid (HTTP 422 names it)
│   │   └── AddressError  a header without one usable address (also a ValueError)
│   └── PayloadError      a webhook body that is not the provider's documented shape (HTTP 400)
├── Refused               an HTTP request answered with another status (401, 403, 404, 413, …)
├── LeadNotFound          no lead matches the email or id
├── TransitionRefused     the lifecycle does not allow this change now (someone else claimed it, …)
├── ConfigError           settings or a rules file that cannot be used; refused at start-up (exit 78)
│   ├── RuleError         one rule of a rules file is wrong; `key` points at it (also a ValueError)
│   └── RulesChanged      the rules file changed under a rescoring run's worker processes
└── DeliveryFailed        a Slack message was not delivered this time
    ├── RetryLater        try again later (`delay` when Slack said Retry-After)
    └── GiveUp            it can never be delivered (channel not found, invalid payload)
"""

from __future__ import annotations

import sqlite3
import sys


class LeadBotError(Exception):
    """Base of every error LeadBot raises on purpose."""


class StoreUnavailable(LeadBotError):
    """The database could not be reached or did not commit; the caller should retry later."""


class StoreConflict(StoreUnavailable):
    """Other writers changed the rows a write depends on at every attempt; retry it later."""


class InputRejected(LeadBotError):
    """The input can never be turned into a lead as it is."""


class ParseError(InputRejected):
    """A message or submission could not be parsed; the raw input is kept as failed."""


class FieldError(ParseError):
    """One submitted field is missing or invalid; `field` names it for the 422 answer."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(
            f"{problem} {field}" if problem == "missing" else f"invalid {field}: {problem}"
        )
        self.field = field


class AddressError(ParseError, ValueError):
    """The header holds no single usable address; the message says why."""


class PayloadError(InputRejected):
    """A webhook body that is not the provider's documented shape (HTTP 400)."""


class Refused(LeadBotError):
    """An HTTP answer other than success: its status, the reason, the field at fault, headers."""

    def __init__(
        self,
        status: int,
        reason: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(reason)
        self.status, self.field, self.headers = status, field, headers or {}


class LeadNotFound(LeadBotError):
    """No lead matches."""


class TransitionRefused(LeadBotError):
    """A lifecycle change that is not allowed from the lead's current state or by this actor."""

    def __init__(
        self, message: str, *, status: str | None = None, owner: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.owner = owner


class ConfigError(LeadBotError):
    """Settings or a rules file that cannot be used."""


class RuleError(ConfigError, ValueError):
    """A problem in one rule; `key` lets the loader point at the line that holds it."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


class RulesChanged(ConfigError):
    """A worker loaded rules with another fingerprint than the caller's (the file changed)."""


class DeliveryFailed(LeadBotError):
    """An outbox message was not delivered this time."""


class RetryLater(DeliveryFailed):
    """Try this message again later; `delay` seconds when the far side said so (Retry-After)."""

    def __init__(
        self, reason: str, *, delay: float | None = None, count_attempt: bool = True
    ) -> None:
        super().__init__(reason)
        self.delay = delay
        self.count_attempt = count_attempt


class GiveUp(DeliveryFailed):
    """This message can never be sent (channel not found, invalid payload)."""


def driver_unavailable() -> tuple[type[BaseException], ...]:
    """The database drivers' own errors for a store that cannot serve (read-only file, full disk,
    a lock or a timeout): what a raw DBAPI cursor raises where SQLAlchemy does not wrap it.

    storage.db maps these to StoreUnavailable with SQLAlchemy's; psycopg counts only when it is
    installed and already loaded (a SQLite deployment never imports it for this).
    """
    found: list[type[BaseException]] = [sqlite3.OperationalError, sqlite3.InterfaceError]
    psycopg = sys.modules.get("psycopg")
    if psycopg is not None:
        found += [psycopg.OperationalError, psycopg.InterfaceError]
    return tuple(found)
