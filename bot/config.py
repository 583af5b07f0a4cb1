"""One settings object, read from the environment (and `.env`) once and passed down."""

from __future__ import annotations

import difflib
import os
import re
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.weekly_slot import parse_weekly
from storage.errors import ConfigError

# The parsers of LEADBOT_DNS_SERVER and LEADBOT_SMTP_ALLOWED_CLIENTS load with their setting: the
# sender checks bring the mail reader, the listener asyncio, and `leadbot ingest` handing a
# message to the running server needs neither.

DomainList = Annotated[frozenset[str], NoDecode]
IdList = Annotated[frozenset[str], NoDecode]  # Slack IDs: case kept
NetworkList = Annotated[tuple[IPv4Network | IPv6Network, ...], NoDecode]
# What a greeting may name: a host name or an address literal; never spaces or line breaks.
HOSTNAME = re.compile(
    r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})|\[[0-9A-Fa-f:.]+\]|\[IPv6:[0-9A-Fa-f:.]+\]"
)
ReasonList = Annotated[tuple[str, ...], NoDecode]  # in the order given: the order of the menu


MAX_REASONS, REASON_TEXT = 100, 75

AUTHSERV_ID = re.compile(r"[^\s;()\"\\]{1,255}")  # RFC 8601 §2.5: a value (token or dot-atom)


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
    # The longest a caller waits for the database (connect, statement, lock): then SMTP 451,
    # HTTP 503, exit 75.
    store_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    # How often serve finishes inputs left pending (an outage, a worker that died).
    sweep_interval_seconds: float = Field(default=60.0, gt=0, le=3600)
    host: str = "127.0.0.1"
    smtp_port: int = 2525
    http_port: int = 8000
    # SMTP and LMTP for the internet (docs/operations.md#smtp-on-the-internet).
    lmtp_port: int | None = Field(default=None, ge=0, le=65535)  # None: no LMTP listener
    smtp_hostname: str | None = None  # greeting and EHLO name; default socket.getfqdn()
    smtp_tls_cert: Path | None = None  # PEM chain; STARTTLS is offered when set
    smtp_tls_key: Path | None = None  # its key (default: in the certificate's file)
    smtp_require_tls: bool = False  # MAIL before STARTTLS gets 530 5.7.0
    smtp_allowed_clients: NetworkList = ()  # empty: anyone who reaches the port
    smtp_timeout_seconds: float = Field(default=60.0, gt=0, le=600)
    smtp_max_connections_per_ip: int = Field(default=20, ge=1)  # IPv6: per /64
    smtp_max_sessions: int = Field(default=200, ge=1)  # SMTP and LMTP together
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
    # The reasons offered when a lead is disqualified or lost (counted by them); "other" asks
    # for a few words.
    disqualify_reasons: ReasonList = ("spam", "competitor", "student", "duplicate", "other")
    lost_reasons: ReasonList = (
        "price",
        "competitor",
        "timing",
        "no budget",
        "no response",
        "other",
    )
    # Web forms and form webhooks (POST /forms/{key}, /webhooks/{provider}/{key}): docs/forms.md.
    forms_file: Path | None = Field(
        default=None, validation_alias=AliasChoices("LEADBOT_FORMS", "LEADBOT_FORMS_FILE")
    )
    forms_strict: bool = False  # true: form keys missing from the forms file get 404
    # Privacy (docs/privacy.md): raw inputs of processed mail kept this long (0: forever);
    # attachments go at half of it. A forgotten person's address kept as a keyed hash.
    raw_retention_days: float = Field(default=90.0, ge=0)
    forget_suppress: bool = False
    log_format: Literal["text", "json"] = "text"  # json: one object a line (bot/logs.py)
    # The HTTP listener as the internet meets it (ingest/http/server.py, docs/configuration.md).
    http_header_timeout_seconds: float = Field(default=10.0, gt=0, le=60)  # request line+headers
    http_idle_timeout_seconds: int = Field(default=5, ge=1, le=60)  # keep-alive between requests
    http_body_timeout_seconds: float = Field(default=60.0, gt=0, le=600)  # the whole body
    http_max_connections: int = Field(default=500, ge=1)  # more are answered 503 and closed
    http_max_connections_per_ip: int = Field(default=32, ge=0)  # 0: no cap per address
    # First-party tracking and tracked links (docs/tracking.md).
    secret_key: SecretStr | None = None  # signs tracked links; unset: a key kept in the database
    public_url: str | None = None  # how people reach the HTTP server: https://leads.example.com
    tracking_keys: str = ""  # a write key per site: "www=wk_4f0c…,docs=wk_9a1b…"
    tracking_consent: Literal["required", "not_required"] = "not_required"
    tracking_rate_per_minute: float = Field(default=120.0, gt=0)  # per client address and site
    tracking_burst: int = Field(default=60, ge=1)
    # Rate limits and webhook replay tokens in the database, held across serve processes.
    shared_limits: bool = True
    tracking_max_body_bytes: int = Field(default=64 * 1024, gt=0, le=16 * 1024 * 1024)
    tracking_max_events: int = Field(default=100, ge=1, le=1000)  # per batch
    tracking_anonymous_days: float = Field(default=90.0, ge=0)  # unjoined visits kept; 0: forever
    links_fallback_url: str | None = None  # where a forged or expired link goes; unset: 403
    links_expire_days: float = Field(default=365.0, gt=0)  # `leadbot links make`'s default
    # The lead page and dashboard (docs/dashboard.md): how long a link issued to a person works,
    # and the weekly digest ("mon 09:00", optionally a time zone; unset: no digest) and its channel.
    pages_link_hours: float = Field(default=12.0, gt=0, le=24 * 90)
    weekly_digest: str | None = None
    weekly_digest_channel: str | None = None  # default: LEADBOT_HOT_CHANNEL

    # No floods (docs/slack.md#bursts): more than this many announcements in this many minutes
    # in one channel, and the rest go out together as one digest message (0 turns it off).
    slack_burst: int = Field(default=5, ge=0)
    slack_burst_minutes: float = Field(default=2.0, ge=0)

    @field_validator("inbox_domains", "internal_domains", mode="before")
    @classmethod
    def _domains(cls, value: object) -> object:
        value = _split(value)
        if isinstance(value, list | tuple | set | frozenset):
            return frozenset(
                str(v).strip().lower().rstrip(".").lstrip("@") for v in value if str(v).strip()
            )
        return value

    @field_validator("smtp_allowed_clients", mode="before")
    @classmethod
    def _networks(cls, value: object) -> object:
        value = _split(value)
        if isinstance(value, list | tuple | set | frozenset):
            from ingest.listen import parse_networks

            return parse_networks(str(v) for v in value)
        return value

    @field_validator("smtp_hostname")
    @classmethod
    def _hostname(cls, value: str | None) -> str | None:
        if value is not None and not HOSTNAME.fullmatch(value):
            raise ValueError("a host name (letters, digits, dots, hyphens) or an address literal")
        return value

    @model_validator(mode="after")
    def _tls(self) -> Self:
        if self.smtp_tls_cert is None and self.smtp_tls_key is not None:
            raise ValueError("LEADBOT_SMTP_TLS_KEY needs LEADBOT_SMTP_TLS_CERT")
        if self.smtp_require_tls and self.smtp_tls_cert is None:
            raise ValueError("LEADBOT_SMTP_REQUIRE_TLS needs LEADBOT_SMTP_TLS_CERT")
        return self

    @field_validator("secret_key")
    @classmethod
    def _secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("at least 32 characters (e.g. `openssl rand -hex 32`)")
        return value

    @field_validator("public_url", "links_fallback_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip().rstrip("/")
        if not re.fullmatch(r"https?://[^\s/?#@]+(/[^\s]*)?", value):
            raise ValueError("an absolute http:// or https:// address")
        return value

    @field_validator("weekly_digest")
    @classmethod
    def _weekly(cls, value: str | None) -> str | None:
        if value is None or not value.strip() or value.strip().lower() == "off":
            return None
        parse_weekly(value)  # ValueError names what is wrong
        return " ".join(value.split())

    @field_validator("slack_allowed_users", "slack_managers", mode="before")
    @classmethod
    def _ids(cls, value: object) -> object:
        return _split(value)

    @field_validator("disqualify_reasons", "lost_reasons", mode="before")
    @classmethod
    def _reasons(cls, value: object) -> object:
        value = _split(value)
        if isinstance(value, list | tuple):
            reasons = tuple(dict.fromkeys(str(v).strip() for v in value if str(v).strip()))
            # A Slack menu holds 1..100 options of at most 75 characters.
            if not 1 <= len(reasons) <= MAX_REASONS or any(len(r) > REASON_TEXT for r in reasons):
                raise ValueError(
                    f"1 to {MAX_REASONS} comma-separated reasons of at most {REASON_TEXT} characters"
                )
            return reasons
        return value

    @property
    def slack_enabled(self) -> bool:
        return self.slack_bot_token is not None and bool(self.slack_bot_token.get_secret_value())

    # Who really sent it (docs/ingest.md#who-really-sent-it): the DNS server of LeadBot's own
    # DKIM, SPF and DMARC checks (`host:port` or `system`; unset: no DNS and no checks), or the
    # authserv-id of our edge MTA, whose Authentication-Results are read instead.
    dns_server: str | None = None
    dns_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    trusted_authserv_id: str | None = None

    @field_validator("dns_server")
    @classmethod
    def _dns_server(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        from ingest.auth import parse_dns_server

        return str(parse_dns_server(value))  # ValueError names what is wrong

    @field_validator("trusted_authserv_id")
    @classmethod
    def _authserv_id(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not AUTHSERV_ID.fullmatch(value.strip()):
            raise ValueError("an authserv-id is one token, usually the MTA's host name")
        return value.strip()


def json_logs() -> bool:
    """LEADBOT_LOG_FORMAT, read before the settings: their own errors are logged as asked."""
    return os.environ.get("LEADBOT_LOG_FORMAT", "text").strip().lower() == "json"


def env_file(explicit: str | Path | None = None) -> Path | None:
    """The env file settings come from: `--env-file`, else `LEADBOT_ENV_FILE`, else `.env` in the
    current folder when there is one. A named file that does not exist is a configuration error
    (a mail server's pipe must not silently run on defaults)."""
    chosen = explicit or os.environ.get("LEADBOT_ENV_FILE")
    if chosen:
        path = Path(chosen).expanduser()
        if not path.is_file():
            what = "--env-file" if explicit else "LEADBOT_ENV_FILE"
            raise ConfigError(f"{what}: {path} is not a readable file")
        return path
    dotenv = Path(".env")
    return dotenv if dotenv.is_file() else None


def load_settings(*, env: Path | None = None, **overrides: object) -> Settings:
    """Settings from the environment and `env`; a relative SQLite path in the database URL is
    taken relative to the env file's folder, so a command finds the same database from anywhere."""
    settings = Settings(_env_file=env, **overrides)  # type: ignore[arg-type]
    url = settings.database_url
    prefix = "sqlite:///"
    if env is not None and url.startswith(prefix) and not url.startswith(prefix + "/"):
        rest = url[len(prefix) :]
        if rest and not rest.startswith(":memory:"):
            settings.database_url = prefix + str(env.resolve().parent / rest)
    return settings


def known_variables() -> frozenset[str]:
    """Every environment variable a setting reads: `LEADBOT_<NAME>` and the aliases."""
    names: set[str] = set()
    for name, info in Settings.model_fields.items():
        alias = info.validation_alias
        if isinstance(alias, AliasChoices):
            names.update(str(a).upper() for a in alias.choices)
        else:
            names.add(f"LEADBOT_{name.upper()}")
    return frozenset(names)


def unknown_variables(
    environ: dict[str, str] | None = None, *, dotenv: Path | None = None
) -> list[tuple[str, str | None]]:
    """`LEADBOT_*` variables no setting reads (a typo is silently ignored otherwise), each with the
    closest known name: [("LEADBOT_HOT_CHANEL", "LEADBOT_HOT_CHANNEL")]. Reads the environment
    (or `environ`) and the env file `dotenv`."""
    env = dict(os.environ if environ is None else environ)
    if dotenv is not None and dotenv.is_file():
        for line in dotenv.read_text(encoding="utf-8", errors="replace").splitlines():
            key = line.split("=", 1)[0].strip().removeprefix("export ").strip()
            if key and not key.startswith("#") and "=" in line:
                env.setdefault(key, "")
    known = known_variables() | {"LEADBOT_ENV_FILE"}
    found = []
    for key in sorted(k for k in env if k.upper().startswith("LEADBOT_")):
        if key.upper() in known or key.upper().startswith("LEADBOT_TEST_"):
            continue
        close = difflib.get_close_matches(key.upper(), sorted(known), n=1, cutoff=0.75)
        found.append((key, close[0] if close else None))
    return found


def explain(error: ValidationError) -> str:
    """A settings error as the variables a person sets: `LEADBOT_SMTP_PORT='abc': not a valid
    integer`, never pydantic's dump of field names."""
    lines = []
    for item in error.errors():
        field = str(item["loc"][0]) if item.get("loc") else "?"
        info = Settings.model_fields.get(field)
        alias = info.validation_alias if info is not None else None
        name = (
            " or ".join(str(a) for a in alias.choices)
            if isinstance(alias, AliasChoices)
            else f"LEADBOT_{field.upper()}"
        )
        value = item.get("input")
        shown = "" if value is None or isinstance(value, dict) else f"={str(value)[:60]!r}"
        lines.append(f"{name}{shown}: {item['msg']}")
    return "; ".join(lines)
