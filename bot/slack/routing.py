"""Which channel an announcement goes to: routing rules over product, country, domain and source.

`LEADBOT_SLACK_ROUTES` is a comma-separated list of `field:value=CHANNEL`, tried in order; the
first match wins and `LEADBOT_HOT_CHANNEL` takes the rest. `|` separates alternatives:
`product:analytics=C01,country:DE|AT|CH=C02,domain:bigco.com=C03`. `source` (the first way in)
and `latest_source` match a whole source or its channel: `source:webhook=C04` takes
`webhook:typeform`, `source:form:pricing=C05` only that form. `score:PRODUCT>=N` matches a lead
whose score for that product (lead.product_scores: every product in play, not only the best) is at
least N: `score:integrations>=60=C06` sends a lead that fits integrations well there even when
analytics is its best product; `score:analytics|integrations>=70` takes either.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from storage.errors import ConfigError
from storage.models import Lead

FIELDS = ("product", "country", "domain", "source", "latest_source", "score")
# `score:NAME[|NAME…]>=N=CHANNEL`, read before the general `field:value=CHANNEL` form.
_SCORE = re.compile(
    r"\s*+score\s*+:\s*+([^=>]*[^=>\s])\s*+>=\s*+(-?\d{1,4}(?:\.\d+)?)\s*+=\s*+(\S+)\s*"
)
_FIELD = re.compile(r"\s*+(\w++)\s*+:\s*+([^=]*[^=\s])\s*+=\s*+(\S+)\s*")  # possessive: linear
_CHANNEL = re.compile(r"^[CGD][A-Z0-9]{1,30}$")


@dataclass(frozen=True)
class Route:
    field: str
    values: frozenset[str]
    channel: str
    minimum: float | None = None  # `score` routes: the product score to reach

    def matches(self, lead: Lead) -> bool:
        if self.field == "score":
            return self._scores(lead)
        value = (getattr(lead, self.field) or "").strip().lower()
        if not value:
            return False
        if self.field == "domain":  # a rule for bigco.com also takes eu.bigco.com
            return any(value == v or value.endswith("." + v) for v in self.values)
        if self.field in ("source", "latest_source"):  # "form" takes "form:contact"
            return any(value == v or value.startswith(v + ":") for v in self.values)
        return value in self.values

    def _scores(self, lead: Lead) -> bool:
        held = lead.product_scores if isinstance(lead.product_scores, dict) else {}
        assert self.minimum is not None
        # Rounded as the card shows it: a lead shown at 70 matches `>=70`.
        return any(
            str(name).lower() in self.values
            and isinstance(value, int | float)
            and round(value) >= self.minimum
            for name, value in held.items()
        )


def parse_routes(spec: str) -> list[Route]:
    """Rules from the setting; a malformed one is refused at start-up with what is wrong."""
    routes = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        if part.startswith("score") and (scored := _SCORE.fullmatch(part)):
            names, minimum, channel = scored.groups()
            routes.append(_route("score", names, _checked(channel), minimum=float(minimum)))
            continue
        match = _FIELD.fullmatch(part)
        if not match:
            raise ConfigError(f"LEADBOT_SLACK_ROUTES: {part!r} is not field:value=CHANNEL")
        field, values, channel = match.groups()
        if field == "score":
            raise ConfigError(
                f"LEADBOT_SLACK_ROUTES: {part!r}: a score route is score:PRODUCT>=N=CHANNEL"
            )
        if field not in FIELDS:
            raise ConfigError(f"LEADBOT_SLACK_ROUTES: {field!r} is not one of {', '.join(FIELDS)}")
        routes.append(_route(field, values, _checked(channel)))
    return routes


def _checked(channel: str) -> str:
    if not _CHANNEL.match(channel):
        raise ConfigError(f"LEADBOT_SLACK_ROUTES: {channel!r} is not a channel ID (C…)")
    return channel


def _route(field: str, values: str, channel: str, *, minimum: float | None = None) -> Route:
    wanted = frozenset(v.strip().lower() for v in values.split("|") if v.strip())
    return Route(field=field, values=wanted, channel=channel, minimum=minimum)


def pick_channel(lead: Lead, routes: list[Route], *, default: str | None) -> str | None:
    for route in routes:
        if route.matches(lead):
            return route.channel
    return default
