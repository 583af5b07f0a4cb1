"""POST /events, GET /t.js and GET /r/{token}: first-party tracking and tracked links.

The edge checks early and cheaply (content type, size, write key, origin, rate, batch size); the
events are then read, filtered (robots, consent) and recorded on a thread of their own, the
requests of the moment together in one transaction (ingest.commit.Batcher, record_many), and
the answer comes after the commit. A tracked link always redirects a person who
clicks a valid one, even when the store is down (the click is then not recorded); a forged or
expired one never goes where it says.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ingest.commit import Batcher
from ingest.forms.limits import retry_after
from ingest.http.errors import error_response
from ingest.http.limits import Limits, SharedTake
from ingest.pipeline import Pipeline
from ingest.tracking import links
from ingest.tracking.bots import is_bot
from ingest.tracking.events import Batch, TrackedEvent, events_of, parse_json, read_batch
from ingest.tracking.record import EventBatch, Recorded, record_events, record_many
from ingest.tracking.script import render_script
from ingest.tracking.secret import ServerSecret
from ingest.tracking.sites import Site, TrackingConfig
from storage.errors import LeadBotError, Refused, StoreUnavailable

log = logging.getLogger("leadbot.tracking")

MAX_WAITING = 1024  # requests waiting to be recorded before new ones are refused (503)
CLICK_WINDOW_S = 600  # clicks on one link within 10 minutes are one (mail scanners, double clicks)
_INVALID_LINK = (
    '<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>Link not valid</title>'
    "</head><body><main><h1>This link is not valid</h1><p>It may have expired. Please use the "
    "latest email you received, or visit our website.</p></main></body></html>\n"
)


class TrackingEndpoint:
    """The tracking routes of `config`, recording through `pipeline`'s store and scorer."""

    def __init__(
        self, pipeline: Pipeline, config: TrackingConfig, secret: ServerSecret, limits: Limits
    ) -> None:
        self.pipeline = pipeline
        self.config = config
        self.secret = secret
        self.limits = limits
        self.recorder: Batcher[_Posted, tuple[Recorded, dict[str, int]]] = Batcher(
            self._record_many,
            name="events",
            max_batch=64,
            max_waiting=MAX_WAITING,
            # One batch at a time on both backends: the work is Python (reading, scoring) that
            # a second thread could only run under the same GIL, and two batches of one site's
            # requests queue on its shared rate-limit row anyway; the next batch is simply
            # larger (bench/intake.py: 0.28-0.33 of a bare endpoint with one, 0.22-0.24 with two).
            threads=1,
        )
        self.script = render_script(consent_required=config.consent_required)

    # --- POST /events ---------------------------------------------------------------------

    async def events(self, request: Request) -> Response:
        cors: dict[str, str] = {}
        try:
            if not self.config.sites:
                raise Refused(404, "tracking is not configured (LEADBOT_TRACKING_KEYS)")
            media = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if media != "application/json":  # only script can send it from a page (CORS)
                raise Refused(415, "content type must be application/json")
            body = await self._body(request)
            payload = parse_json(body)
            key = payload.get("key") or request.headers.get("x-leadbot-key") or ""
            site = self.config.site(key) if isinstance(key, str) else None
            if site is None:
                raise Refused(401, "missing or unknown write key")
            cors = self._cors(request, site)
            # This process's bucket first; the shared one in the transaction of the events.
            wait, shared = self.limits.take_here(
                f"events:{site.name}",
                self._client(request),
                rate_per_minute=self.config.rate_per_minute,
                burst=self.config.burst,
            )
            if wait > 0:
                raise _too_many(wait)
            events = events_of(payload)
            if len(events) > self.config.max_events:
                raise Refused(413, f"more than {self.config.max_events} events in one batch")
            agent = request.headers.get("user-agent")
            if is_bot(agent):  # nothing to record, but the limit holds for robots too
                await self._shared_limit(shared)
                done, dropped = Recorded(), {"bot": len(events)}
            else:  # with the other requests of the moment, in one transaction
                done, dropped = await self.recorder.submit(_Posted(payload, site, shared))
        except LeadBotError as e:
            answer = error_response(e, cors)
            if answer.status_code >= 500 or answer.status_code == 429:
                log.warning("events: %s %s", answer.status_code, e)
            return answer
        body_out: dict[str, Any] = {"status": "accepted", **done.answer(), "dropped": dropped}
        return JSONResponse(body_out, headers=cors)

    def _record_many(
        self, posted: list[_Posted]
    ) -> list[tuple[Recorded, dict[str, int]] | BaseException]:
        """Read each request's events, then record them all in one transaction (on the
        recorder's thread); one answer, or one error, per request."""
        now = self.pipeline.clock()
        read: list[Batch | BaseException] = []
        for p in posted:
            try:
                read.append(
                    read_batch(
                        p.payload,
                        site=p.site.name,
                        now=now,
                        consent_required=self.config.consent_required,
                        read_token=lambda token: links.read_identity(
                            self.secret.key(), token, now=now
                        ),
                    )
                )
            except LeadBotError as e:
                read.append(e)
        todo = [
            (i, b)
            for i, b in enumerate(read)
            if isinstance(b, Batch) and (b.events or b.identities)
        ]
        done: dict[int, Recorded] = {}
        takes = [(i, p.shared) for i, p in enumerate(posted) if p.shared is not None]
        if todo or takes:
            with self.pipeline.store.session() as session:
                # The shared rate limit in the same transaction: one commit for both.
                waits = self.limits.take_in(session, [t for _, t in takes])
                for (i, _), wait in zip(takes, waits, strict=True):
                    if wait > 0:
                        read[i] = _too_many(wait)
                todo = [(i, b) for i, b in todo if not isinstance(read[i], BaseException)]
                batches = [EventBatch(b.events, b.identities, posted[i].site.name) for i, b in todo]
                results = (
                    record_many(session, batches, scorer=self.pipeline.scorer, now=now)
                    if batches
                    else []
                )
            done = {i: r for (i, _), r in zip(todo, results, strict=True)}
            announced = sum(r.announced for r in results)
            if announced:
                log.info("tracking events announced %d lead(s)", announced)
        return [
            b if isinstance(b, BaseException) else (done.get(i, Recorded()), dict(b.dropped))
            for i, b in enumerate(read)
        ]

    async def _body(self, request: Request) -> bytes:
        limit = self.config.max_body_bytes
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise Refused(413, f"body larger than {limit} bytes")
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():  # a lying or absent Content-Length is capped here
            size += len(chunk)
            if size > limit:
                raise Refused(413, f"body larger than {limit} bytes")
            chunks.append(chunk)
        body = b"".join(chunks)
        if not body.strip():
            raise Refused(400, "empty body")
        return body

    def _cors(self, request: Request, site: Site) -> dict[str, str]:
        origin = request.headers.get("origin")
        if not origin:
            # Every browser sends Origin with a script's cross-origin POST: none, for a site that
            # names its origins, is not one of its pages.
            if "*" not in site.allowed_origins:
                raise Refused(403, "origin not allowed for this site")
            return {}
        if not site.origin_allowed(origin):
            raise Refused(403, "origin not allowed for this site")
        return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}

    async def _shared_limit(self, shared: SharedTake | None) -> None:
        """Raises 429 when the database's bucket says so (ingest.http.limits)."""
        if shared is None:
            return
        wait = await self.limits.take_shared(shared)
        if wait > 0:
            raise _too_many(wait)

    async def _wait(self, bucket: str, client: str) -> float:
        """Seconds `client` must wait before its next request to `bucket` (a site's events, or
        clicks), shared by the processes on the database (ingest.http.limits)."""
        return await self.limits.take(
            bucket, client, rate_per_minute=self.config.rate_per_minute, burst=self.config.burst
        )

    @staticmethod
    def _client(request: Request) -> str:
        return request.client.host if request.client else "unknown"

    async def preflight(self, request: Request) -> Response:
        origin = request.headers.get("origin")
        if not origin or not self.config.origin_allowed(origin):
            return error_response(Refused(403, "origin not allowed"))
        headers = {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Methods": "POST, OPTIONS",
            "Access-Control-Allow-Headers": "Content-Type, X-LeadBot-Key",
            "Access-Control-Max-Age": "600",
            "Vary": "Origin",
        }
        return Response(status_code=204, headers=headers)

    # --- GET /t.js ------------------------------------------------------------------------

    async def script_file(self, request: Request) -> Response:
        headers = {
            "Cache-Control": "public, max-age=3600",
            "X-Content-Type-Options": "nosniff",
            # Loaded by other sites' pages (and with `crossorigin` for Subresource Integrity).
            "Cross-Origin-Resource-Policy": "cross-origin",
            "Access-Control-Allow-Origin": "*",
        }
        return Response(self.script, media_type="text/javascript; charset=utf-8", headers=headers)

    # --- GET /r/{token} -------------------------------------------------------------------

    async def redirect(self, request: Request) -> Response:
        token = request.path_params["token"]
        now = self.pipeline.clock()
        try:
            key = await asyncio.to_thread(self.secret.key)
        except StoreUnavailable as e:  # no key to check the token with: nowhere safe to go
            return error_response(e)
        try:
            link = links.read_link(key, token)
        except links.BadToken:
            return self._invalid_link(request)
        if link.expired(now):
            return self._invalid_link(request)
        target = link.url
        if self.config.is_site_page(target):
            # The landing page's script hands this to /events: the visitor joins the lead.
            target = with_param(
                target, links.IDENTITY_PARAM, links.make_identity(key, link.lead_id, now=now)
            )
        person = request.method == "GET" and not is_bot(request.headers.get("user-agent"))
        if person and await self._click_counts(f"{self._client(request)} {link.signature}"):
            await asyncio.to_thread(self._click, link)
        headers = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
        return RedirectResponse(target, status_code=302, headers=headers)

    async def _click_counts(self, client: str) -> bool:
        try:
            return await self._wait("clicks", client) <= 0
        except LeadBotError as e:  # the person still gets where they were going
            log.warning("click not counted: %s", e)
            return False

    def _click(self, link: links.Link) -> None:
        now = self.pipeline.clock()
        event = click_event(link, now=now)
        try:
            with self.pipeline.store.session() as session:
                record_events(session, [event], scorer=self.pipeline.scorer, now=now)
        except LeadBotError as e:  # the person still gets where they were going
            log.warning("click on a link to lead %s not recorded: %s", link.lead_id, e)

    def _invalid_link(self, request: Request) -> Response:
        headers = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
        if self.config.fallback_url:
            return RedirectResponse(self.config.fallback_url, status_code=302, headers=headers)
        if "text/html" in request.headers.get("accept", ""):
            return HTMLResponse(_INVALID_LINK, status_code=403, headers=headers)
        return error_response(Refused(403, "this link is not valid or has expired"), headers)


def click_event(link: links.Link, *, now: datetime) -> TrackedEvent:
    """A click on a tracked link, as the lead's `email_click`."""
    bucket = int(now.timestamp()) // CLICK_WINDOW_S
    fields = {"page_url": link.url, "link": link.signature}
    if link.campaign:
        fields.update(campaign=link.campaign, utm_campaign=link.campaign)
    host = urlsplit(link.url).hostname or ""
    return TrackedEvent(
        kind="email_click",
        occurred_at=now,
        dedup_key=f"click:{link.signature}:{bucket}",
        source=f"link:{link.campaign or host}"[:100],
        detail=f"Clicked {link.url}"[:500],
        text=" ".join(filter(None, [link.campaign, links_words(link.url)])),
        fields=fields,
        lead_id=link.lead_id,
    )


def links_words(url: str) -> str:
    parts = urlsplit(url)
    return " ".join(p for p in parts.path.replace("-", " ").split("/") if p)[:300]


def with_param(url: str, name: str, value: str) -> str:
    """`url` with one more query parameter (an existing one of that name replaced)."""
    parts = urlsplit(url)
    kept = [p for p in parts.query.split("&") if p and p.split("=", 1)[0] != name]
    query = "&".join([*kept, urlencode({name: value})])
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def _too_many(wait: float) -> Refused:
    return Refused(429, "too many events, retry later", headers={"Retry-After": retry_after(wait)})


class _Posted:
    """A request's payload, to be read and recorded with the others of the moment, and the take
    of the shared rate limit still to be made (in the same transaction)."""

    __slots__ = ("payload", "shared", "site")

    def __init__(self, payload: dict[str, Any], site: Site, shared: SharedTake | None) -> None:
        self.payload, self.site, self.shared = payload, site, shared


def tracking_routes(
    pipeline: Pipeline,
    config: TrackingConfig,
    secret: ServerSecret,
    *,
    limits: Limits | None = None,
) -> list[BaseRoute]:
    """POST /events (and its CORS preflight), GET /t.js, GET /r/{token}; the rate limits kept by
    `limits` (shared by every serve process on the database)."""
    endpoint = TrackingEndpoint(pipeline, config, secret, limits or Limits(None))
    return [
        Route("/events", endpoint.events, methods=["POST"]),
        Route("/events", endpoint.preflight, methods=["OPTIONS"]),
        Route("/t.js", endpoint.script_file, methods=["GET"]),
        Route("/r/{token}", endpoint.redirect, methods=["GET", "HEAD"], name="tracked_link"),
    ]
