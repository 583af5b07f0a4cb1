"""`leadbot doctor`: every mistake an install can make, found before the first hot lead.

Each check gives one line: ok, warn (works, but probably not as meant) or FAIL (something will
not work), and every problem says which variable to set. `serve` runs the same checks at start-up
(without the ports, which it is about to take) and logs the problems.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.config import Settings
from bot.slack.routing import Route, parse_routes
from ingest.forms.config import load_forms
from ingest.tracking.sites import load_tracking
from scoring import load_rules
from storage.db import Store
from storage.errors import ConfigError, StoreUnavailable
from storage.migrate import pending

OK, WARN, FAIL = "ok", "warn", "FAIL"
# Bot scopes the features use (bot/manifest.yml says which feature needs which).
SCOPES = frozenset(
    {
        "chat:write",
        "chat:write.public",
        "commands",
        "channels:read",
        "groups:read",
        "usergroups:read",
        "users:read",
        "users:read.email",
        "im:write",
        "channels:history",
        "groups:history",
        "im:history",
        "files:write",
    }
)
COUNTRY_CODE_LENGTH = 2


@dataclass(frozen=True)
class Check:
    name: str
    level: str  # OK, WARN or FAIL
    detail: str

    def line(self) -> str:
        return f"{self.level:<4}  {self.name:<14} {self.detail}"


def run(
    settings: Settings,
    *,
    store: Store,
    slack: WebClient | None,
    unknown: list[tuple[str, str | None]],
    ports: bool = True,
) -> list[Check]:
    """Every check, in the order a person would fix things."""
    checks = [*_variables(unknown), _database(store), *_domains(settings)]
    checks += [_guard("rules", lambda: _rules(settings)), _guard("forms", lambda: _forms(settings))]
    checks.append(_guard("tracking", lambda: _tracking(settings)))
    checks += list(_routes(settings))
    checks += list(_slack(settings, slack))
    checks += list(_tls(settings))
    if ports:
        checks += list(_ports(settings))
    return checks


def failed(checks: list[Check]) -> bool:
    return any(c.level == FAIL for c in checks)


def _guard(name: str, check: Callable[[], Check]) -> Check:
    try:
        return check()
    except (ConfigError, OSError, ValueError) as e:
        return Check(name, FAIL, str(e))


def _variables(unknown: list[tuple[str, str | None]]) -> Iterator[Check]:
    for name, close in unknown:
        hint = f": did you mean {close}?" if close else ": no setting reads it"
        yield Check("environment", WARN, f"{name} is not a LeadBot setting{hint}")


def _database(store: Store) -> Check:
    url = store.engine.url
    path = Path(url.database or "") if url.get_backend_name() == "sqlite" else None
    if path is not None and str(path) not in ("", ":memory:") and not path.exists():
        return Check(
            "database",
            WARN,
            f"{path.resolve()} does not exist yet: `leadbot db upgrade` (or serve) creates it;"
            " set LEADBOT_DATABASE_URL if the database is elsewhere",
        )
    try:
        store.ping()
        missing = pending(store)
    except StoreUnavailable as e:
        return Check("database", FAIL, f"{e}: check LEADBOT_DATABASE_URL and that the server runs")
    if missing:
        return Check(
            "database", WARN, f"reachable, {len(missing)} migration(s) to run: `leadbot db upgrade`"
        )
    return Check("database", OK, f"reachable ({store.dialect}), fully migrated")


def _domains(s: Settings) -> Iterator[Check]:
    if s.inbox_domains == frozenset({"localhost"}):
        yield Check(
            "inbox domains",
            WARN,
            "only localhost is accepted at RCPT: set LEADBOT_INBOX_DOMAINS to the domains mail comes to",
        )
    else:
        yield Check("inbox domains", OK, ", ".join(sorted(s.inbox_domains)))
    if not s.internal_domains:
        yield Check(
            "internal",
            WARN,
            "no rep domains: a rep's forward is taken for the rep's own inquiry; set"
            " LEADBOT_INTERNAL_DOMAINS",
        )
    else:
        yield Check("internal", OK, ", ".join(sorted(s.internal_domains)))


def _rules(s: Settings) -> Check:
    rules = load_rules(s.scoring_rules, hot_threshold=s.hot_threshold)
    where = str(s.scoring_rules) if s.scoring_rules else "the built-in rules"
    return Check("rules", OK, f"{where}: {len(rules.rules)} rules, hot at {rules.hot_threshold:g}")


def _forms(s: Settings) -> Check:
    if s.forms_file is None:
        return Check("forms", OK, "no forms file: fields mapped by their usual names")
    forms = load_forms(s.forms_file, strict=s.forms_strict)
    return Check("forms", OK, f"{s.forms_file}: {len(forms.forms)} form(s)")


def _tracking(s: Settings) -> Check:
    sites = load_tracking(keys=s.tracking_keys, forms_file=s.forms_file).sites.values()
    if not sites:
        return Check("tracking", OK, "no site: POST /events is off (LEADBOT_TRACKING_KEYS)")
    names = ", ".join(sorted(site.name for site in sites))
    key = "LEADBOT_SECRET_KEY" if s.secret_key else "a key kept in the database"
    if not s.public_url:
        return Check(
            "tracking", WARN, f"site(s) {names}; links signed with {key}; LEADBOT_PUBLIC_URL unset"
        )
    return Check("tracking", OK, f"site(s) {names}; links signed with {key}")


def _routes(s: Settings) -> Iterator[Check]:
    try:
        routes = parse_routes(s.slack_routes)
    except ConfigError as e:
        yield Check("routes", FAIL, str(e))
        return
    problems = 0
    for route in routes:
        if route.field == "score" and (missing := _unknown_products(s, route)):
            problems += 1
            yield Check(
                "routes",
                FAIL,
                f"LEADBOT_SLACK_ROUTES: {route.field}:{'|'.join(missing)} can never match:"
                " not a product of the scoring rules ([products])",
            )
            continue
        check = _ROUTE_VALUES.get(route.field)
        if check is None:
            continue
        bad = sorted(v for v in route.values if not check[0](v))
        if bad:
            problems += 1
            yield Check(
                "routes",
                FAIL,
                f"LEADBOT_SLACK_ROUTES: {route.field}:{'|'.join(bad)} can never match: {check[1]}",
            )
    if routes and not problems:
        yield Check("routes", OK, f"{len(routes)} route(s)")


def _unknown_products(s: Settings, route: Route) -> list[str]:
    """The route's product names the rules do not define ([] when the rules do not load: the
    rules check says why)."""
    try:
        rules = load_rules(s.scoring_rules, hot_threshold=s.hot_threshold)
    except ConfigError:
        return []
    names = {p.name.lower() for p in rules.products}
    return sorted(v for v in route.values if v not in names)


# Route values that can match what a lead holds: (test, what to give instead).
_ROUTE_VALUES: dict[str, tuple[Callable[[str], bool], str]] = {
    "country": (
        lambda v: len(v) == COUNTRY_CODE_LENGTH and v.isalpha(),
        "countries are ISO 3166 codes (DE, AT, US)",
    ),
    "domain": (lambda v: "." in v and "@" not in v, "give a domain (bigco.com)"),
}


def _slack(s: Settings, client: WebClient | None) -> Iterator[Check]:
    if not s.slack_enabled or client is None:
        if s.slack_signing_secret or s.slack_app_token or s.hot_channel:
            yield Check(
                "slack",
                WARN,
                "Slack settings are given but no bot token: set SLACK_BOT_TOKEN (xoxb-…)",
            )
        else:
            yield Check("slack", OK, "off: announcements go to the log")
        return
    try:
        auth = client.auth_test()
    except SlackApiError as e:
        yield Check("slack", FAIL, f"auth.test: {_error(e)}: check SLACK_BOT_TOKEN")
        return
    except (SlackClientError, OSError) as e:
        yield Check("slack", FAIL, f"Slack unreachable ({type(e).__name__}: {e})")
        return
    yield Check("slack", OK, f"token of {auth.get('user') or '?'} in team {auth.get('team_id')}")
    granted = _scopes(auth.headers)
    if granted is not None and (missing := sorted(SCOPES - granted)):
        yield Check(
            "slack scopes",
            WARN,
            f"missing {', '.join(missing)}: add them in the app's OAuth settings (bot/manifest.yml)",
        )
    if s.slack_app_token:
        yield Check("slack mode", OK, "Socket Mode (SLACK_APP_TOKEN)")
    elif s.slack_signing_secret:
        yield Check("slack mode", OK, "HTTP: requests to /slack/events are verified")
    else:
        yield Check(
            "slack mode",
            FAIL,
            "no signing secret: /slack/events refuses every request; set SLACK_SIGNING_SECRET"
            " (or SLACK_APP_TOKEN for Socket Mode)",
        )
    if not s.hot_channel:
        yield Check("hot channel", FAIL, "no channel for announcements: set LEADBOT_HOT_CHANNEL")
    channels = [("hot channel", s.hot_channel)] if s.hot_channel else []
    with contextlib.suppress(ConfigError):  # reported by the routes check
        channels += [("route", r.channel) for r in parse_routes(s.slack_routes)]
    for label, channel in dict.fromkeys(channels):
        yield _channel(client, label, str(channel))


def _channel(client: WebClient, label: str, channel: str) -> Check:
    try:
        info = client.conversations_info(channel=channel)
    except SlackApiError as e:
        return Check(label, FAIL, f"{channel}: {_error(e)}: is the ID right, and the app invited?")
    except (SlackClientError, OSError) as e:
        return Check(label, FAIL, f"{channel}: Slack unreachable ({e})")
    data: dict[str, Any] = info.get("channel") or {}
    name = f"#{data.get('name') or channel}"
    if data.get("is_archived"):
        return Check(label, FAIL, f"{name} is archived")
    if not data.get("is_member"):
        if data.get("is_private"):
            return Check(label, FAIL, f"{name} is private and the app is not in it: /invite it")
        return Check(label, WARN, f"{name}: the app is not a member (posts need chat:write.public)")
    return Check(label, OK, f"{name}, the app is a member")


def _scopes(headers: Any) -> frozenset[str] | None:
    raw = None
    for key, value in dict(headers or {}).items():
        if str(key).lower() == "x-oauth-scopes":
            raw = value[0] if isinstance(value, list) else value
    if raw is None:
        return None
    return frozenset(p.strip() for p in str(raw).split(",") if p.strip())


def _error(e: SlackApiError) -> str:
    data = e.response.data if isinstance(e.response.data, dict) else {}
    return str(data.get("error") or e.response.status_code)


def _tls(s: Settings) -> Iterator[Check]:
    cert, key = getattr(s, "smtp_tls_cert", None), getattr(s, "smtp_tls_key", None)
    if not cert:
        return
    try:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(cert), str(key) if key else None)
    except (OSError, ssl.SSLError) as e:
        yield Check("smtp tls", FAIL, f"LEADBOT_SMTP_TLS_CERT/KEY cannot be used: {e}")
        return
    yield Check("smtp tls", OK, f"{Path(str(cert)).name}: STARTTLS offered")


def _ports(s: Settings) -> Iterator[Check]:
    wanted = [
        ("smtp port", "LEADBOT_SMTP_PORT", s.smtp_port),
        ("http port", "LEADBOT_HTTP_PORT", s.http_port),
    ]
    lmtp = getattr(s, "lmtp_port", None)
    if lmtp:
        wanted.append(("lmtp port", "LEADBOT_LMTP_PORT", int(lmtp)))
    for label, variable, port in wanted:
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.bind((s.host, port))
        except OSError as e:
            yield Check(
                label,
                FAIL,
                f"{s.host}:{port} cannot be taken ({e.strerror}): is serve already running?"
                f" else set {variable}",
            )
        else:
            yield Check(label, OK, f"{s.host}:{port} is free")
