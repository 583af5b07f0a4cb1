"""The shape a signed Slack payload must have before Bolt reads it: pure, tested without Slack.

Bolt indexes payloads the way Slack documents them (`body["actions"][0]`, `body["view"]["type"]`,
`req.body.get("event", {}).get("type")`), so a signed payload with `actions: null`, `view: 5` or
an event that is not an object raises inside Bolt: a 500, or an exception through the adapter.
Only Slack (or whoever holds the signing secret) can send one, but the answer must still be a
400. The fields Bolt and our listeners read are checked for their documented JSON types here.
"""

from __future__ import annotations

from typing import Any

Kind = type | tuple[type, ...]
_NONE = type(None)
_STR_OR_NONE = (str, _NONE)

# Top-level fields, when present, and the fields inside the objects among them.
_FIELDS: dict[str, Kind] = {
    "type": str,
    "token": str,
    "team_id": _STR_OR_NONE,
    "enterprise_id": _STR_OR_NONE,
    "api_app_id": str,
    "event_id": str,
    "callback_id": str,
    "trigger_id": str,
    "response_url": str,
    "action_id": str,
    "block_id": str,
    "value": str,
    "command": str,
    "text": str,
    "user_id": str,
    "channel_id": str,
    "challenge": str,
    "ssl_check": str,
    "is_enterprise_install": bool,
    "event": dict,
    "view": dict,
    "actions": list,
    "user": (dict, str),
    "team": (dict, _NONE),
    "enterprise": (dict, _NONE),
    "channel": dict,
    "container": dict,
    "message": dict,
    "state": dict,
    "workflow_step": dict,
    "authorizations": list,
    "response_urls": list,
}
_INNER: dict[str, dict[str, Kind]] = {
    "event": {
        "type": str,
        "user": (str, dict),
        "channel": (str, dict),
        "text": str,
        "tab": str,
        "subtype": str,
        "bot_id": str,
        "thread_ts": str,
        "channel_type": str,
        "team": str,
        "user_team": str,
        "callback_id": str,
        "item": dict,
        "message": dict,
        "previous_message": dict,
        "tokens": dict,
        "function": dict,
        "workflow_step": dict,
    },
    "view": {
        "type": str,
        "callback_id": str,
        "private_metadata": str,
        "id": str,
        "hash": str,
        "external_id": str,
        "root_view_id": str,
        "previous_view_id": _STR_OR_NONE,
        "team_id": str,
        "app_id": str,
        "bot_id": str,
        "state": dict,
    },
    "user": {"id": str, "team_id": str, "name": str, "username": str},
    "team": {"id": str, "domain": str, "enterprise_id": str},
    "enterprise": {"id": str, "name": str},
    "channel": {"id": str, "name": str},
    "container": {"type": str, "channel_id": str, "message_ts": str, "view_id": str},
    "message": {"ts": str, "text": str, "thread_ts": str, "user": str, "bot_id": str},
}
_ACTION: dict[str, Kind] = {
    "action_id": str,
    "block_id": str,
    "value": str,
    "type": str,
    "action_ts": str,
    "selected_option": dict,
    "selected_options": list,
}
# What Bolt reads without asking first, by payload type (`body["action_id"]`, …).
_REQUIRED: dict[str, tuple[str, ...]] = {
    "event_callback": ("event",),
    "block_actions": ("actions",),
    "block_suggestion": ("action_id",),
    "shortcut": ("callback_id",),
    "message_action": ("callback_id",),
    "interactive_message": ("callback_id",),
    "dialog_submission": ("callback_id",),
    "dialog_suggestion": ("callback_id",),
    "dialog_cancellation": ("callback_id",),
    "view_submission": ("view",),
    "view_closed": ("view",),
}


def problem(body: Any) -> str | None:
    """Why `body` (a parsed Slack request) cannot be handed to Bolt, or None when it can."""
    if not isinstance(body, dict):
        return "payload is not a JSON object"
    wrong = _wrong_fields(body, _FIELDS, "")
    if wrong:
        return wrong
    for name, inner in _INNER.items():
        value = body.get(name)
        if isinstance(value, dict):
            wrong = _wrong_fields(value, inner, f"{name}.")
            if wrong:
                return wrong
    kind = body.get("type")
    for name in _REQUIRED.get(kind, ()) if isinstance(kind, str) else ():
        if name not in body:
            return f"{kind} payload without `{name}`"
    event = body.get("event")
    if kind == "event_callback" and isinstance(event, dict) and "type" not in event:
        return "event without a type"
    view = body.get("view")
    submitted = kind in ("view_submission", "view_closed")
    if submitted and isinstance(view, dict) and ("type" not in view or "callback_id" not in view):
        return "view without a type and callback_id"
    return _wrong_actions(body.get("actions"), required=kind == "block_actions")


def _wrong_fields(obj: dict[str, Any], kinds: dict[str, Kind], prefix: str) -> str | None:
    for name, kind in kinds.items():
        if name in obj and not isinstance(obj[name], kind):
            return f"`{prefix}{name}` is not of the documented type"
    return None


def _wrong_actions(actions: Any, *, required: bool) -> str | None:
    if actions is None:
        return None
    if not actions and required:
        return "block_actions payload without an action"
    for action in actions:
        if not isinstance(action, dict):
            return "an action is not an object"
        wrong = _wrong_fields(action, _ACTION, "actions[].")
        if wrong:
            return wrong
        if required and "action_id" not in action:
            return "an action without an action_id"
    return None
