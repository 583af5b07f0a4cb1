"""POST /inbound/{provider}: SendGrid, Mailgun and Postmark inbound-email webhooks.

Credentials are checked before anything is stored, the raw message is committed through
`Pipeline.accept` (kind "email", channel "inbound:<provider>") before the 200, and parsing runs
after the answer. Providers retry on any non-2xx, so a store outage answers 503, never 200.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import logging
import time
from collections.abc import Callable
from typing import Protocol

from pydantic import SecretStr
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ingest.bodies import FormPost, load_json, parse_form
from ingest.http.errors import error_response
from ingest.http.offload import ReadPool
from ingest.http.replay import MAILGUN_MAX_AGE_S, TokenMemory
from ingest.inbound_payloads import InboundMail, mailgun_mail, postmark_mail, sendgrid_mail
from ingest.pipeline import Pipeline
from storage.errors import InputRejected, LeadBotError, PayloadError, Refused

# After the answer, a new input is parsed: (raw id, size) onto serve's batch queue when given.
Enqueue = Callable[[int, int], None]

log = logging.getLogger("leadbot.inbound")

PROVIDERS = ("sendgrid", "mailgun", "postmark")
KEY_HEADER = "x-leadbot-key"
FORM_OVERHEAD_BYTES = 1024 * 1024  # field names, boundaries and JSON escaping around the message
MAX_FORM_FIELDS = 500


class InboundSettings(Protocol):
    """What the inbound routes read of the settings (bot.config.Settings has them all)."""

    @property
    def sendgrid_secret(self) -> SecretStr | None: ...
    @property
    def postmark_secret(self) -> SecretStr | None: ...
    @property
    def mailgun_signing_key(self) -> SecretStr | None: ...
    @property
    def max_message_bytes(self) -> int: ...


def inbound_routes(
    pipeline: Pipeline,
    settings: InboundSettings,
    *,
    tokens: TokenMemory,
    enqueue: Enqueue | None = None,
    pool: ReadPool | None = None,
) -> list[BaseRoute]:
    """POST /inbound/{provider}: each message committed through `pipeline` before the 200, then
    parsed by `enqueue` (serve's worker processes) or, without it, on `pool` after the answer.
    The payload itself is decoded on `pool` (the routes' own threads, never the shared ones)."""
    receiver = _Receiver(pipeline, settings, tokens, enqueue, pool or ReadPool())

    async def inbound(request: Request) -> Response:
        provider = str(request.path_params["provider"]).lower()
        try:
            return await receiver.receive(provider, request)
        except LeadBotError as e:  # Refused, or StoreUnavailable from the commit (503)
            answer = error_response(e)
            if answer.status_code >= 500:
                log.warning("inbound %s: %s %s", provider, answer.status_code, e)
            else:
                log.info("inbound %s refused: %s %s", provider, answer.status_code, e)
            return answer

    # Mailgun posts raw MIME only to URLs that end in "mime": /inbound/mailgun/mime is the same route.
    return [
        Route("/inbound/{provider}", inbound, methods=["POST"]),
        Route("/inbound/{provider}/mime", inbound, methods=["POST"]),
    ]


class _Receiver:
    def __init__(
        self,
        pipeline: Pipeline,
        settings: InboundSettings,
        tokens: TokenMemory,
        enqueue: Enqueue | None,
        pool: ReadPool,
    ) -> None:
        self.pipeline, self.settings, self.tokens, self.enqueue = (
            pipeline,
            settings,
            tokens,
            enqueue,
        )
        self.pool = pool

    async def receive(self, provider: str, request: Request) -> Response:
        settings, tokens = self.settings, self.tokens
        if provider not in PROVIDERS:
            raise Refused(
                404, f"unknown inbound provider {provider!r}; use one of {', '.join(PROVIDERS)}"
            )
        if provider == "sendgrid":
            _check_shared_secret(request, settings.sendgrid_secret, "LEADBOT_SENDGRID_SECRET")
        elif provider == "postmark":
            _check_shared_secret(request, settings.postmark_secret, "LEADBOT_POSTMARK_SECRET")
        elif settings.mailgun_signing_key is None:
            raise Refused(401, "Mailgun inbound is not configured: set LEADBOT_MAILGUN_SIGNING_KEY")
        body = await _read_body(request, limit=settings.max_message_bytes + FORM_OVERHEAD_BYTES)
        content_type = request.headers.get("content-type", "")
        try:
            raw_id, new, mail = await self._accept_body(provider, request, body, content_type)
        except _Claimed as claimed:  # a 503 (or any refusal after the claim) stays retryable
            await tokens.release(claimed.token)
            assert claimed.__cause__ is not None
            raise claimed.__cause__ from None
        log.info(
            "inbound %s: raw input %s %s (%s)",
            provider,
            raw_id,
            "stored" if new else "duplicate",
            mail.mode,
        )
        task = self.schedule(raw_id, len(mail.raw)) if new else None
        return JSONResponse(
            {"status": "accepted" if new else "duplicate", "raw_id": raw_id, "mode": mail.mode},
            background=task,
        )

    async def _accept_body(
        self, provider: str, request: Request, body: bytes, content_type: str
    ) -> tuple[int, bool, InboundMail]:
        """Decode, check and commit; raises _Claimed (from the error) once a token is taken."""
        settings, tokens = self.settings, self.tokens
        limit = settings.max_message_bytes
        token: str | None = None
        try:
            if provider == "postmark":
                mail = await self.pool.run(_postmark, body, content_type)
            else:
                post = await self.pool.run(
                    parse_form,
                    body,
                    content_type,
                    max_fields=MAX_FORM_FIELDS,
                    max_field_bytes=limit,
                )
                if provider == "mailgun":
                    key = settings.mailgun_signing_key
                    assert key is not None
                    token = _check_mailgun_signature(post, key, now=time.time())
                    # Taken before the commit, atomically on the database: of two processes
                    # given the same request, one goes on; given back if it is not committed.
                    if not await tokens.claim(token, now=time.time()):
                        token = None  # someone else's claim: not ours to give back
                        raise Refused(403, "Mailgun token already used: replayed request")
                mail = await self.pool.run(
                    sendgrid_mail if provider == "sendgrid" else mailgun_mail, post
                )
            if len(mail.raw) > limit:
                raise Refused(
                    413, f"message of {len(mail.raw)} bytes is over the {limit}-byte limit"
                )
            raw_id, new = await self.accept(provider, mail, request)
        except PayloadError as e:
            error: BaseException = Refused(400, str(e))
            if token is None:
                raise error from None
            raise _Claimed(token) from error
        except BaseException as e:
            if token is None:
                raise
            raise _Claimed(token) from e
        return raw_id, new, mail

    def schedule(self, raw_id: int, size: int) -> BackgroundTask | None:
        """Parse after answering: on serve's batch queue (worker processes), else in a thread."""
        if self.enqueue is not None:  # the same queue as SMTP: a hostile message never stalls us
            self.enqueue(raw_id, size)
            return None
        return BackgroundTask(self.process_later, raw_id)

    async def process_later(self, raw_id: int) -> None:
        try:
            await self.pool.run(self.pipeline.process_safely, raw_id)
        except Refused:  # readers busy: it stays pending, for the sweep
            log.warning("raw input %s left pending: every reader is busy", raw_id)

    async def accept(self, provider: str, mail: InboundMail, request: Request) -> tuple[int, bool]:
        envelope = {"provider": provider, "mode": mail.mode, **mail.envelope}
        if request.client is not None:
            envelope["peer"] = request.client.host
        accept: Callable[[], tuple[int, bool]] = lambda: self.pipeline.accept(  # noqa: E731
            mail.raw,
            kind="email",
            channel=f"inbound:{provider}",
            content_type="message/rfc822",
            envelope=envelope,
        )
        try:
            return await asyncio.to_thread(accept)
        except InputRejected as e:  # StoreUnavailable goes through: error_response says 503
            raise Refused(400, f"not an email message: {e}") from None


async def _read_body(request: Request, *, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise Refused(413, f"request of {declared} bytes is over the {limit}-byte limit")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise Refused(413, f"request is over the {limit}-byte limit")
    return bytes(body)


def _postmark(body: bytes, content_type: str) -> InboundMail:
    if "json" not in content_type.lower():
        raise PayloadError("Postmark posts application/json")
    return postmark_mail(load_json(body))


def _check_shared_secret(request: Request, secret: SecretStr | None, setting: str) -> None:
    """SendGrid and Postmark do not sign: a secret in the URL (`?key=`, basic auth) or a header."""
    challenge = {"WWW-Authenticate": 'Basic realm="LeadBot inbound"'}
    if secret is None or not secret.get_secret_value():
        raise Refused(401, f"inbound webhook is not configured: set {setting}", headers=challenge)
    expected = secret.get_secret_value().encode("utf-8")
    offered = [
        request.query_params.get("key"),
        request.headers.get(KEY_HEADER),
        _basic_password(request),
    ]
    if not any(o is not None and hmac.compare_digest(o.encode("utf-8"), expected) for o in offered):
        raise Refused(401, "missing or wrong webhook credentials", headers=challenge)


def _basic_password(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    return decoded.partition(":")[2]


class _Claimed(Exception):
    """What went wrong after a replay token was taken (its cause): the token is given back."""

    def __init__(self, token: str) -> None:
        super().__init__("claimed")
        self.token = token


def _check_mailgun_signature(post: FormPost, key: SecretStr, *, now: float) -> str:
    """HMAC-SHA256(signing key, timestamp + token) in hex; fresh timestamp, token never seen."""
    timestamp, token, signature = (post.text(k) or "" for k in ("timestamp", "token", "signature"))
    if not (timestamp and token and signature):
        raise Refused(401, "Mailgun post without timestamp, token and signature")
    digest = hmac.new(
        key.get_secret_value().encode("utf-8"), (timestamp + token).encode("utf-8"), hashlib.sha256
    ).hexdigest()
    if not hmac.compare_digest(digest, signature.strip().lower()):
        raise Refused(401, "Mailgun signature does not match the signing key")
    try:
        age = abs(now - float(timestamp))
    except ValueError:
        raise Refused(401, "Mailgun timestamp is not a number") from None
    if age > MAILGUN_MAX_AGE_S:
        raise Refused(403, f"Mailgun timestamp is {int(age)} s away from now: stale or replayed")
    return token
