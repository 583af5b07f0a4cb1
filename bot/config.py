"""One settings object, read from the environment (and `.env`) once and passed down."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DomainList = Annotated[frozenset[str], NoDecode]
IdList = Annotated[frozenset[str], NoDecode]  # Slack IDs: case kept


def _split(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def usable_cpus() -> int:
    """CPUs this process may run on (a container's or taskset's limit, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class Settings(BaseSettings):
    """Every setting of SPEC.md: `LEADBOT_*` plus Slack's standard names."""

    model_config = SettingsConfigDict(
        env_prefix="LEADBOT_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str = "sqlite:///leadbot.db"
    host: str = "127.0.0.1"
    smtp_port: int = 2525
    http_port: int = 8000
    inbox_domains: DomainList = frozenset({"localhost"})
    internal_domains: DomainList = frozenset()
    max_message_bytes: int = Field(default=25 * 1024 * 1024, gt=0)
    max_mime_parts: int = Field(default=1000, gt=0)
    # Processes that parse and record accepted mail: one per CPU but the receiver's (at least 1).
    ingest_workers: int = Field(default_factory=lambda: max(1, usable_cpus() - 1), ge=1, le=32)
    scoring_rules: Path | None = None
    hot_threshold: float | None = None
    rescore_interval_minutes: float = Field(default=60.0, ge=0)  # 0 turns the scheduler off
    # Processes a decay-only rescore of many leads uses (0: one per CPU; 1: this process only).
    rescore_workers: int = Field(default=0, ge=0, le=64)

    slack_bot_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("SLACK_BOT_TOKEN", "LEADBOT_SLACK_BOT_TOKEN")
    )
    slack_signing_secret: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("SLACK_SIGNING_SECRET", "LEADBOT_SLACK_SIGNING_SECRET"),
    )
    slack_app_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("SLACK_APP_TOKEN", "LEADBOT_SLACK_APP_TOKEN")
    )
    slack_api_url: str = "https://slack.com/api/"
    hot_channel: str | None = None

    # Inbound-email webhooks (POST /inbound/{provider}) and IMAP polling: see docs/ingest.md.
    mailgun_signing_key: SecretStr | None = None
    sendgrid_secret: SecretStr | None = None
    postmark_secret: SecretStr | None = None
    imap_url: SecretStr | None = None  # imaps://user:pass@host/INBOX: secret, it holds a password
    imap_processed_folder: str = "LeadBot/Processed"
    imap_poll_seconds: float = Field(default=60.0, gt=0)  # when the server has no IDLE
    # Slack access and routing (bot/slack/, docs/slack.md): nothing configured = everyone may act.
    slack_allowed_users: IdList = frozenset()
    slack_allowed_usergroup: str | None = None
    slack_allow_channel_members: bool = False
    slack_managers: IdList = frozenset()
    slack_manager_group: str | None = None
    slack_routes: str = ""  # "product:analytics=C123,country:DE|AT=C456,domain:bigco.com=C789"
    sla_reminder_minutes: float = Field(default=30.0, ge=0)  # 0 turns the reminder off
    sla_escalation_minutes: float = Field(default=60.0, ge=0)  # 0 turns the escalation off
    sla_escalation_target: str | None = None  # U… or S… (user group); default: the managers
    # Web forms and form webhooks (POST /forms/{key}, /webhooks/{provider}/{key}): docs/forms.md.
    forms_file: Path | None = Field(
        default=None, validation_alias=AliasChoices("LEADBOT_FORMS", "LEADBOT_FORMS_FILE")
    )
    forms_strict: bool = False  # true: form keys missing from the forms file get 404
    # The HTTP listener as the internet meets it (ingest/http/server.py, docs/configuration.md).
    http_header_timeout_seconds: float = Field(default=10.0, gt=0, le=60)  # request line+headers
    http_idle_timeout_seconds: int = Field(default=5, ge=1, le=60)  # keep-alive between requests
    http_body_timeout_seconds: float = Field(default=60.0, gt=0, le=600)  # the whole body
    http_max_connections: int = Field(default=500, ge=1)  # more are answered 503 and closed
    http_max_connections_per_ip: int = Field(default=32, ge=0)  # 0: no cap per address

    @field_validator("inbox_domains", "internal_domains", mode="before")
    @classmethod
    def _domains(cls, value: object) -> object:
        value = _split(value)
        if isinstance(value, list | tuple | set | frozenset):
            return frozenset(
                str(v).strip().lower().rstrip(".").lstrip("@") for v in value if str(v).strip()
            )
        return value

    @field_validator("slack_allowed_users", "slack_managers", mode="before")
    @classmethod
    def _ids(cls, value: object) -> object:
        return _split(value)

    @property
    def slack_enabled(self) -> bool:
        return self.slack_bot_token is not None and bool(self.slack_bot_token.get_secret_value())


def load_settings(**overrides: object) -> Settings:
    return Settings(**overrides)  # type: ignore[arg-type]
