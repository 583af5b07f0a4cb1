"""POST /forms/{key} (direct posts) and POST /webhooks/{provider}/{key} (form providers).

The edge checks early and cheaply (origin, rate, size, secret or signature), commits the raw body
before any 2xx, then reads and scores it so the answer can carry the lead id (201), the field at
fault (422) or a 303 to the thank-you page. Both steps go in batches (ingest.commit): the raw
bodies of concurrent posts share one commit (the SMTP receiver's `GroupCommit` when serve runs
both), and what was committed is read, recorded and scored together by `Pipeline.process_batch`,
one transaction for the batch, on a thread of its own (never the shared ones).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from typing import Any

from sqlmodel import col, select
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ingest.bodies import normal_content_type
from ingest.commit import Batcher, GroupCommit, Limited
from ingest.forms import signatures
from ingest.forms.config import FORM_KEY, PROVIDERS, FormConfig, FormsConfig
from ingest.forms.embed import render_embed_page, render_thanks
from ingest.forms.limits import retry_after
from ingest.http.errors import error_response
from ingest.http.limits import Limits, SharedTake
from ingest.pipeline import INTERNAL_ERROR, Outcome, Pipeline
from storage.errors import LeadBotError, PayloadError, Refused, StoreUnavailable
from storage.models import RawInput, RawStatus
from storage.raw import RawDraft, claimed_raw, release_raws

log = logging.getLogger("leadbot.forms")

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data", "application/json")
KEPT_HEADERS = ("user-agent", "referer", "origin", "content-type", "accept-language")
_FIELD_AT_FAULT = re.compile(r"^(?:missing|invalid) ([a-z_]+)")
MAX_WAITING = 1024  # committed posts waiting to be read before new ones are refused (503)
Finished = tuple[Outcome | None, str | None]  # what became of it, or why it is left pending
Committed = tuple[int, bool, RawDraft]  # (raw id, new, what was committed)


class FormsEndpoint:
    """The forms of `forms`, received through `pipeline`, each with its own rate limiter."""

    def __init__(
        self, pipeline: Pipeline, forms: FormsConfig, committer: GroupCommit, limits: Limits
    ) -> None:
        self.pipeline = pipeline
        self.forms = forms
        self.committer = committer
        self.limits = limits
        self.reader: Batcher[Committed, Finished] = Batcher(
            self.finish_many,
            name="forms-read",
            max_batch=64,
            max_waiting=MAX_WAITING,
            # One batch at a time on both backends: reading and scoring are Python that a second
            # thread could only run under the same GIL; the next batch is simply larger
            # (bench/intake.py on PostgreSQL: 0.18-0.20 of a bare endpoint with one, 0.15-0.17
            # with two).
            threads=1,
        )

    # --- checks at the edge ---------------------------------------------------------------

    def form(self, key: str) -> FormConfig:
        form = self.forms.get(key)
        if form is None:
            # Echo only a well-formed key: a hostile path segment is never reflected back.
            shown = repr(key) if FORM_KEY.match(key) else "with that key"
            raise Refused(404, f"no form {shown}")
        return form

    def cors(self, request: Request, form: FormConfig) -> dict[str, str]:
        origin = request.headers.get("origin")
        if not origin:
            return {}
        own = f"{request.url.scheme}://{request.url.netloc}"
        if origin != own and not form.origin_allowed(origin):
            raise Refused(403, "origin not allowed for this form")
        return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}

    def limit(self, request: Request, form: FormConfig) -> SharedTake | None:
        """429 when this process's bucket says so; the database's take, still to be made (in
        the transaction that commits the post, or None: no shared limits)."""
        client = request.client.host if request.client else "unknown"
        wait, shared = self.limits.take_here(
            f"form:{form.key}", client, rate_per_minute=form.rate_per_minute, burst=form.burst
        )
        if wait > 0:
            raise _too_many(wait)
        return shared

    async def body(self, request: Request, form: FormConfig) -> bytes:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > form.max_body_bytes:
            raise Refused(413, f"body larger than {form.max_body_bytes} bytes")
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():  # a lying or absent Content-Length is capped here
            size += len(chunk)
            if size > form.max_body_bytes:
                raise Refused(413, f"body larger than {form.max_body_bytes} bytes")
            chunks.append(chunk)
        body = b"".join(chunks)
        if not body.strip():
            raise Refused(400, "empty body")
        return body

    def verify(self, request: Request, form: FormConfig, provider: str | None, body: bytes) -> None:
        secret = form.secret
        if not secret:
            return
        h = request.headers
        now = time.time()
        if provider == "typeform":
            ok = signatures.verify_typeform(body, h.get("typeform-signature"), secret)
        elif provider == "webflow":
            ok = signatures.verify_webflow(
                body, h.get("x-webflow-timestamp"), h.get("x-webflow-signature"), secret, now=now
            )
        elif provider == "netlify":
            ok = signatures.verify_netlify(body, h.get("x-webhook-signature"), secret)
        elif provider == "tally":
            ok = signatures.verify_tally(body, h.get("tally-signature"), secret)
        elif provider == "hubspot":
            ok = signatures.verify_hubspot(
                body,
                method=request.method,
                uri=str(request.url),
                timestamp=h.get("x-hubspot-request-timestamp"),
                signature=h.get("x-hubspot-signature-v3"),
                secret=secret,
                now=now,
            )
        else:  # direct posts and Jotform (which does not sign): our shared-secret scheme
            ok = signatures.verify_shared(body, h, secret)
        if not ok:
            raise Refused(401, "missing or invalid signature")

    # --- accept, then read ----------------------------------------------------------------

    def finish_many(self, accepted: list[Committed]) -> list[Finished]:
        """Process the new inputs of a batch together; for those seen before, report what became
        of them (run on the reader's thread).

        A new input was committed claimed by this process (RawDraft.claim): it is processed from
        memory, with no claim or read of its own. One seen before and still pending (a resend
        whose first copy failed to finish) is claimed and read as the sweep would."""
        pipeline = self.pipeline
        done: dict[int, Finished] = {}
        fresh = {raw_id: draft for raw_id, new, draft in accepted if new and draft.claim}
        old = sorted({raw_id for raw_id, _, _ in accepted if raw_id not in fresh})
        if old:
            with pipeline.store.reading() as session:
                for raw in session.scalars(select(RawInput).where(col(RawInput.id).in_(old))):
                    if raw.id is not None and raw.status != RawStatus.PENDING:
                        status = RawStatus(raw.status)
                        done[raw.id] = (Outcome(raw.id, status, raw.reason, raw.lead_id), None)
        todo = [raw_id for raw_id in old if raw_id not in done]
        for step in (
            lambda: pipeline.process_claimed(
                [claimed_raw(raw_id, draft) for raw_id, draft in sorted(fresh.items())]
            ),
            lambda: pipeline.process_batch(todo),
        ):
            try:
                done.update((o.raw_id, (o, None)) for o in step())
            except StoreUnavailable as e:  # committed already: processed at the next start
                left = [i for i in [*fresh, *todo] if i not in done]
                log.warning("%d form input(s) accepted but left pending: %s", len(left), e)
                done.update((raw_id, (None, str(e))) for raw_id in left)
                break
        return [done.get(raw_id, (None, "not processed yet")) for raw_id, _, _ in accepted]

    async def handle(self, request: Request, key: str, provider: str | None) -> Response:
        cors: dict[str, str] = {}
        try:
            form = self.form(key)
            if provider is not None and (
                provider not in PROVIDERS or form.provider not in (None, provider)
            ):
                shown = provider if provider in PROVIDERS else "such"
                raise Refused(404, f"form {form.key!r} takes no {shown} webhooks")
            if provider is None:
                cors = self.cors(request, form)
            media = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if provider is None and media not in FORM_TYPES:
                raise Refused(415, f"content type must be one of {', '.join(FORM_TYPES)}")
            shared = self.limit(request, form)
            try:  # stored with the body: media type, boundary and charset, within its column
                content_type = normal_content_type(request.headers.get("content-type"))
            except PayloadError as e:
                raise Refused(400, str(e)) from None
            body = await self.body(request, form)
            self.verify(request, form, provider, body)
            envelope: dict[str, Any] = {
                "form_key": form.key,
                "provider": provider,
                "remote": request.client.host if request.client else None,
                "headers": {
                    h: request.headers[h][:500] for h in KEPT_HEADERS if h in request.headers
                },
                "config": form.snapshot(),
            }
            channel = f"webhook:{provider}" if provider else f"form:{form.key}"
            draft = self.pipeline.draft(
                body,
                kind="form",
                channel=channel,
                content_type=content_type,
                envelope=envelope,
                claim=True,  # this process reads it next, from memory (finish_many)
            )
            try:  # with the other posts of the moment, and its rate limit in that transaction
                raw_id, new = await self.committer.commit(draft, take=shared)
            except Limited as e:
                raise _too_many(e.wait) from None
            except BaseException:
                if shared is not None:
                    shared.refund()
                raise
            # Reading is CPU spent on a stranger's input: on the reader's own thread, in batches.
            try:
                outcome, pending = await self.reader.submit((raw_id, new, draft))
            except (Refused, StoreUnavailable):  # not read here (busy, closing): the sweep's now
                if new:
                    with contextlib.suppress(StoreUnavailable):
                        await asyncio.to_thread(release_raws, self.pipeline.store, [raw_id])
                raise
        except LeadBotError as e:  # Refused, or StoreUnavailable (503) / InputRejected (422)
            answer = error_response(e, cors)
            if answer.status_code >= 500 or answer.status_code == 429:
                log.warning("form %s: %s %s", key[:64], answer.status_code, e)
            return answer
        return self.answer(request, form, raw_id, outcome, pending, cors, browser=provider is None)

    def answer(
        self,
        request: Request,
        form: FormConfig,
        raw_id: int,
        outcome: Outcome | None,
        pending: str | None,
        cors: dict[str, str],
        *,
        browser: bool,
    ) -> Response:
        if outcome is not None and outcome.status in (RawStatus.FAILED, RawStatus.REVIEW):
            reason = outcome.reason or "submission could not be read"
            if reason.startswith(INTERNAL_ERROR):  # its detail is for the admin, never the client
                reason = "submission could not be read; it is kept and will be looked at"
            match = _FIELD_AT_FAULT.match(reason)
            body = {
                "error": reason,
                "field": match.group(1) if match else None,
                "submission_id": raw_id,
            }
            return JSONResponse(body, status_code=422, headers=cors)
        wants_html = "text/html" in request.headers.get("accept", "")
        form_post = not request.headers.get("content-type", "").startswith("application/json")
        if browser and wants_html and form_post:
            target = form.thank_you_url or str(request.url_for("form_thanks", form_key=form.key))
            return RedirectResponse(target, status_code=303, headers=cors)
        if outcome is None:
            body = {"status": "pending", "lead_id": None, "submission_id": raw_id}
            return JSONResponse(body, status_code=202, headers=cors)
        lead_id = outcome.lead_id if outcome.status != RawStatus.ARCHIVED else None
        body = {
            "status": "accepted",
            "lead_id": lead_id,
            "submission_id": raw_id,
            "duplicate": outcome.status == RawStatus.DUPLICATE,
        }
        return JSONResponse(body, status_code=201, headers=cors)


def _too_many(wait: float) -> Refused:
    headers = {"Retry-After": retry_after(wait)}
    return Refused(429, "too many submissions, retry later", headers=headers)


def forms_routes(
    pipeline: Pipeline,
    forms: FormsConfig,
    *,
    committer: GroupCommit | None = None,
    limits: Limits | None = None,
) -> list[BaseRoute]:
    """The routes of web forms and form-builder webhooks: `forms` received through `pipeline`,
    the raw posts committed by `committer` (shared with the SMTP receiver), their rate limits
    kept by `limits` (shared by every serve process on the database)."""
    limits = limits or Limits(None)
    endpoint = FormsEndpoint(
        pipeline, forms, committer or GroupCommit(pipeline, gate=limits), limits
    )

    async def post_form(request: Request) -> Response:
        return await endpoint.handle(request, request.path_params["form_key"], None)

    async def post_webhook(request: Request) -> Response:
        params = request.path_params
        return await endpoint.handle(request, params["form_key"], params["provider"])

    async def preflight(request: Request) -> Response:
        try:
            form = endpoint.form(request.path_params["form_key"])
            cors = endpoint.cors(request, form)
        except Refused as refused:
            return error_response(refused)
        headers = {
            **cors,
            "Access-Control-Allow-Methods": "POST, OPTIONS",
            "Access-Control-Allow-Headers": "Content-Type, X-LeadBot-Secret, X-LeadBot-Signature",
            "Access-Control-Max-Age": "600",
        }
        return Response(status_code=204, headers=headers)

    async def embed(request: Request) -> Response:
        try:
            form = endpoint.form(request.path_params["form_key"])
        except Refused as refused:
            return error_response(refused)
        action = str(request.url_for("form_post", form_key=form.key))
        return HTMLResponse(render_embed_page(form, action=action))

    async def thanks(request: Request) -> Response:
        try:
            form = endpoint.form(request.path_params["form_key"])
        except Refused as refused:
            return error_response(refused)
        return HTMLResponse(render_thanks(form))

    return [
        Route("/forms/{form_key}", post_form, methods=["POST"], name="form_post"),
        Route("/forms/{form_key}", preflight, methods=["OPTIONS"]),
        Route("/forms/{form_key}/embed", embed, methods=["GET"], name="form_embed"),
        Route("/forms/{form_key}/thanks", thanks, methods=["GET"], name="form_thanks"),
        Route("/webhooks/{provider}/{form_key}", post_webhook, methods=["POST"]),
    ]
