"""A local stand-in for the Slack Web API: a real HTTP server on a free port, in a thread.

Like bolt-python's tests/mock_web_api_server, it records every call (method, arguments, headers)
and answers like Slack. It also checks Block Kit limits the way Slack does (an oversize message is
`invalid_blocks`), and can fail on demand: 429 with Retry-After, 500, or any Slack error code.
"""

from __future__ import annotations

import contextlib
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
    at: float = 0.0  # time.perf_counter() when the call arrived (bench/speed_to_lead.py)


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
    users_by_email: dict[str, str] = field(default_factory=dict)  # users.lookupByEmail
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)  # conversations.info
    scopes: str | None = None  # the X-OAuth-Scopes header of auth.test, as Slack sends it
    delay_s: float = 0.0
    socket_url: str = ""  # what apps.connections.open answers (Socket Mode tests)
    # Slack's per-channel limit for chat.postMessage: (calls per second, burst); faster calls to
    # one channel are answered 429 with Retry-After, as Slack does. None: no limit.
    channel_rate: tuple[float, int] | None = None

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: dict[str, list[Failure]] = {}
        self._ts = 0
        self._server: ThreadingHTTPServer | None = None
        self.answers: list[tuple[Call, dict[str, Any]]] = []
        # Every message posted, by channel, oldest first (conversations.history and .replies).
        self.history: dict[str, list[dict[str, Any]]] = {}
        # A method in `holds` is carried out (a post is in the history) and then its answer waits
        # for the event: a sender killed while Slack holds its call, as after a lost connection.
        self.holds: dict[str, threading.Event] = {}
        self._buckets: dict[str, tuple[float, float]] = {}  # channel -> (tokens, at)
        # files.uploadV2: what files.getUploadURLExternal promised, and the bytes uploaded.
        self.upload_urls: dict[str, dict[str, Any]] = {}
        self.uploads: dict[str, bytes] = {}

    # -- control -------------------------------------------------------------
    def start(self) -> FakeSlack:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                fake._handle(self)

            def do_GET(self) -> None:  # conversations.history and .replies are GET calls
                fake._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        # A short poll interval: shutdown() waits for the loop to notice, 0.5 s by default.
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()
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

    def refused(self) -> list[tuple[Call, dict[str, Any]]]:
        """Every call this fake answered with ok=false because of what was sent."""
        return [(c, a) for c, a in self.answers if not a.get("ok", True)]

    def to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def wait_for(self, method: str, count: int = 1, timeout: float = 5.0) -> list[Call]:
        return wait_until(lambda: len(self.to(method)) >= count, timeout=timeout) and self.to(
            method
        )

    # -- serving ---------------------------------------------------------------
    def _handle(self, req: BaseHTTPRequestHandler) -> None:
        arrived = time.perf_counter()
        if req.path.startswith("/upload/"):  # the URL files.getUploadURLExternal gave out
            self._upload(req)
            return
        path, _, query = req.path.partition("?")
        method = path.rsplit("/", 1)[-1]
        length = int(req.headers.get("Content-Length") or 0)
        raw = req.rfile.read(length).decode("utf-8")
        args = _parse(raw, req.headers.get("Content-Type", ""))
        args.update(parse_qsl(query))
        if self.delay_s:
            time.sleep(self.delay_s)
        with self._lock:
            call = Call(method, args, {k.lower(): v for k, v in req.headers.items()}, arrived)
            self.calls.append(call)
            queue = self._failures.get(method)
            failure = queue.pop(0) if queue else None
            if failure is None and method == "chat.postMessage":
                failure = self._rate_limited(str(args.get("channel")), arrived)
        if failure is not None:
            headers = (
                {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else {}
            )
            self._reply(req, failure.status, {"ok": False, "error": failure.error}, headers)
            return
        answer = self._answer(method, args)
        with self._lock:
            self.answers.append((call, answer))
        extra = {"X-OAuth-Scopes": self.scopes} if method == "auth.test" and self.scopes else {}
        hold = self.holds.get(method)
        if hold is not None:
            hold.wait(30)
            with contextlib.suppress(OSError):  # its caller may be dead by now (a killed sender)
                self._reply(req, 200, answer, extra)
            return
        self._reply(req, 200, answer, extra)

    def _rate_limited(self, channel: str, now: float) -> Failure | None:
        """A token bucket per channel (called under the lock): None when the call may go."""
        if self.channel_rate is None:
            return None
        rate, burst = self.channel_rate
        tokens, at = self._buckets.get(channel, (float(burst), now))
        tokens = min(float(burst), tokens + (now - at) * rate)
        if tokens < 1.0:
            self._buckets[channel] = (tokens, now)
            return Failure(
                429, "ratelimited", retry_after=max(1, int((1.0 - tokens) / rate + 0.999))
            )
        self._buckets[channel] = (tokens - 1.0, now)
        return None

    def _posted(self, args: dict[str, Any], ts: str) -> None:
        """Keep a posted message where conversations.history and .replies find it."""
        message: dict[str, Any] = {
            "type": "message",
            "ts": ts,
            "text": args.get("text"),
            "bot_id": "BBOT",
        }
        if args.get("thread_ts"):
            message["thread_ts"] = args["thread_ts"]
            message["broadcast"] = str(args.get("reply_broadcast")).lower() in ("1", "true")
        metadata = args.get("metadata")
        if isinstance(metadata, str):
            metadata = json.loads(metadata)
        if metadata:
            message["metadata"] = metadata
        with self._lock:
            self.history.setdefault(str(args.get("channel")), []).append(message)

    def _read_history(self, args: dict[str, Any], *, thread: str | None) -> dict[str, Any]:
        """Newest first, within oldest/latest, at most `limit` (Slack's default 100); metadata
        only with include_all_metadata, as Slack answers."""
        channel = str(args.get("channel"))
        with_metadata = str(args.get("include_all_metadata", "")).lower() in ("1", "true")
        oldest = float(args.get("oldest") or 0)
        latest = float(args.get("latest") or "inf")
        limit = int(args.get("limit") or 100)
        with self._lock:
            posted = list(self.history.get(channel, []))
        if thread is None:  # the channel: top-level messages and broadcast replies
            chosen = [m for m in posted if "thread_ts" not in m or m.get("broadcast")]
        else:
            chosen = [m for m in posted if m["ts"] == thread or m.get("thread_ts") == thread]
        chosen = [m for m in chosen if oldest <= float(m["ts"]) <= latest]
        if thread is None:
            chosen.reverse()
        page = [
            {k: v for k, v in m.items() if with_metadata or k != "metadata"} for m in chosen[:limit]
        ]
        return {"ok": True, "messages": page, "has_more": len(chosen) > limit}

    def _answer(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        if method in ("chat.postMessage", "chat.update", "chat.postEphemeral"):
            problem = block_kit_problem(args.get("blocks") or [], limit=50)
            if problem:
                return {"ok": False, "error": "invalid_blocks", "detail": problem}
            if not args.get("text") and not args.get("blocks"):
                return {"ok": False, "error": "no_text"}
            if len(str(args.get("text") or "")) > 40000:
                return {"ok": False, "error": "msg_too_long"}
        if method == "chat.postMessage":
            with self._lock:
                self._ts += 1
                ts = f"1700000000.{self._ts:06d}"
            self._posted(args, ts)
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
            problem = view_problem(view)
            if problem:
                return {"ok": False, "error": "invalid_blocks", "detail": problem}
            return {"ok": True, "view": {"id": "V123", **view}}
        if method == "chat.getPermalink":
            ts = str(args.get("message_ts") or "").replace(".", "")
            link = f"https://leadbot-test.slack.com/archives/{args.get('channel')}/p{ts}"
            return {"ok": True, "channel": args.get("channel"), "permalink": link}
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
        if method == "conversations.info":
            channel = self.channels.get(str(args.get("channel")))
            if channel is None:
                return {"ok": False, "error": "channel_not_found"}
            return {"ok": True, "channel": {"id": args.get("channel"), **channel}}
        if method == "users.lookupByEmail":
            user = self.users_by_email.get(str(args.get("email")).lower())
            if user is None:
                return {"ok": False, "error": "users_not_found"}
            return {"ok": True, "user": {"id": user, "profile": {"email": args.get("email")}}}
        if method == "conversations.history":
            return self._read_history(args, thread=None)
        if method == "conversations.replies":
            return self._read_history(args, thread=str(args.get("ts")))
        if method == "files.getUploadURLExternal":
            with self._lock:
                self._ts += 1
                file_id = f"F{self._ts:08d}"
                self.upload_urls[file_id] = dict(args)
            try:
                length = int(args.get("length") or 0)
            except ValueError:
                length = 0
            if not args.get("filename") or length <= 0:
                return {"ok": False, "error": "invalid_arguments"}
            url = f"http://127.0.0.1:{self.port}/upload/{file_id}"
            return {"ok": True, "upload_url": url, "file_id": file_id}
        if method == "files.completeUploadExternal":
            files = args.get("files")
            files = json.loads(files) if isinstance(files, str) else files or []
            done = []
            for f in files:
                fid = str(f.get("id"))
                promised = self.upload_urls.get(fid)
                data = self.uploads.get(fid)
                if promised is None or data is None or len(data) != int(promised["length"]):
                    return {"ok": False, "error": "file_upload_not_complete"}
                done.append({"id": fid, "title": f.get("title"), "name": promised["filename"]})
            if not done:
                return {"ok": False, "error": "invalid_arguments"}
            return {"ok": True, "files": done}
        if method == "usergroups.users.list":
            return {"ok": True, "users": self.usergroups.get(str(args.get("usergroup")), [])}
        return {"ok": True}

    def _upload(self, req: BaseHTTPRequestHandler) -> None:
        """The upload step of files.uploadV2: raw bytes POSTed to the promised URL."""
        file_id = req.path.rsplit("/", 1)[-1]
        data = req.rfile.read(int(req.headers.get("Content-Length") or 0))
        with self._lock:
            known = file_id in self.upload_urls
            if known:
                self.uploads[file_id] = data
            self.calls.append(Call("upload", {"file_id": file_id, "bytes": len(data)}, {}))
        body = f"OK - {len(data)}".encode() if known else b"unknown upload"
        req.send_response(200 if known else 404)
        req.send_header("Content-Type", "text/plain")
        req.send_header("Content-Length", str(len(body)))
        req.end_headers()
        req.wfile.write(body)

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
    """What Slack would reject (docs.slack.dev Block Kit reference): `invalid_blocks`."""
    if not isinstance(blocks, list) or len(blocks) > limit:
        return f"{len(blocks)} blocks > {limit}"
    for b in blocks:
        problem = _block_problem(b)
        if problem:
            return problem
    return None


def _text_problem(t: Any, limit: int, *, what: str, plain_only: bool = False) -> str | None:
    if not isinstance(t, dict) or t.get("type") not in ("plain_text", "mrkdwn"):
        return f"{what}: not a text object"
    if plain_only and t["type"] != "plain_text":
        return f"{what}: must be plain_text"
    text = t.get("text")
    if not isinstance(text, str) or not 1 <= len(text) <= limit:
        return f"{what}: text length {len(text or '')} not in 1..{limit}"
    return None


def _block_problem(b: dict[str, Any]) -> str | None:
    kind = b.get("type")
    if len(str(b.get("block_id", ""))) > 255:
        return "block_id > 255"
    if kind == "header":
        return _text_problem(b.get("text"), 150, what="header", plain_only=True)
    if kind == "section":
        fields = b.get("fields") or []
        if "text" not in b and not fields:
            return "section without text or fields"
        if "text" in b and (p := _text_problem(b["text"], 3000, what="section")):
            return p
        if len(fields) > 10:
            return "section with more than 10 fields"
        for f in fields:
            if p := _text_problem(f, 2000, what="section field"):
                return p
        if "accessory" in b:
            return _element_problem(b["accessory"])
        return None
    if kind == "context":
        elements = b.get("elements") or []
        if not 1 <= len(elements) <= 10:
            return "context needs 1..10 elements"
        for e in elements:
            if p := _text_problem(e, 3000, what="context"):
                return p
        return None
    if kind == "actions":
        elements = b.get("elements") or []
        if not 1 <= len(elements) <= 25:
            return "actions needs 1..25 elements"
        for e in elements:
            if p := _element_problem(e):
                return p
        return None
    if kind == "input":
        return _text_problem(b.get("label"), 2000, what="input label", plain_only=True)
    if kind == "divider":
        return None
    return f"unknown block type {kind!r}"


def _element_problem(e: dict[str, Any]) -> str | None:
    if e.get("type") == "button":
        if len(str(e.get("value", ""))) > 2000 or len(str(e.get("action_id", ""))) > 255:
            return "button value > 2000 or action_id > 255"
        return _text_problem(e.get("text"), 75, what="button", plain_only=True)
    return None


def view_problem(view: dict[str, Any]) -> str | None:
    """Modals: title, submit and close at most 24 characters, private_metadata 3000, 100 blocks."""
    if view.get("type") == "modal":
        for key in ("title", "submit", "close"):
            present = key in view or key == "title"
            if present and (p := _text_problem(view.get(key), 24, what=key, plain_only=True)):
                return p
    if len(str(view.get("private_metadata", ""))) > 3000:
        return "private_metadata > 3000"
    return block_kit_problem(view.get("blocks") or [], limit=100)


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
