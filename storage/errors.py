"""LeadBot's exception hierarchy, caught once at each entry point (SMTP, HTTP, CLI).

LeadBotError
├── StoreUnavailable      the database did not answer: a temporary failure (SMTP 451, HTTP 503, exit 75)
├── InputRejected         input we will never be able to use (SMTP 5xx, HTTP 4xx, exit 65)
│   └── ParseError        a message or form that could not be read into an inquiry
├── LeadNotFound          no lead matches the email or id
├── TransitionRefused     the lifecycle does not allow this change now (someone else claimed it, …)
└── ConfigError           settings or a rules file that cannot be used; refused at start-up
"""

from __future__ import annotations


class LeadBotError(Exception):
    """Base of every error LeadBot raises on purpose."""


class StoreUnavailable(LeadBotError):
    """The database could not be reached or did not commit; the caller should retry later."""


class InputRejected(LeadBotError):
    """The input can never be turned into a lead as it is."""


class ParseError(InputRejected):
    """A message or submission could not be parsed; the raw input is kept as failed."""


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
