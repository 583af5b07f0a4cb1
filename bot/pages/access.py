"""Signed, expiring page links: who a link was issued to, what it opens, until when.

A token is `<payload>.<signature>`, both base64url; the payload names the person it was issued
to (a Slack user id, or `cli`), the scope (one lead's id, or `all`: the dashboard and every lead
page), and the expiry. The signature is HMAC-SHA256 under the server's secret (the key of the
tracked links, ingest.tracking.secret) with a purpose of its own, so a tracked link's token never
opens a page and a page token never redirects. Pure: the key and the clock are given.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from ingest.tracking.links import b64, same, sign, unb64

ALL = "all"
MAX_TOKEN = 512
PURPOSE = b"page:"
_PERSON = re.compile(r"^[A-Za-z0-9_.@:-]{1,64}$")


class BadPageLink(ValueError):
    """Not a page link we signed, or one that has expired: the page answers 403."""


@dataclass(frozen=True)
class Grant:
    """What a valid link lets its holder see."""

    person: str
    scope: int | str  # a lead id, or ALL
    expires_at: datetime

    def opens_lead(self, lead_id: int) -> bool:
        return self.scope == ALL or self.scope == lead_id

    @property
    def opens_dashboard(self) -> bool:
        return self.scope == ALL


def make_token(key: bytes, *, person: str, scope: int | str, expires_at: datetime) -> str:
    if not _PERSON.match(person):
        raise ValueError("a person is a Slack user id or a short name (letters, digits, _.@:-)")
    if scope != ALL and not (isinstance(scope, int) and scope > 0):
        raise ValueError("a scope is a lead id or 'all'")
    body = {"p": person, "s": scope, "x": int(expires_at.timestamp())}
    payload = b64(json.dumps(body, separators=(",", ":")).encode())
    return f"{payload}.{sign(key, PURPOSE, payload)}"


def read_token(key: bytes, token: str, *, now: datetime) -> Grant:
    """The grant a token carries; BadPageLink when forged, altered, malformed or expired."""
    if not token or len(token) > MAX_TOKEN or token.count(".") != 1:
        raise BadPageLink("not a page link")
    payload, signature = token.split(".")
    if not same(signature, sign(key, PURPOSE, payload)):
        raise BadPageLink("bad signature")
    try:
        body = json.loads(unb64(payload))
        person, scope, expiry = body["p"], body["s"], body["x"]
    except (ValueError, KeyError, TypeError) as e:
        raise BadPageLink(f"malformed: {e}") from None
    if not isinstance(person, str) or not isinstance(expiry, int) or isinstance(expiry, bool):
        raise BadPageLink("malformed")
    if scope != ALL and (not isinstance(scope, int) or isinstance(scope, bool) or scope <= 0):
        raise BadPageLink("malformed scope")
    try:
        expires_at = datetime.fromtimestamp(expiry, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise BadPageLink("malformed expiry") from None
    if now >= expires_at:
        raise BadPageLink("expired")
    return Grant(person=person, scope=scope, expires_at=expires_at)
