"""The composition root: every part LeadBot runs, built once from Settings and handed on.

`serve`, the CLI and the ingest worker processes all start here, and nothing below `bot` looks
anything up: the pipeline gets its store, scorer and reading context, each receiver and route
gets the pipeline and the settings it reads, the Slack app gets this runtime. What a part needs
is a field here, with its type, never a string key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.config import Settings
from ingest.auth import AuthOptions, SenderCheck, parse_dns_server
from ingest.commit import GroupCommit
from ingest.forms.config import FormsConfig, load_forms
from ingest.http.limits import Limits
from ingest.http.replay import TokenMemory
from ingest.inquiry import ReadContext
from ingest.pipeline import Pipeline
from ingest.tracking.secret import ServerSecret
from ingest.tracking.sites import TrackingConfig, load_tracking
from scoring import load_rules
from scoring.types import Scorer
from storage.db import Store

if TYPE_CHECKING:  # the Slack libraries load when Slack is used, not for every CLI command
    from slack_bolt import App
    from slack_sdk import WebClient

SLACK_TIMEOUT_S = 15  # seconds a Web API call may take before it is retried from the outbox


@dataclass
class Runtime:
    settings: Settings
    store: Store
    scorer: Scorer
    pipeline: Pipeline
    forms: FormsConfig
    # First-party tracking: the sites and limits, and the key that signs tracked links.
    tracking: TrackingConfig
    secret: ServerSecret
    # Mailgun tokens seen lately (replay protection of POST /inbound/mailgun), shared by requests.
    inbound_tokens: TokenMemory = field(default_factory=TokenMemory)
    # Rate limits of forms and tracking (in the database unless LEADBOT_SHARED_LIMITS=false).
    limits: Limits = field(default_factory=lambda: Limits(None))
    slack_app: App | None = None  # the Bolt app, built on first use (bot.slack.app.get_app)
    _slack_client: WebClient | None = None
    _committer: GroupCommit | None = None

    @property
    def committer(self) -> GroupCommit:
        """The one group commit of this process's receivers (SMTP, web forms), made on first use."""
        if self._committer is None:
            self._committer = GroupCommit(self.pipeline, gate=self.limits)
        return self._committer

    @property
    def slack_client(self) -> WebClient:
        """The Web API client (its URL is LEADBOT_SLACK_API_URL), made on first use."""
        if self._slack_client is None:
            from slack_sdk import WebClient

            s = self.settings
            token = s.slack_bot_token.get_secret_value() if s.slack_bot_token else None
            self._slack_client = WebClient(
                token=token, base_url=s.slack_api_url, timeout=SLACK_TIMEOUT_S
            )
        return self._slack_client


def build_runtime(settings: Settings, *, store: Store | None = None) -> Runtime:
    """Load the rules and forms (a broken file is refused here, at start-up) and wire the parts."""
    scorer = load_rules(settings.scoring_rules, hot_threshold=settings.hot_threshold)
    store = store or Store(settings.database_url, timeout=settings.store_timeout_seconds)
    forms = load_forms(settings.forms_file, strict=settings.forms_strict)
    context = ReadContext(
        internal_domains=settings.internal_domains,
        max_parts=settings.max_mime_parts,
        options={"forms": forms},
    )
    pipeline = Pipeline(store, scorer=scorer, context=context, sender_check=sender_check(settings))
    tracking = load_tracking(
        keys=settings.tracking_keys,
        forms_file=settings.forms_file,
        consent_required=settings.tracking_consent == "required",
        rate_per_minute=settings.tracking_rate_per_minute,
        burst=settings.tracking_burst,
        max_body_bytes=settings.tracking_max_body_bytes,
        max_events=settings.tracking_max_events,
        fallback_url=settings.links_fallback_url,
    )
    key = settings.secret_key.get_secret_value() if settings.secret_key else None
    secret = ServerSecret(store, key)
    shared = store if settings.shared_limits else None
    return Runtime(
        settings,
        store,
        scorer,
        pipeline,
        forms,
        tracking,
        secret,
        inbound_tokens=TokenMemory(shared),
        limits=Limits(shared),
    )


def sender_check(settings: Settings) -> SenderCheck | None:
    """Sender verification as configured (LEADBOT_DNS_SERVER, LEADBOT_TRUSTED_AUTHSERV_ID)."""
    options = AuthOptions(
        dns_server=parse_dns_server(settings.dns_server) if settings.dns_server else None,
        dns_timeout_s=settings.dns_timeout_seconds,
        trusted_authserv_id=settings.trusted_authserv_id,
        internal_domains=settings.internal_domains,
    )
    return SenderCheck(options) if options.active else None


def build_pipeline(settings: Settings) -> Pipeline:
    """The pipeline alone: what each ingest worker process builds for itself (picklable)."""
    return build_runtime(settings).pipeline
