"""Signed tokens: tracked links (`/r/{token}`) and the short-lived identity a link hands the site.

A link token carries the lead, the target address, the campaign and an expiry, signed with
HMAC-SHA256 under the server's secret: `<payload>.<signature>`, both base64url. Nothing in it is
secret (it is the recipient's own link), but nothing in it can be changed: a forged or altered
token never redirects anywhere it names, so `/r/` is never an open redirect.

An identity token (`lb_t` on the landing page's address) tells the site's script which lead
followed the link, so the visitor's anonymous visits join that lead; it lives a day.
Pure: the key is given, the clock is given.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

MAX_TOKEN = 4096
IDENTITY_TTL = timedelta(days=1)
IDENTITY_PARAM = "lb_t"  # the landing page's query parameter the script reads (and removes)
_SIG_BYTES = 16  # 128 bits of HMAC-SHA256: enough against forgery, short in a URL


class BadToken(ValueError):
    """Not a token we signed (forged, altered, truncated)."""


@dataclass(frozen=True)
class Link:
    lead_id: int
    url: str
    campaign: str | None
    expires_at: datetime
    signature: str  # identifies the link (clicks on it are deduplicated by it)

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at


def check_target(url: str) -> str:
    """A target a link may redirect to: an absolute http(s) address without credentials or
    control characters. Raises ValueError saying what is wrong."""
    url = url.strip()
    if not url or len(url) > 2000:
        raise ValueError("the target must be an address of at most 2000 characters")
    if any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in url):
        raise ValueError("the target must not contain spaces or control characters")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("the target must be an absolute http:// or https:// address")
    if "@" in parts.netloc or "\\" in url:
        raise ValueError("the target must not carry credentials or backslashes")
    return url


def make_link(
    key: bytes, *, lead_id: int, url: str, campaign: str | None, expires_at: datetime
) -> str:
    body = {"l": lead_id, "u": check_target(url), "x": int(expires_at.timestamp())}
    if campaign:
        body["c"] = campaign
    payload = b64(json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode())
    return f"{payload}.{sign(key, b'link:', payload)}"


def read_link(key: bytes, token: str) -> Link:
    """The link a token carries; BadToken unless we signed it exactly so (expiry not checked:
    see Link.expired)."""
    if not token or len(token) > MAX_TOKEN or token.count(".") != 1:
        raise BadToken("not a link token")
    payload, signature = token.split(".")
    if not same(signature, sign(key, b"link:", payload)):
        raise BadToken("bad signature")
    try:
        body = json.loads(unb64(payload))
        lead_id, url, expiry = body["l"], body["u"], body["x"]
        campaign = body.get("c")
        if not isinstance(lead_id, int) or not isinstance(expiry, int):
            raise BadToken("malformed token")
        return Link(
            lead_id=lead_id,
            url=check_target(str(url)),
            campaign=str(campaign)[:100] if campaign else None,
            expires_at=datetime.fromtimestamp(expiry, tz=UTC),
            signature=signature,
        )
    except (ValueError, KeyError, TypeError, OverflowError, OSError) as e:
        raise BadToken(f"malformed token: {e}") from None


def make_identity(key: bytes, lead_id: int, *, now: datetime) -> str:
    payload = f"{lead_id}.{int((now + IDENTITY_TTL).timestamp())}"
    return f"{payload}.{sign(key, b'ident:', payload)}"


def read_identity(key: bytes, token: str, *, now: datetime) -> int | None:
    """The lead an identity token names; None when forged, malformed or expired."""
    parts = token.split(".") if len(token) < 200 else []
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
        return None
    payload = f"{parts[0]}.{parts[1]}"
    if not same(parts[2], sign(key, b"ident:", payload)):
        return None
    if int(parts[1]) <= now.timestamp():
        return None
    return int(parts[0])


def sign(key: bytes, purpose: bytes, payload: str) -> str:
    """The signature of one kind of token (tracked links `link:`, the lead pages `page:`): the
    purpose keeps one kind from ever passing for another."""
    digest = hmac.new(key, purpose + payload.encode(), hashlib.sha256).digest()
    return b64(digest[:_SIG_BYTES])


def same(given: str, expected: str) -> bool:
    # compare_digest refuses non-ASCII text; a forged token may hold any character.
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode())


def b64(data: bytes) -> str:
    """base64url without padding, as in a URL."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    """The bytes of base64url text (padding optional); ValueError when it is not."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
