"""The one mapping from LeadBot's errors to HTTP answers, for every route and the app itself.

A route raises (or lets through) an error of the tree in storage.errors; it becomes a JSON body
`{"error": …, "field": …}` with its status here, and nowhere else. The body says what a client
can act on and never carries SQL, a stack or another lead's data.
"""

from __future__ import annotations

from starlette.responses import JSONResponse

from storage.errors import (
    FieldError,
    InputRejected,
    LeadBotError,
    LeadNotFound,
    Refused,
    StoreUnavailable,
    TransitionRefused,
)

RETRY_AFTER_S = 30  # what a 503 asks the client to wait before it sends again
MAX_REASON = 500


def as_refused(error: LeadBotError) -> Refused:
    """The HTTP answer an error of the tree becomes."""
    if isinstance(error, Refused):
        return error
    if isinstance(error, StoreUnavailable):  # the detail may name the database: not for clients
        retry = {"Retry-After": str(RETRY_AFTER_S)}
        return Refused(503, "temporarily unavailable, retry later", headers=retry)
    if isinstance(error, FieldError):
        return Refused(422, str(error), field=error.field)
    if isinstance(error, InputRejected):
        return Refused(422, str(error))
    if isinstance(error, LeadNotFound):
        return Refused(404, str(error))
    if isinstance(error, TransitionRefused):
        return Refused(409, str(error))
    return Refused(500, "internal error")


def error_response(error: LeadBotError, headers: dict[str, str] | None = None) -> JSONResponse:
    """`error` as its JSON answer; `headers` (CORS, …) are added to the error's own."""
    refused = as_refused(error)
    # Cut: a reason may quote the input it refuses, and the answer need not echo a whole body.
    body = {"error": str(refused)[:MAX_REASON], "field": refused.field}
    return JSONResponse(
        body, status_code=refused.status, headers={**(headers or {}), **refused.headers}
    )
