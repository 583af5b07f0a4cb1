"""Signature checks of the form providers' webhooks and of our own direct-post scheme.

Each verifier compares in constant time, returns False (never raises) on hostile input, and
rejects signed timestamps more than MAX_SKEW_SECONDS away (replays).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping

MAX_SKEW_SECONDS = 300


def _hmac(secret: str, message: bytes) -> bytes:
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8", "replace"), b.encode("utf-8", "replace"))


def verify_typeform(body: bytes, header: str | None, secret: str) -> bool:
    """`Typeform-Signature: sha256=<base64 HMAC-SHA256 of the body>`."""
    expected = "sha256=" + base64.b64encode(_hmac(secret, body)).decode()
    return header is not None and _same(header.strip(), expected)


def verify_tally(body: bytes, header: str | None, secret: str) -> bool:
    """`Tally-Signature: <base64 HMAC-SHA256 of the body>`."""
    expected = base64.b64encode(_hmac(secret, body)).decode()
    return header is not None and _same(header.strip(), expected)


def verify_webflow(
    body: bytes, timestamp: str | None, signature: str | None, secret: str, *, now: float
) -> bool:
    """v2: `x-webflow-signature` = hex HMAC-SHA256 of `timestamp:body`, timestamp in ms."""
    if not timestamp or not signature or not timestamp.isdigit():
        return False
    if abs(now - int(timestamp) / 1000) > MAX_SKEW_SECONDS:
        return False
    expected = hmac.new(secret.encode(), timestamp.encode() + b":" + body, hashlib.sha256)
    return _same(signature.strip().lower(), expected.hexdigest())


def _b64url(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def verify_netlify(body: bytes, token: str | None, secret: str) -> bool:
    """`X-Webhook-Signature`: a JWS (HS256) with claims `iss: netlify` and the body's sha256."""
    if not token or token.count(".") != 2:
        return False
    head, claims, sig = token.strip().split(".")
    try:
        header = json.loads(_b64url(head))
        payload = json.loads(_b64url(claims))
        given = _b64url(sig)
    except (ValueError, binascii.Error):
        return False
    if (
        not isinstance(header, dict)
        or header.get("alg") != "HS256"
        or not isinstance(payload, dict)
    ):
        return False  # never let the token choose a weaker algorithm ("none")
    expected = _hmac(secret, f"{head}.{claims}".encode())
    if not hmac.compare_digest(given, expected):
        return False
    return payload.get("iss") == "netlify" and _same(
        str(payload.get("sha256", "")), hashlib.sha256(body).hexdigest()
    )


def verify_hubspot(
    body: bytes,
    *,
    method: str,
    uri: str,
    timestamp: str | None,
    signature: str | None,
    secret: str,
    now: float,
) -> bool:
    """v3: `X-HubSpot-Signature-v3` = base64 HMAC-SHA256 of method + URI + body + timestamp (ms)."""
    if not timestamp or not signature or not timestamp.isdigit():
        return False
    if abs(now - int(timestamp) / 1000) > MAX_SKEW_SECONDS:
        return False
    message = method.upper().encode() + uri.encode() + body + timestamp.encode()
    return _same(signature.strip(), base64.b64encode(_hmac(secret, message)).decode())


def verify_shared(body: bytes, headers: Mapping[str, str], secret: str) -> bool:
    """Direct posts: `X-LeadBot-Secret: <secret>` or `X-LeadBot-Signature: sha256=<hex>`."""
    given = headers.get("x-leadbot-secret")
    if given is not None:
        return _same(given.strip(), secret)
    signed = headers.get("x-leadbot-signature")
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return signed is not None and _same(signed.strip().lower(), expected)
