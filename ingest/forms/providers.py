"""Form providers' webhook payloads flattened to field dicts, and their signature checks.

One small function per provider turns its documented payload into `{field name: value}` for
`map_fields`; the verifiers compare in constant time and never raise on hostile input.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ingest.forms.fields import ALIASES, squash

Fields = dict[str, str | list[str]]


@dataclass(frozen=True)
class Extracted:
    """A provider payload reduced to what every form has."""

    fields: Fields
    event_id: str | None = None  # the provider's submission id: the same id twice is one activity
    submitted_at: str | None = None  # ISO 8601 as the provider sent it
    form_name: str | None = None
    meta: dict[str, str] = field(default_factory=dict)


# Question labels ("What is your first name?") that say which lead field they ask for.
_LABEL_HINTS = (
    ("firstname", "first_name"),
    ("givenname", "first_name"),
    ("lastname", "last_name"),
    ("surname", "last_name"),
    ("fullname", "name"),
    ("yourname", "name"),
    ("emailaddress", "email"),
    ("email", "email"),
    ("phone", "phone"),
    ("jobtitle", "title"),
    ("company", "company"),
    ("organisation", "company"),
    ("organization", "company"),
)


def label_key(label: str) -> str:
    """A field key for a question: an alias when the label says what it asks, else the label."""
    squashed = squash(label)
    if squashed in ALIASES:
        return label
    if len(squashed) <= 60:
        for hint, target in _LABEL_HINTS:
            if hint in squashed:
                return target
    return label


def _text(value: Any) -> str | list[str] | None:
    if value is None or isinstance(value, dict):
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        items = [str(v) for v in value if isinstance(v, str | int | float) and str(v) != ""]
        return items or None
    return str(value)


def _put(out: Fields, key: str, value: Any) -> None:
    text = _text(value)
    if key and text is not None and text not in ("", []) and key not in out:
        out[key] = text


def _obj(value: Any) -> dict[str, Any]:
    """`value` when it is a JSON object, else empty: hostile payloads put strings anywhere."""
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def typeform(payload: Mapping[str, Any]) -> Extracted:
    """`form_response` events: answers keyed by their question, hidden fields as they are."""
    response = _obj(payload.get("form_response"))
    definition = _obj(response.get("definition"))
    titles = {
        f.get("id"): f.get("title") or f.get("ref") or ""
        for f in _list(definition.get("fields"))
        if isinstance(f, dict)
    }
    out: Fields = {}
    for answer in _list(response.get("answers")):
        if not isinstance(answer, dict):
            continue
        kind = answer.get("type")
        question = _obj(answer.get("field"))
        label = str(titles.get(question.get("id")) or question.get("ref") or question.get("id"))
        value: Any = answer.get(kind) if isinstance(kind, str) else None
        if kind == "choice":
            value = _obj(value).get("label") or _obj(value).get("other")
        elif kind == "choices":
            value = [*_list(_obj(value).get("labels")), _obj(value).get("other")]
            value = [v for v in value if v]
        key = {"email": "email", "phone_number": "phone"}.get(str(kind)) or label_key(label)
        if key in out:
            key = label
        _put(out, key, value)
    for name, value in _obj(response.get("hidden")).items():
        _put(out, str(name), value)
    return Extracted(
        fields=out,
        event_id=payload.get("event_id") or response.get("token"),
        submitted_at=response.get("submitted_at"),
        form_name=definition.get("title"),
    )


def webflow(payload: Mapping[str, Any]) -> Extracted:
    """v2 `{"triggerType": "form_submission", "payload": {...}}` and the v1 flat shape."""
    wrapped = payload.get("payload")
    inner: Mapping[str, Any] = wrapped if isinstance(wrapped, dict) else payload
    out: Fields = {}
    for name, value in _obj(inner.get("data")).items():
        _put(out, str(name), value)
    return Extracted(
        fields=out,
        event_id=inner.get("id") or inner.get("_id"),
        submitted_at=inner.get("submittedAt") or inner.get("d"),
        form_name=inner.get("name"),
    )


_NETLIFY_SKIP = frozenset({"ip", "user_agent"})


def netlify(payload: Mapping[str, Any]) -> Extracted:
    """The `submission-created` submission (bare, or wrapped in `{"payload": …}` by Functions)."""
    wrapped = payload.get("payload")
    inner: Mapping[str, Any] = wrapped if isinstance(wrapped, dict) else payload
    out: Fields = {}
    for name, value in _obj(inner.get("data")).items():
        if name == "referrer":
            _put(out, "page_url", value)
        elif name not in _NETLIFY_SKIP:
            _put(out, str(name), value)
    for name in ("email", "name", "first_name", "last_name", "company"):
        if not any(squash(k) == squash(name) for k in out):
            _put(out, name, inner.get(name))
    return Extracted(
        fields=out,
        event_id=inner.get("id"),
        submitted_at=inner.get("created_at"),
        form_name=inner.get("form_name"),
        meta={"site_url": str(inner.get("site_url") or "")},
    )


def hubspot(payload: Mapping[str, Any]) -> Extracted:
    """Forms API shapes (`fields` / `values` as name-value lists) and workflow `properties`."""
    out: Fields = {}
    pairs = payload.get("fields") or payload.get("values") or []
    for pair in pairs if isinstance(pairs, list) else []:
        if isinstance(pair, dict):
            _put(out, str(pair.get("name") or ""), pair.get("value"))
    props = payload.get("properties")
    if isinstance(props, dict):
        for name, value in props.items():
            _put(out, str(name), value.get("value") if isinstance(value, dict) else value)
    context = _obj(payload.get("context"))
    _put(out, "page_url", payload.get("pageUrl") or context.get("pageUri"))
    submitted = payload.get("submittedAt")
    event = payload.get("conversionId") or payload.get("eventId") or payload.get("objectId")
    return Extracted(
        fields=out,
        event_id=str(event) if event is not None else None,
        submitted_at=str(submitted) if submitted is not None else None,
        form_name=context.get("pageName"),
    )


_TALLY_KEYS = {"INPUT_EMAIL": "email", "INPUT_PHONE_NUMBER": "phone", "INPUT_LINK": None}


def tally(payload: Mapping[str, Any]) -> Extracted:
    """`FORM_RESPONSE` events: `data.fields` with labels; choice ids resolved to their text."""
    data = _obj(payload.get("data"))
    out: Fields = {}
    for item in _list(data.get("fields")):
        if not isinstance(item, dict):
            continue
        label = str(item.get("label") or item.get("key") or "")
        value = item.get("value")
        options = {
            str(o.get("id")): o.get("text")
            for o in _list(item.get("options"))
            if isinstance(o, dict)
        }
        if options and isinstance(value, list):
            value = [options.get(str(v), v) for v in value]
        elif options and isinstance(value, str) and value in options:
            value = options[value]
        key = _TALLY_KEYS.get(str(item.get("type"))) or label_key(label)
        if key in out:
            key = label
        _put(out, key, value)
    return Extracted(
        fields=out,
        event_id=payload.get("eventId") or data.get("responseId"),
        submitted_at=data.get("createdAt") or payload.get("createdAt"),
        form_name=data.get("formName"),
    )


_JOTFORM_PREFIX = re.compile(r"^q\d+_")
_JOTFORM_SKIP = frozenset(
    {
        "slug",
        "event_id",
        "path",
        "jsExecutionTracker",
        "submitSource",
        "buildDate",
        "uploadServerUrl",
        "timeToSubmit",
        "validatedNewRequiredFieldIDs",
    }
)


def jotform(payload: Mapping[str, Any]) -> Extracted:
    """Multipart posts whose `rawRequest` field holds the answers as JSON (`q3_name`, …)."""
    raw = payload.get("rawRequest")
    if isinstance(raw, list):
        raw = raw[0] if raw else None
    try:
        answers = json.loads(raw) if isinstance(raw, str) else {}
    except (ValueError, RecursionError):  # `[[[[…` nested past the C stack guard
        answers = {}
    out: Fields = {}
    for name, value in answers.items() if isinstance(answers, dict) else []:
        if name in _JOTFORM_SKIP:
            continue
        key = _JOTFORM_PREFIX.sub("", str(name))
        if isinstance(value, dict):
            if "first" in value or "last" in value:
                _put(out, "first_name", value.get("first"))
                _put(out, "last_name", value.get("last"))
                continue
            parts = [str(v) for v in value.values() if isinstance(v, str | int) and str(v)]
            value = value.get("full") or " ".join(parts)
        _put(out, label_key(key), value)
    return Extracted(
        fields=out,
        event_id=_one(payload.get("submissionID")),
        form_name=_one(payload.get("formTitle")),
    )


def _one(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    return str(value) if value else None


EXTRACTORS: dict[str, Callable[[Mapping[str, Any]], Extracted]] = {
    "typeform": typeform,
    "webflow": webflow,
    "netlify": netlify,
    "hubspot": hubspot,
    "tally": tally,
    "jotform": jotform,
}
