"""Which channel an announcement goes to: routing rules over product, country, domain and source.

`LEADBOT_SLACK_ROUTES` is a comma-separated list of `field:value=CHANNEL`, tried in order; the
first match wins and `LEADBOT_HOT_CHANNEL` takes the rest. `|` separates alternatives:
`product:analytics=C01,country:DE|AT|CH=C02,domain:bigco.com=C03`. `source` (the first way in)
and `latest_source` match a whole source or its channel: `source:webhook=C04` takes
`webhook:typeform`, `source:form:pricing=C05` only that form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from storage.errors import ConfigError
from storage.models import Lead

FIELDS = ("product", "country", "domain", "source", "latest_source")
_CHANNEL = re.compile(r"^[CGD][A-Z0-9]{1,30}$")


@dataclass(frozen=True)
class Route:
    field: str
    values: frozenset[str]
    channel: str

    def matches(self, lead: Lead) -> bool:
        value = (getattr(lead, self.field) or "").strip().lower()
        if not value:
            return False
        if self.field == "domain":  # a rule for bigco.com also takes eu.bigco.com
            return any(value == v or value.endswith("." + v) for v in self.values)
        if self.field in ("source", "latest_source"):  # "form" takes "form:contact"
            return any(value == v or value.startswith(v + ":") for v in self.values)
        return value in self.values


def parse_routes(spec: str) -> list[Route]:
    """Rules from the setting; a malformed one is refused at start-up with what is wrong."""
    routes = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        match = re.fullmatch(r"\s*(\w+)\s*:\s*([^=]+?)\s*=\s*(\S+)\s*", part)
        if not match:
            raise ConfigError(f"LEADBOT_SLACK_ROUTES: {part!r} is not field:value=CHANNEL")
        field, values, channel = match.groups()
        if field not in FIELDS:
            raise ConfigError(f"LEADBOT_SLACK_ROUTES: {field!r} is not one of {', '.join(FIELDS)}")
        if not _CHANNEL.match(channel):
            raise ConfigError(f"LEADBOT_SLACK_ROUTES: {channel!r} is not a channel ID (C…)")
        wanted = frozenset(v.strip().lower() for v in values.split("|") if v.strip())
        routes.append(Route(field=field, values=wanted, channel=channel))
    return routes


def pick_channel(lead: Lead, routes: list[Route], *, default: str | None) -> str | None:
    for route in routes:
        if route.matches(lead):
            return route.channel
    return default
