"""Hostile HTTP requests for every route, grown from the samples in tests/data (hypothesis).

Shared by the suite's quick fuzz test (tests/bot/test_fuzz_http.py) and `bench/fuzz.py`, which
runs the same strategies for as long as it is given. A request is a route, headers and a body:
a sample mutated at the JSON level (a value replaced by any JSON, deep nesting, lone surrogate
escapes, NULs), at the form level (odd names, values, charsets, part headers) or at the byte
level (bytes inserted, cut or flipped). `check` says what every answer must be.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote_from_bytes, urlencode

from hypothesis import strategies as st

DATA = Path(__file__).parent / "data"
WEBFORMS = sorted((DATA / "webforms").glob("*.json"))
SLACK = sorted((DATA / "slack" / "bolt-python").glob("*.json"))
EMAILS = [*sorted((DATA / "emails").glob("*.eml")), DATA / "inbound" / "inquiry-latin1.eml"]
POSTMARK = json.loads((DATA / "inbound" / "postmark-inbound.json").read_text())
SECRETS = {"sendgrid_secret": "sg", "postmark_secret": "pm", "mailgun_signing_key": "mg"}
FORMS_TOML = "[defaults]\nburst = 100000\nrate_per_minute = 1000000\n"
PROVIDERS = ("typeform", "webflow", "netlify", "hubspot", "tally", "jotform")

# Strings of every kind: ordinary, control characters, NUL, long, and what JSON can smuggle.
NASTY = [
    "", "\x00", "a\x00b", "\x1b[31m", "\x07\x08", "\r\n", "\x0b\x0c\x1c", "\u2028", "\ufeff",
    "\u202e", "é" * 300, "x" * 5000, "((((((((((", "=?utf-8?b?!!?=", "=?x\x00?q?a?=",
    "a@b.example", "ann@acme.example\x00", "+800 1234 5678", "+870 773 111 632", "<script>",
    "@channel", "%00", "\\", '"', "utf-8\x00", "zlib_codec",
]  # fmt: skip
text = st.one_of(st.sampled_from(NASTY), st.text(max_size=60), st.text(min_size=200, max_size=3000))


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    slack_signed: bool = False  # sign it as Slack does, just before sending

    def short(self) -> str:
        return (
            f"{self.method} {self.path} {self.headers.get('content-type', '')} {self.body[:120]!r}"
        )


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), text),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(text, inner, max_size=4)),
    max_leaves=12,
)


@st.composite
def mutated_json(draw: st.DrawFn, sample: Any) -> bytes:
    """`sample` with a few values (at any depth) replaced by any JSON, then dumped and maybe
    given surrogate escapes, deep nesting or a byte-level mutation."""
    value = json.loads(json.dumps(sample))
    for _ in range(draw(st.integers(0, 3))):
        value = _replace_somewhere(draw, value)
    body = json.dumps(value).encode()
    trick = draw(st.sampled_from(["none", "surrogate", "deep", "bytes", "none", "none"]))
    if trick == "surrogate":
        body = body.replace(b'": "', b'": "\\ud800', 1)
    elif trick == "deep":
        depth = draw(st.sampled_from([100, 5000, 100_000]))
        body = b'{"a":' * depth + body + b"}" * depth
    elif trick == "bytes":
        body = draw(mutated_bytes(body))
    return body


def _replace_somewhere(draw: st.DrawFn, value: Any) -> Any:
    if isinstance(value, dict) and value and draw(st.booleans()):
        key = draw(st.sampled_from(sorted(value)))
        value[key] = _replace_somewhere(draw, value[key])
        return value
    if isinstance(value, list) and value and draw(st.booleans()):
        i = draw(st.integers(0, len(value) - 1))
        value[i] = _replace_somewhere(draw, value[i])
        return value
    return draw(json_values)


@st.composite
def mutated_bytes(draw: st.DrawFn, data: bytes) -> bytes:
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        how = draw(st.sampled_from(["insert", "cut", "flip"]))
        if how == "insert":
            data = data[:at] + draw(st.binary(min_size=1, max_size=40)) + data[at:]
        elif how == "cut":
            data = data[:at] + data[at + draw(st.integers(1, 50)) :]
        elif data:
            i = min(at, len(data) - 1)
            data = data[:i] + bytes([data[i] ^ draw(st.integers(1, 255))]) + data[i + 1 :]
    return data


field_names = st.one_of(
    st.sampled_from(["email", "name", "company", "phone", "message", "country", "title",
                     "utm_source", "page_url", "_gotcha", "E-mail", "contact[email]"]),
    text,
)  # fmt: skip
fields = st.dictionaries(field_names, text, max_size=8).map(
    lambda d: {"email": "ann@acme.example", **d}
)


@st.composite
def multipart_body(draw: st.DrawFn, values: dict[str, str]) -> tuple[bytes, str]:
    boundary = draw(st.sampled_from(["b", "----WebKitFormBoundary7MA4YWxk", "x" * 70]))
    parts = []
    for name, value in values.items():
        extra = draw(
            st.sampled_from(
                ["", "", "", "", "", "Content-Type: text/plain; charset=latin-1\r\n",
                 "Content-Type: text/plain; charset=\"utf-8\x00\"\r\n",
                 "Content-Type: text/plain; " + "; ".join(f"p{i}=v" for i in range(600)) + "\r\n",
                 "Content-Transfer-Encoding: base64\r\n", "X-Odd: " + "y" * 5000 + "\r\n"]
            )
        )  # fmt: skip
        filename = draw(st.sampled_from(["", '; filename="cv.pdf"', '; filename="a\x1bb"']))
        safe = name.replace('"', "").replace("\r", "").replace("\n", "")
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{safe}"{filename}\r\n'
            f"{extra}\r\n{value}\r\n"
        )
    body = ("".join(parts) + f"--{boundary}--\r\n").encode("utf-8", "surrogatepass")
    return body, f"multipart/form-data; boundary={boundary}"


form_keys = st.one_of(
    st.sampled_from(["demo", "k" * 36, "k" * 64, "k" * 65, "a%0A", "%00", "..", "a.b"]),
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,70}", fullmatch=True),
)
content_types = st.one_of(
    st.sampled_from(["application/json", "application/x-www-form-urlencoded", "text/plain", ""]),
    text,
)


@st.composite
def form_requests(draw: st.DrawFn) -> Request:
    """POST /forms/{key} and /webhooks/{provider}/{key} (no secrets configured: unsigned)."""
    key = draw(form_keys)
    provider = draw(st.sampled_from([None, *PROVIDERS]))
    path = f"/webhooks/{provider}/{key}" if provider else f"/forms/{key}"
    shape = draw(st.sampled_from(["urlencoded", "multipart", "json", "sample", "raw"]))
    values = draw(fields)
    if shape == "urlencoded":
        body = urlencode(values, encoding="utf-8", errors="surrogatepass").encode()
        ctype = "application/x-www-form-urlencoded"
    elif shape == "multipart":
        body, ctype = draw(multipart_body(values))
    elif shape == "json":
        body, ctype = draw(mutated_json(values)), "application/json"
    elif shape == "sample":
        sample = json.loads(draw(st.sampled_from(WEBFORMS)).read_text())
        body, ctype = draw(mutated_json(sample)), "application/json"
    else:
        body, ctype = draw(st.binary(max_size=2000)), draw(content_types)
    if draw(st.integers(0, 9)) == 0:
        ctype = ctype + "; " + draw(text).replace("\r", "").replace("\n", "")
    headers = {"content-type": _header(ctype), "accept": "application/json"}
    return Request("POST", path, headers, body)


@st.composite
def inbound_requests(draw: st.DrawFn) -> Request:
    """POST /inbound/{provider}, authenticated, every mode."""
    provider = draw(st.sampled_from(["sendgrid", "postmark", "sendgrid", "mailgun"]))
    if provider == "postmark":
        body = draw(mutated_json(POSTMARK))
        return Request(
            "POST", "/inbound/postmark?key=pm", {"content-type": "application/json"}, body
        )
    raw = draw(st.sampled_from(EMAILS)).read_bytes()[:20_000]
    if draw(st.booleans()):
        raw = draw(mutated_bytes(raw))
    if provider == "mailgun":  # unsigned: refused before parsing, but after the form is read
        values = {
            "body-mime": raw.decode("latin-1"),
            "timestamp": "1",
            "token": "t",
            "signature": "s",
        }
    elif draw(st.booleans()):
        values = {"email": raw.decode("latin-1"), "envelope": draw(text), "charsets": draw(text)}
    else:
        values = {
            "headers": draw(st.sampled_from([raw.decode("latin-1").split("\n\n")[0], ""])),
            "from": draw(st.sampled_from(["Ann <ann@acme.example>", "é." * 500, "(" * 300])),
            "to": draw(text),
            "subject": draw(text),
            "text": draw(text),
            "html": draw(text),
            "charsets": draw(
                st.sampled_from(['{"text": "utf-8\\u0000"}', '{"text": ["x"]}', "[" * 5000, "{}"])
            ),
            "attachment-info": json.dumps(
                {"attachment1": {"filename": draw(text), "type": draw(text)}}
            ),
        }
    if draw(st.booleans()):
        body, ctype = draw(multipart_body(values))
    else:
        body = urlencode(values, encoding="latin-1", errors="replace").encode()
        ctype = "application/x-www-form-urlencoded"
    path = "/inbound/mailgun/mime" if provider == "mailgun" else "/inbound/sendgrid?key=sg"
    return Request("POST", path, {"content-type": ctype}, body)


@st.composite
def slack_requests(draw: st.DrawFn) -> Request:
    """POST /slack/events, validly signed: Slack's samples mutated, and slash commands."""
    shape = draw(st.sampled_from(["json", "json", "command"]))
    if shape == "command":
        values = {"command": draw(st.sampled_from(["/lead", "/leads", "/x", ""])),
                  "text": draw(text), "user_id": draw(text), "team_id": "T1",
                  "trigger_id": "t", "response_url": "http://127.0.0.1:9/never"}  # fmt: skip
        body = urlencode(values, encoding="utf-8", errors="surrogatepass").encode()
        return Request("POST", "/slack/events", {"content-type": FORM}, body, slack_signed=True)
    sample = json.loads(draw(st.sampled_from(SLACK)).read_text())
    body = draw(mutated_json(sample))
    if sample.get("type") in ("event_callback", "url_verification"):
        return Request("POST", "/slack/events", {"content-type": "application/json"}, body, True)
    form = b"payload=" + quote_from_bytes(body).encode()
    return Request("POST", "/slack/events", {"content-type": FORM}, form, True)


FORM = "application/x-www-form-urlencoded"


def _header(value: str) -> str:
    """A header value h11 will send: latin-1, no CR/LF/NUL."""
    cleaned = "".join(ch for ch in value if ch not in "\r\n\x00")
    return cleaned.encode("latin-1", "replace").decode("latin-1")


def any_request() -> st.SearchStrategy[Request]:
    return st.one_of(form_requests(), inbound_requests(), slack_requests())


def check(request: Request, status: int, body: bytes) -> str | None:
    """What is wrong with an answer, or None: never a 5xx, a JSON error for every 4xx."""
    if status >= 500 and status != 503:
        return f"{status} for {request.short()}: {body[:300]!r}"
    if status == 503 and b"retry" not in body.lower():
        return f"503 without a retry for {request.short()}: {body[:300]!r}"
    if status >= 400:
        try:
            answer = json.loads(body)
        except ValueError:
            return f"{status} without a JSON body for {request.short()}: {body[:200]!r}"
        error = str(answer.get("error", "")) if isinstance(answer, dict) else ""
        if not error:
            return f"{status} without an error for {request.short()}"
        if "internal error" in error or "[SQL" in error or "INSERT " in error:
            return f"{status} leaks an internal error for {request.short()}: {error[:200]}"
    return None


def sign_slack(body: bytes, secret: str, now: int) -> dict[str, str]:
    base = b"v0:" + str(now).encode() + b":" + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(now), "X-Slack-Signature": "v0=" + digest}
