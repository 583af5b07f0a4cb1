"""A local stand-in for the Slack Web API: a real HTTP server on a free port, in a thread.

Like bolt-python's tests/mock_web_api_server, it records every call (method, arguments, headers)
and answers like Slack. It also checks Block Kit limits the way Slack does (an oversize message is
`invalid_blocks`), and can fail on demand: 429 with Retry-After, 500, or any Slack error code.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    headers: dict[str, str]


@dataclass
class Failure:
    status: int = 500
    error: str = "internal_error"
    retry_after: int | None = None


@dataclass
class FakeSlack:
    calls: list[Call] = field(default_factory=list)
    channel_members: dict[str, list[str]] = field(default_factory=dict)
    usergroups: dict[str, list[str]] = field(default_factory=dict)
    delay_s: float = 0.0
    socket_url: str = ""  # what apps.connections.open answers (Socket Mode tests)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: dict[str, list[Failure]] = {}
        self._ts = 0
        self._server: ThreadingHTTPServer | None = None

    # -- control -------------------------------------------------------------
    def start(self) -> FakeSlack:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                fake._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def fail(self, method: str, failure: Failure, *, times: int = 1) -> None:
        with self._lock:
            self._failures.setdefault(method, []).extend([failure] * times)

    def to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def wait_for(self, method: str, count: int = 1, timeout: float = 5.0) -> list[Call]:
        return wait_until(lambda: len(self.to(method)) >= count, timeout=timeout) and self.to(
            method
        )

    # -- serving ---------------------------------------------------------------
    def _handle(self, req: BaseHTTPRequestHandler) -> None:
        method = req.path.rsplit("/", 1)[-1]
        length = int(req.headers.get("Content-Length") or 0)
        raw = req.rfile.read(length).decode("utf-8")
        args = _parse(raw, req.headers.get("Content-Type", ""))
        if self.delay_s:
            time.sleep(self.delay_s)
        with self._lock:
            self.calls.append(Call(method, args, {k.lower(): v for k, v in req.headers.items()}))
            queue = self._failures.get(method)
            failure = queue.pop(0) if queue else None
        if failure is not None:
            headers = (
                {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else {}
            )
            self._reply(req, failure.status, {"ok": False, "error": failure.error}, headers)
            return
        self._reply(req, 200, self._answer(method, args))

    def _answer(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        if method in ("chat.postMessage", "chat.update"):
            problem = block_kit_problem(args.get("blocks") or [], limit=50)
            if problem:
                return {"ok": False, "error": "invalid_blocks", "detail": problem}
        if method == "chat.postMessage":
            with self._lock:
                self._ts += 1
                ts = f"1700000000.{self._ts:06d}"
            return {
                "ok": True,
                "channel": args.get("channel"),
                "ts": ts,
                "message": {"text": args.get("text")},
            }
        if method == "chat.update":
            return {"ok": True, "channel": args.get("channel"), "ts": args.get("ts")}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": "1700000000.999999"}
        if method in ("views.open", "views.publish", "views.update"):
            view = args.get("view") or {}
            problem = block_kit_problem(view.get("blocks") or [], limit=100)
            if problem:
                return {"ok": False, "error": "invalid_blocks", "detail": problem}
            return {"ok": True, "view": {"id": "V123", **view}}
        if method == "apps.connections.open":
            return {"ok": True, "url": self.socket_url}
        if method == "auth.test":
            return {
                "ok": True,
                "user_id": "UBOT",
                "bot_id": "BBOT",
                "team_id": "T1",
                "user": "leadbot",
            }
        if method == "conversations.members":
            return {"ok": True, "members": self.channel_members.get(str(args.get("channel")), [])}
        if method == "usergroups.users.list":
            return {"ok": True, "users": self.usergroups.get(str(args.get("usergroup")), [])}
        return {"ok": True}

    @staticmethod
    def _reply(
        req: BaseHTTPRequestHandler,
        status: int,
        body: dict[str, Any],
        headers: dict[str, str] | None = None,
    ) -> None:
        data = json.dumps(body).encode()
        req.send_response(status)
        req.send_header("Content-Type", "application/json; charset=utf-8")
        req.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            req.send_header(k, v)
        req.end_headers()
        req.wfile.write(data)


def _parse(raw: str, content_type: str) -> dict[str, Any]:
    if "json" in content_type:
        return dict(json.loads(raw or "{}"))
    args: dict[str, Any] = dict(parse_qsl(raw))
    for key in ("blocks", "view"):
        if isinstance(args.get(key), str):
            args[key] = json.loads(args[key])
    return args


def block_kit_problem(blocks: list[dict[str, Any]], *, limit: int) -> str | None:
    """What Slack would reject: too many blocks, oversize texts, headers or button labels."""
    if len(blocks) > limit:
        return f"{len(blocks)} blocks > {limit}"
    for b in blocks:
        texts = [b.get("text") or {}, *list(b.get("fields") or [])]
        for t in texts:
            if len(t.get("text", "")) > 3000:
                return "section text > 3000"
        if b.get("type") == "header" and len(b["text"]["text"]) > 150:
            return "header > 150"
        elements = list(b.get("elements") or []) + ([b["accessory"]] if "accessory" in b else [])
        for e in elements:
            if e.get("type") == "button" and len(e["text"]["text"]) > 75:
                return "button text > 75"
    return None


def wait_until(
    predicate: Callable[[], Any], *, timeout: float = 5.0, interval: float = 0.02
) -> Any:
    """Poll until `predicate()` is truthy: listeners finish after Slack's ack, in Bolt's threads."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)
