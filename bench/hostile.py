"""Hostile-input sweep by hand: generated and public hostile inputs through every public door.

    .venv/bin/python bench/hostile.py [--database-url URL] [--only mime,http,cli,show]
                                      [--examples 150] [--seed 1]

Builds a few hundred hostile inputs (deep MIME, HTML and JSON nesting, unknown and trick charsets,
NUL / lone CR / bidi overrides / ANSI escapes in every header and body, huge headers and lines,
forged Slack signatures, garbage link tokens) plus the public MIME torture corpora in
tests/data/corpus and hypothesis mutations of the sample messages, and drives them through:
the Pipeline in process (accept + process), the real ASGI app (TestClient: /forms, /events,
/inbound, /r, /slack/events), `leadbot ingest -` (spawned, a few) and the terminal and Slack
renderings of whatever leads resulted. Records, per category: exceptions, 5xx, accepted inputs
missing from the database or left unsettled, internal-error reasons, inputs over 2 s of wall
time, RSS growth over 200 MB, control characters reaching a terminal, unescaped `<&>` reaching
Slack text. `--database-url` takes an empty PostgreSQL database (it is migrated); default SQLite.
Exit status 1 when anything was recorded.
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import resource
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hypothesis import HealthCheck, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from sqlmodel import select
from starlette.testclient import TestClient

from bot.runtime import build_runtime
from bot.web import create_app
from storage.db import Store
from storage.errors import InputRejected
from storage.migrate import upgrade
from storage.models import Lead, RawInput, RawStatus
from tests.bot.slack_helpers import SIGNING_SECRET
from tests.conftest import make_settings
from tests.fuzz import FORMS_TOML, SECRETS, check, mutated_bytes, sign_slack

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
SLOW_S = 2.0
RSS_MB = 200
SETTLED = {
    RawStatus.PROCESSED,
    RawStatus.DUPLICATE,
    RawStatus.ARCHIVED,
    RawStatus.REVIEW,
    RawStatus.FAILED,
}
WRITE_KEY = "wk_hostile_0123456789abcdef"
EMPTY_ENV = Path(tempfile.mkdtemp(prefix="leadbot-hostile-")) / "empty.env"
EMPTY_ENV.write_text("")

# Control and format characters a stranger can put in any field.
CONTROLS = {
    "nul": "\x00",
    "cr": "\r",
    "bidi": "\u202e",
    "ansi": "\x1b[2J\x1b]0;pwned\x07",
    "c1": "\x9b31m",
    "bs": "\x08\x08\x08",
    "lsep": "\u2028",
    "bom": "\ufeff",
}
# Charsets no codec has, codecs that are not text encodings, and ones that decode anything.
CHARSETS = [
    "x-unknown",
    "zlib_codec",
    "base64",
    "rot13",
    "hex",
    "uu",
    "bz2",
    "undefined",
    "idna",
    "punycode",
    "utf-7",
    "utf-32",
    "unicode_escape",
    "raw_unicode_escape",
    "mbcs",
    "charmap",
    "utf-8\x00",
    "",
    '"',
    "iso-8859-1'en'",
    "x" * 300,
    "cp65001",
    "utf-16",
    "ascii",
]


def mail(
    *,
    frm: str = "Ann Lee <ann@acme.example>",
    subject: str = "Quote for 25 seats",
    headers: str = "",
    ctype: str = "text/plain; charset=utf-8",
    cte: str = "",
    body: bytes | str = "Hi, we need a quote for 25 seats.\n\nAnn Lee\nCTO, Acme\n",
) -> bytes:
    raw = body if isinstance(body, bytes) else body.encode("utf-8", "surrogatepass")
    head = (
        f"From: {frm}\r\nTo: leads@leads.example.com\r\nSubject: {subject}\r\n"
        f"Message-ID: <{time.time_ns()}.{os.getpid()}@acme.example>\r\n"
        f"Date: Sun, 06 Dec 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: {ctype}\r\n" + (f"Content-Transfer-Encoding: {cte}\r\n" if cte else "")
    )
    return (head + headers + "\r\n").encode("utf-8", "surrogatepass") + raw


def nested_multipart(depth: int) -> bytes:
    body = b"Hi, quote please.\r\n"
    ctype = "text/plain"
    for i in range(depth):
        b = f"b{i}"
        body = (
            f"--{b}\r\nContent-Type: {ctype}\r\n\r\n".encode() + body + f"\r\n--{b}--\r\n".encode()
        )
        ctype = f'multipart/mixed; boundary="{b}"'
    return mail(ctype=ctype, body=body)


def nested_rfc822(depth: int) -> bytes:
    inner = mail()
    for _ in range(depth):
        inner = mail(ctype="message/rfc822", body=inner)
    return inner


def many_parts(n: int) -> bytes:
    parts = "".join(f"--b\r\nContent-Type: text/plain\r\n\r\npart {i}\r\n" for i in range(n))
    return mail(ctype='multipart/mixed; boundary="b"', body=parts + "--b--\r\n")


def html_mail(html: str, charset: str = "utf-8") -> bytes:
    return mail(ctype=f"text/html; charset={charset}", body=html.encode("utf-8", "replace"))


# Text shaped to make a backtracking pattern go quadratic (signatures, forwards, addresses).
REDOS = {
    "sig-spaces": "Hi quote\n\n-- \n" + "a " * 200_000,
    "phones": "Hi quote\n\nAnn\n" + "+1 " * 100_000,
    "phone-digits": "Hi quote\n\nAnn\nTel: " + "1-" * 100_000,
    "ats": "Hi quote\n" + "a@" * 200_000,
    "dots-at": "Hi quote\n" + "a.a" * 100_000 + "@",
    "fwd-markers": "---------- Forwarded message ---------\n" * 20_000,
    "fwd-headers": "From: x <x@y.z>\nSent: Monday\nTo: a\nSubject: b\n\n" * 10_000,
    "wrote": "On Mon, 1 Jan 2026, Ann <a@b.c> wrote:\n> " * 10_000,
    "quote-deep": ">" * 200_000 + " hi",
    "urls": "http://" + "a." * 100_000,
    "title-words": "Hi quote\n\nAnn Lee\n" + "Senior " * 100_000 + "Manager\n",
    "company": "Hi quote\n\nAnn Lee\nAcme " + "Inc. " * 100_000,
    "labels": "Name: " * 100_000,
    "colons": ":" * 500_000,
    "spaces-tabs": " \t" * 500_000 + "x",
    "dashes": "-" * 1_000_000,
    "combining": "a" + "\u0301" * 500_000,
    "emoji-zwj": "\U0001f468\u200d" * 200_000,
    # Whitespace the line patterns' \s* match that the squeeze of spaces used to leave alone.
    "line-separators-under-rule": "Hi quote\n-----" + "\u2028" * 3_000 + "x\n",
    "rare-spaces-under-rule": "Hi quote\n-----" + "\u202f\u205f\u1680" * 1_000 + "x\n",
    "wpforms-dashes": "Hi quote\n--" + " " * 3_000 + "\n",
    "cf7-from": "Hi quote\nFrom:" + " " * 3_000 + "\n",
    "header-label-spaces": "Hi quote\n" + " " * 3_000 + "0\nFrom: " + "_" * 3_000 + "b\n",
}
REDOS_FROM = {
    "from-quoted": '"' + '\\"' * 100_000 + '" <a@b.co>',
    "from-angles": "<" * 100_000 + "a@b.co>",
    "from-commas": "a@b.co" + "," * 100_000,
    "from-at": "@" * 100_000 + "a@b.co",
    "from-dots": "ann@" + "a." * 100_000 + "co",
    "from-group": "g:" * 50_000 + " a@b.co;",
    "from-name-at-runs": "a@" * 1_000 + " <" + "b@" * 1_000 + ">",
    "from-daemon-spaces": " " * 1_900 + "x <a@b.co>",
}


def mime_inputs() -> Iterator[tuple[str, bytes]]:
    """(category, message) pairs: generated hostile mail and the public corpora."""
    for d in (5, 50, 200, 1000, 5000):
        yield "mime-nesting", nested_multipart(d)
    for d in (5, 50, 200, 1000):
        yield "mime-nesting", nested_rfc822(d)
    for n in (1000, 10_000, 30_000):
        yield "mime-many-parts", many_parts(n)
    for n in (1000, 8000, 20_000):
        params = "; ".join(f"p{i}=v" for i in range(n))
        yield "mime-params", mail(ctype=f"text/plain; charset=utf-8; {params}")
        yield "mime-params", mail(headers=f"Content-Disposition: inline; {params}\r\n")
    for cs in CHARSETS:
        enc = "utf-8" if cs in ("", '"') else cs
        yield "charset", mail(ctype=f'text/plain; charset="{cs}"', body="Caf\xe9 quote".encode())
        yield "charset", mail(subject=f"=?{enc}?q?caf=E9_quote?=", frm=f"=?{enc}?b?QW5u?= <a@b.co>")
        yield "charset", html_mail(f'<meta charset="{cs}"><p>caf\xe9 quote</p>', charset="")
        yield (
            "charset",
            mail(ctype=f"text/plain; charset*={enc}''%E9%00", body=b"Quote for 25 seats"),
        )
    yield "charset", mail(ctype="text/plain; charset=utf-16", body=b"\xff\xfe\x00\xd8" * 50)
    yield "charset", mail(ctype="text/plain; charset=utf-8", body=b"\xc3\x28\xa0\xa1" * 1000)
    for name, ch in CONTROLS.items():
        yield f"control-{name}", mail(frm=f'"Ann{ch}Lee" <ann.{name}@acme.example>')
        yield (
            f"control-{name}",
            mail(subject=f"Quote{ch}for 25 seats{ch}", frm=f"Ann <s.{name}@acme.example>"),
        )
        yield (
            f"control-{name}",
            mail(
                frm=f"Bo <b.{name}@acme.example>",
                body=f"Hi{ch}, quote please.\n\nBo Tan{ch}\nVP{ch} Sales, Ev{ch}il Corp{ch}\n+1 415 555 0100{ch}\n",
            ),
        )
        yield (
            f"control-{name}",
            mail(
                frm=f"Cy <c.{name}@acme.example>",
                headers=f"X-Odd: a{ch}b\r\nReply-To: <r{ch}@acme.example>\r\n",
            ),
        )
    yield "control-cr", mail(frm="Dee <d.cr2@acme.example>", body="line1\rline2\r\rDee\rCEO\r")
    yield "control-cr", b"From: Ed <e@acme.example>\rTo: l@leads.example.com\rSubject: x\r\rbody\r"
    yield "control-nul", mail(frm="Fay <f.nul@acme.example>", body=b"\x00" * 100_000)
    yield "control-nul", b"From: G\x00 <g\x00@acme.example>\r\nSubject: \x00\r\n\r\n\x00"
    yield "huge", mail(subject="S" * 1_000_000)
    yield "huge", mail(subject="=?utf-8?q?" + "=E9" * 100_000 + "?=")
    yield "huge", mail(frm=", ".join(f"u{i} <u{i}@acme.example>" for i in range(20_000)))
    yield "huge", mail(headers="".join(f"X-H{i}: v\r\n" for i in range(50_000)))
    yield "huge", mail(body="x" * 5_000_000)
    yield "huge", mail(body="word " * 1_000_000)
    yield "huge", mail(headers="X-Folded: a" + "\r\n b" * 100_000 + "\r\n")
    yield "huge", mail(cte="base64", body=base64.encodebytes(os.urandom(3_000_000)))
    yield "huge", mail(cte="quoted-printable", body=b"=\r\n" * 500_000 + b"quote")
    for depth in (100, 1000, 10_000, 100_000):
        yield "html-nesting", html_mail("<div>" * depth + "quote please" + "</div>" * depth)
        yield "html-nesting", html_mail("<table><tr><td>" * (depth // 10) + "x")
    yield "html-nesting", html_mail("<b><i>" * 50_000)
    yield "html-nesting", html_mail("<ul><li>" * 20_000 + "quote")
    hostile_html = [
        "<script>alert(1)</script><p onclick='x'>Hi</p>",
        "<a href='javascript:alert(1)'>@channel <!here></a>",
        "<!--" + "x" * 500_000,
        "<![CDATA[" + "<" * 100_000,
        "&amp;" * 200_000,
        "&#x" + "0" * 100_000 + "41;",
        "&#1114112;&#0;&#xD800;&#x1b;[31m",
        "<style>" + "a{}" * 100_000 + "</style>quote",
        "<p " + "a=b " * 100_000 + ">x</p>",
        "<" * 500_000,
        "<svg><foreignObject><math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
        "<meta charset='zlib_codec'><p>x</p>",
        "<form><input name=email value='<@U123>'></form> &lt;@U123&gt; <!channel>",
        "\u202egnp.exe<br>" * 100,
        "<p>" + "\x1b[31m" * 1000 + "</p>",
    ]
    for html in hostile_html:
        yield "html-hostile", html_mail(html)
    yield (
        "html-hostile",
        mail(
            ctype='multipart/alternative; boundary="a"',
            body="--a\r\nContent-Type: text/html\r\n\r\n<p>&lt;!channel&gt; <b>@here</b></p>\r\n--a--\r\n",
        ),
    )
    malformed = [
        b"",
        b"\r\n\r\n",
        b"From:\r\n\r\n",
        b"From: <>\r\nSubject: x\r\n\r\nx",
        b"From: alice@example.org)<bob@example.org>\r\nSubject: x\r\n\r\nx",
        b"From: " + b"(" * 10_000 + b"\r\nSubject: x\r\n\r\n",
        b"From: a@b.co\r\nContent-Type: multipart/mixed\r\n\r\n--\r\n--",
        b"From: a@b.co\r\nContent-Type: multipart/mixed; boundary=\r\n\r\n----\r\n",
        b"From: a@b.co\r\nContent-Transfer-Encoding: base64\r\n\r\n====!!!!",
        b"From: a@b.co\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 x\n!!!\nend\n",
        b"From: a@b.co\r\nContent-Type: \x00\r\n\r\nx",
        b"From: a@b.co\r\nContent-Type: text/plain; charset=\r\n\r\nx",
        b"From: a@b.co\r\nDate: Mon, 99 Foo 99999 99:99:99 +9999\r\n\r\nx",
        b"From: a@b.co\r\nDate: " + b"1" * 10_000 + b"\r\n\r\nx",
        b"From: a@b.co\r\nMessage-ID: <" + b"m" * 100_000 + b">\r\n\r\nx",
        b"From: a@b.co\r\nSubject: =?utf-8?b?" + b"=" * 10_000 + b"?=\r\n\r\nx",
        b"From: =?utf-8?q?Ann=0D=0ABcc:_x@y.z?= <ann@acme.example>\r\nSubject: x\r\n\r\nx",
        b"From: \xff\xfe\xfd <ann8@acme.example>\r\nSubject: \xc3\x28\r\n\r\nx",
        b"From: ann@acme.example\nSubject: x\n\n" + b"\n" * 1_000_000,
        b"From: a@b.co\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" + b"--b\r\n" * 100_000,
        b"From: a@b.co\r\nContent-Type: message/partial; id=x; number=1; total=2\r\n\r\nx",
        b"From: a@b.co\r\nContent-Type: text/plain; format=flowed; delsp=yes\r\n\r\n"
        + b"a \r\n" * 200_000,
        b"From: a@b.co\r\nContent-Type: message/external-body; access-type=URL; URL=file:///etc/passwd\r\n\r\n",
    ]
    for m in malformed:
        yield "malformed", m
    for text in REDOS.values():
        yield "redos", mail(body=text)
        yield "redos", html_mail("<p>" + text.replace("\n", "<br>") + "</p>")
        yield "redos", mail(frm="Rita Rep <rita@ourco.example>", subject="Fwd: quote", body=text)
    for frm in REDOS_FROM.values():
        yield "redos", mail(frm=frm)
    for subject in ("Re: " * 100_000, "Fwd: " * 100_000, "[" * 200_000, "=?utf-8?q?a?= " * 50_000):
        yield "redos", mail(subject=subject)
    corpus = DATA / "corpus"
    for path in sorted(p for p in corpus.rglob("*") if p.is_file() and p.suffix != ".md"):
        yield "corpus", path.read_bytes()


def mutated_mails(n: int, seed: int) -> list[bytes]:
    """`n` hypothesis byte mutations of the sample messages (headers and bodies hit alike)."""
    samples = [p.read_bytes()[:30_000] for p in sorted((DATA / "emails").glob("*.eml"))]
    out: list[bytes] = []

    @hypothesis_seed(seed)
    @settings(max_examples=n, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(st.sampled_from(samples).flatmap(mutated_bytes))
    def collect(raw: bytes) -> None:
        out.append(raw)

    collect()
    return out[:n]


class Record:
    """What went wrong, by category."""

    def __init__(self) -> None:
        self.tries: Counter[str] = Counter()
        self.problems: dict[str, list[str]] = defaultdict(list)
        self.slowest: list[tuple[float, str]] = []
        self.statuses: dict[str, Counter[int]] = defaultdict(Counter)

    def problem(self, category: str, what: str) -> None:
        self.problems[category].append(what)

    def timed(
        self, category: str, label: str, fn: Callable[[], Any], *, slow: float | None = SLOW_S
    ) -> Any:
        self.tries[category] += 1
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        start = time.perf_counter()
        try:
            result = fn()
        except Exception as e:  # a crash is the finding
            self.problem(category, f"exception {type(e).__name__}: {str(e)[:200]} for {label}")
            traceback.print_exc(limit=3, file=sys.stderr)
            result = None
        spent = time.perf_counter() - start
        grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - rss
        self.slowest = sorted([*self.slowest, (spent, f"{category}: {label}")], reverse=True)[:8]
        if slow is not None and spent > slow:
            self.problem(category, f"{spent:.1f} s for {label}")
        if grown > RSS_MB:
            self.problem(category, f"RSS grew {grown:.0f} MB for {label}")
        return result

    def print(self) -> int:
        print(f"{'category':24s} {'tries':>6s} {'problems':>8s}")
        for category in sorted(self.tries):
            answers = ", ".join(f"{k}: {n}" for k, n in sorted(self.statuses[category].items()))
            print(
                f"{category:24s} {self.tries[category]:6d} {len(self.problems[category]):8d}"
                + (f"  ({answers})" if answers else "")
            )
        print(
            f"total: {sum(self.tries.values())} inputs, "
            f"{sum(map(len, self.problems.values()))} problems"
        )
        for category, items in sorted(self.problems.items()):
            for item in items[:15]:
                print(f"  [{category}] {item}")
        print("slowest:")
        for spent, what in self.slowest:
            print(f"  {spent:7.2f} s  {what[:120]}")
        return 1 if any(self.problems.values()) else 0


def short(raw: bytes) -> str:
    return repr(raw[:90]) + (f"… ({len(raw)} bytes)" if len(raw) > 90 else "")


def sweep_mime(runtime: Any, rec: Record, *, examples: int, seed: int) -> None:
    pipeline = runtime.pipeline
    inputs = [*mime_inputs(), *(("mutated", m) for m in mutated_mails(examples, seed))]
    for category, raw in inputs:

        def one(raw: bytes = raw, category: str = category) -> None:
            try:
                raw_id, new = pipeline.accept(raw, channel="file")
            except InputRejected:
                return  # refused before storing, with a reason: allowed
            outcome = pipeline.process(raw_id) if new else None
            with runtime.store.reading() as s:
                row = s.get(RawInput, raw_id)
            if row is None:
                rec.problem(category, f"accepted raw {raw_id} missing for {short(raw)}")
                return
            if RawStatus(row.status) not in SETTLED:
                rec.problem(category, f"raw {raw_id} left {row.status} for {short(raw)}")
            if (row.reason or "").startswith("internal error"):
                rec.problem(category, f"raw {raw_id}: {row.reason[:160]} for {short(raw)}")
            if row.status == RawStatus.FAILED and not row.reason:
                rec.problem(category, f"raw {raw_id} failed without a reason")
            del outcome

        rec.timed(category, short(raw), one)


def http_inputs() -> Iterator[tuple[str, str, str, dict[str, str], bytes]]:
    """(category, method, path, headers, body)."""
    j = {"content-type": "application/json"}
    form = {"content-type": "application/x-www-form-urlencoded"}
    for depth in (100, 1000, 10_000, 100_000, 1_000_000):
        deep = b"[" * depth + b"]" * depth
        deep_obj = b'{"a":' * depth + b'"x"' + b"}" * depth
        yield "json-nesting", "POST", "/forms/demo", j, deep
        yield "json-nesting", "POST", "/forms/demo", j, deep_obj
        yield (
            "json-nesting",
            "POST",
            "/events",
            j,
            b'{"key":"%s","events":' % WRITE_KEY.encode() + deep + b"}",
        )
        yield "json-nesting", "POST", "/inbound/postmark?key=pm", j, deep_obj
        yield "json-nesting", "POST", "/webhooks/typeform/demo", j, deep_obj
    yield (
        "json-huge",
        "POST",
        "/forms/demo",
        j,
        b'{"email":"a@b.co","m":"' + b"x" * 20_000_000 + b'"}',
    )
    yield "json-huge", "POST", "/forms/demo", j, b"[" + b"1," * 2_000_000 + b"1]"
    yield (
        "json-huge",
        "POST",
        "/events",
        j,
        json.dumps({"key": WRITE_KEY, "events": [{"type": "page"}] * 100_000}).encode(),
    )
    yield "json-huge", "POST", "/forms/demo", j, b'{"a":' + b"9" * 100_000 + b"}"
    yield "json-huge", "POST", "/forms/demo", j, b'{"email":"a@b.co","n":1e999999}'
    for name, text in REDOS.items():
        values = {
            "email": f"redos.{name}@acme.example",
            "name": text[:2000],
            "phone": text[:2000],
            "company": text[:2000],
            "title": text[:2000],
            "message": text[:20_000],
        }
        yield "form-redos", "POST", "/forms/demo", j, json.dumps(values).encode()
    for name, ch in CONTROLS.items():
        values = {
            "email": f"x.{name}@acme.example",
            "name": f"Ann{ch}Lee",
            "company": f"Ev{ch}il",
            "message": f"quote{ch}please <!channel> <@U1> & <http://x|y>",
            "title": f"CTO{ch}",
        }
        yield f"form-control-{name}", "POST", "/forms/demo", j, json.dumps(values).encode()
        event = {
            "key": WRITE_KEY,
            "events": [
                {
                    "type": "page",
                    "url": f"https://www.acme.example/{ch}",
                    "anonymous_id": f"a{ch}",
                    "title": f"t{ch}",
                    "email": f"e.{name}@acme.example",
                }
            ],
        }
        yield f"events-control-{name}", "POST", "/events", j, json.dumps(event).encode()
    for body in (
        b"",
        b"{",
        b"null",
        b"[]",
        b'"x"',
        b"\xff\xfe",
        b'{"key":null}',
        b'{"key":["x"]}',
        b'{"key":"%s","events":{"a":1}}' % WRITE_KEY.encode(),
        b'{"key":"%s","events":[null,1,"x",[],{"type":{"a":1}}]}' % WRITE_KEY.encode(),
        b'{"key":"%s","events":[{"type":"identify","traits":{"email":"<@U1>@x"}}]}'
        % WRITE_KEY.encode(),
        b'{"key":"%s\\u0000"}' % WRITE_KEY.encode(),
        b'{"key":"\\ud800"}',
    ):
        yield "events-malformed", "POST", "/events", j, body
    yield (
        "events-malformed",
        "POST",
        "/events",
        {"content-type": "application/json; charset=zlib_codec"},
        b"{}",
    )
    # GET /r/{token}: garbage, long, percent-encoded controls, a forged signature.
    for token in [
        "x",
        "." * 200,
        "%00",
        "%0d%0aLocation:%20http://evil",
        "a" * 10_000,
        "%ff%fe",
        "..%2F..%2Fetc",
        "eyJ1Ijoi" + "A" * 5000,
        "%E2%80%AE",
        "AAAA.BBBB",
        "AAAA.BBBB.CCCC",
        "_-_-_-.-_-_",
        "\u00e9",
        "a%25%25",
    ]:
        yield "link-token", "GET", f"/r/{token}", {}, b""
    # POST /slack/events: forged, stale, malformed signatures (the secret is set).
    body = json.dumps(
        {
            "type": "event_callback",
            "event_id": "Ev1",
            "team_id": "T1",
            "event": {"type": "app_mention", "text": "hi", "user": "U1"},
        }
    ).encode()
    now = int(time.time())
    good = sign_slack(body, SIGNING_SECRET, now)
    forged = [
        {},
        {"X-Slack-Request-Timestamp": str(now)},
        {"X-Slack-Signature": good["X-Slack-Signature"]},
        {**good, "X-Slack-Signature": "v0=" + "0" * 64},
        {**good, "X-Slack-Signature": "v1=" + good["X-Slack-Signature"][3:]},
        {**good, "X-Slack-Signature": good["X-Slack-Signature"].upper()},
        {**good, "X-Slack-Signature": "v0="},
        {**good, "X-Slack-Signature": "v0=" + "é" * 64},
        {**good, "X-Slack-Signature": "x" * 100_000},
        sign_slack(body, SIGNING_SECRET, now - 301),
        sign_slack(body, SIGNING_SECRET, now + 10_000),
        {**good, "X-Slack-Request-Timestamp": "abc"},
        {**good, "X-Slack-Request-Timestamp": "9" * 400},
        {**good, "X-Slack-Request-Timestamp": "-1"},
        {**good, "X-Slack-Request-Timestamp": "1e10"},
        {**good, "X-Slack-Request-Timestamp": str(now) + "\x00"},
        sign_slack(body, "wrong-secret", now),
    ]
    for headers in forged:
        yield "slack-forged", "POST", "/slack/events", {**j, **headers}, body
    tampered = sign_slack(body, SIGNING_SECRET, now)
    yield "slack-forged", "POST", "/slack/events", {**j, **tampered}, body + b" "
    yield (
        "slack-forged",
        "POST",
        "/slack/events",
        {**form, **sign_slack(b"payload=%7B", SIGNING_SECRET, now)},
        b"payload=%7B",
    )
    deep = b"payload=" + b"%5B" * 100_000
    yield (
        "slack-forged",
        "POST",
        "/slack/events",
        {**form, **sign_slack(deep, SIGNING_SECRET, now)},
        deep,
    )
    # POST /inbound/sendgrid with hostile MIME in the email field.
    for raw in (
        nested_multipart(1000),
        many_parts(10_000),
        nested_rfc822(200),
        html_mail("<div>" * 100_000),
        mail(frm='"\u202eAnn\x1b[2J" <in.bidi@acme.example>'),
    ):
        b = "B0"
        mp = (
            f'--{b}\r\nContent-Disposition: form-data; name="email"\r\n\r\n'.encode()
            + raw
            + f"\r\n--{b}--\r\n".encode()
        )
        yield (
            "inbound-mime",
            "POST",
            "/inbound/sendgrid?key=sg",
            {"content-type": f"multipart/form-data; boundary={b}"},
            mp,
        )


def sweep_http(runtime: Any, app: Any, rec: Record) -> None:
    with TestClient(app, raise_server_exceptions=False) as client:
        for category, method, path, headers, body in http_inputs():
            raw_headers = {k: v.encode("utf-8") for k, v in headers.items()}
            label = f"{method} {path[:60]} {short(body)}"

            def one(
                method: str = method,
                path: str = path,
                raw_headers: Any = raw_headers,
                body: bytes = body,
                label: str = label,
                category: str = category,
            ) -> None:
                r = client.request(method, path, content=body, headers=raw_headers)
                rec.statuses[category][r.status_code] += 1
                if path.startswith("/r/"):
                    if r.status_code >= 500:
                        rec.problem(category, f"{r.status_code} for {label}")
                    elif r.status_code in (301, 302, 303, 307, 308):
                        rec.problem(
                            category, f"a bad token redirected to {r.headers.get('location')}"
                        )
                    return
                if path.startswith("/slack/") and r.status_code < 400:
                    rec.problem(category, f"{r.status_code} for a bad signature: {label}")
                    return

                class _R:
                    short = staticmethod(lambda: label)

                problem = check(_R(), r.status_code, r.content)  # type: ignore[arg-type]
                if problem and not path.startswith("/slack/"):
                    rec.problem(category, problem[:300])
                if r.status_code >= 500:
                    rec.problem(category, f"{r.status_code} for {label}: {r.content[:200]!r}")
                if r.status_code < 300:
                    try:
                        answer = r.json()
                    except ValueError:
                        answer = {}
                    raw_id = (
                        answer.get("raw_id") or answer.get("submission_id")
                        if isinstance(answer, dict)
                        else None
                    )
                    if isinstance(raw_id, int):
                        with runtime.store.reading() as s:
                            if s.get(RawInput, raw_id) is None:
                                rec.problem(
                                    category,
                                    f"answered {r.status_code} but raw {raw_id} missing: {label}",
                                )

            rec.timed(category, label, one)


def check_settled(runtime: Any, rec: Record, category: str) -> None:
    """Whatever was accepted is in the database, read (or failed with a reason of its own)."""
    rec.timed(category, "process_pending", runtime.pipeline.process_pending)
    with runtime.store.reading() as s:
        rows = list(s.exec(select(RawInput)))
    for row in rows:
        if RawStatus(row.status) not in SETTLED:
            rec.problem(category, f"raw {row.id} ({row.channel}) left {row.status}")
        if (row.reason or "").startswith("internal error"):
            rec.problem(category, f"raw {row.id} ({row.channel}): {row.reason[:160]}")
    print(
        f"{category}: {len(rows)} stored inputs, by status: "
        f"{dict(Counter(str(r.status) for r in rows))}"
    )


def sweep_show(runtime: Any, rec: Record, *, limit: int = 300) -> None:
    """Every lead the sweep made: `leads show`, `review show` and the Slack card."""
    import contextlib
    import io

    from bot.cli import main as cli_main
    from bot.slack.blocks import ask_of, lead_card
    from storage.leads import activities_of

    env = {
        "LEADBOT_DATABASE_URL": runtime.store.url,
        "LEADBOT_INBOX_DOMAINS": "leads.example.com",
        "LEADBOT_INTERNAL_DOMAINS": "ourco.example",
    }
    os.environ.update(env)
    with runtime.store.reading() as s:
        leads = list(s.exec(select(Lead).limit(limit)))
        reviews = [
            r.id
            for r in s.exec(select(RawInput).where(RawInput.status == RawStatus.REVIEW).limit(50))
        ]
    bad = {chr(c) for c in range(32) if chr(c) not in "\n"} | {chr(c) for c in range(0x7F, 0xA0)}
    bad |= set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u2028\u2029")
    runs = [("leads-show", ["leads", "show", lead.email]) for lead in leads]
    runs += [("leads-show", ["leads", "show", lead.email, "--json"]) for lead in leads[:50]]
    runs += [("review-show", ["review", "show", str(i)]) for i in reviews]
    runs += [("leads-list", ["leads", "list"])]
    for category, argv in runs:

        def one(argv: list[str] = argv, category: str = category) -> None:
            out, err = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    code = cli_main(["--env-file", str(EMPTY_ENV), *argv])
                except SystemExit as e:
                    code = e.code
            text = out.getvalue() + err.getvalue()
            found = sorted({repr(ch) for ch in text if ch in bad})
            if found:
                rec.problem(category, f"{' '.join(argv)[:80]!r} printed {', '.join(found)}")
            if code not in (0, 1):
                rec.problem(category, f"{' '.join(argv)[:80]!r} exited {code}: {text[-200:]!r}")

        rec.timed(category, " ".join(argv)[:80], one)
    for lead in leads:

        def card(lead: Lead = lead) -> None:
            with runtime.store.reading() as s:
                acts = activities_of(s, lead.id or 0)
            asks = [a for a in (ask_of(x) for x in acts) if a is not None]
            message = lead_card(lead, ask=asks[-1] if asks else None)
            texts = list(_texts(message))
            for field in (lead.name, lead.company, lead.title):
                if field and any(c in field for c in "<>") and any(field in t for t in texts):
                    rec.problem(
                        "slack-card", f"unescaped {field[:60]!r} on the card of {lead.email}"
                    )
            for t in texts:
                for mention in ("<!channel", "<!here", "<@U", "<!everyone"):
                    if mention in t:
                        rec.problem("slack-card", f"{mention} reached the card of {lead.email}")

        rec.timed("slack-card", lead.email, card)


def _texts(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("text", "alt_text") and isinstance(value, str):
                yield value
            else:
                yield from _texts(value)
    elif isinstance(node, list):
        for item in node:
            yield from _texts(item)


def sweep_cli(url: str, rec: Record) -> None:
    """A few messages piped to a spawned `leadbot ingest -`: exit 0 means stored."""
    exe = ROOT / ".venv" / "bin" / "leadbot"
    env = {**os.environ, "LEADBOT_DATABASE_URL": url, "LEADBOT_INBOX_DOMAINS": "leads.example.com"}
    samples = [
        b"",
        b"garbage\x00\xff",
        nested_multipart(1000),
        many_parts(10_000),
        mail(frm='"\x1b]0;x\x07Ann" <cli.ansi@acme.example>'),
        html_mail("<div>" * 100_000),
        mail(ctype="text/plain; charset=zlib_codec"),
        mail(subject="S" * 1_000_000),
    ]
    # A spawn costs a second or two on a busy machine: slow means 2 s over a plain message's.
    plain = time.perf_counter()
    subprocess.run([str(exe), "--env-file", str(EMPTY_ENV), "ingest", "-"], input=mail(),
                   capture_output=True, env=env, timeout=60)  # fmt: skip
    baseline = time.perf_counter() - plain
    for raw in samples:

        def one(raw: bytes = raw) -> None:
            start = time.perf_counter()
            p = subprocess.run(
                [str(exe), "--env-file", str(EMPTY_ENV), "ingest", "-"],
                input=raw,
                capture_output=True,
                env=env,
                timeout=60,
            )
            err = p.stderr.decode("utf-8", "replace")
            if "Traceback" in err:
                rec.problem("cli-ingest", f"traceback for {short(raw)}: {err[-300:]!r}")
            spent = time.perf_counter() - start
            if spent > baseline + SLOW_S:
                rec.problem(
                    "cli-ingest", f"{spent:.1f} s (plain: {baseline:.1f} s) for {short(raw)}"
                )
            if p.returncode != 0 and not err.strip():
                rec.problem("cli-ingest", f"exit {p.returncode} without a message for {short(raw)}")

        rec.timed("cli-ingest", short(raw), one, slow=None)


def _rss_peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def sweep_serve(rec: Record) -> None:
    """A real `leadbot serve`: hostile messages over SMTP and HTTP while a good sender and
    /healthz are timed beside them (no hostile input may stall another client)."""
    import smtplib
    import threading
    import urllib.request

    from tests.serving import free_port, start_serve

    work = Path(tempfile.mkdtemp(prefix="leadbot-hostile-serve-"))
    smtp_port, http_port = free_port(), free_port()
    env = {
        **os.environ,
        "LEADBOT_DATABASE_URL": f"sqlite:///{work}/serve.db",
        "LEADBOT_INBOX_DOMAINS": "leads.example.com",
        "LEADBOT_ENV_FILE": str(EMPTY_ENV),
    }
    proc = start_serve(env, work, smtp_port=smtp_port, http_port=http_port)
    stop = threading.Event()
    beside: list[float] = []

    def good_sender() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            start = time.perf_counter()
            with smtplib.SMTP("127.0.0.1", smtp_port, timeout=60) as smtp:
                smtp.sendmail(
                    "g@acme.example",
                    ["leads@leads.example.com"],
                    mail(frm=f"Good <good{n}@acme.example>"),
                )
            with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/healthz", timeout=60):
                pass
            beside.append(time.perf_counter() - start)
            time.sleep(0.2)

    watcher = threading.Thread(target=good_sender, daemon=True)
    watcher.start()
    hostile = [
        nested_multipart(5000),
        nested_rfc822(1000),
        many_parts(30_000),
        mail(ctype="text/plain; " + "; ".join(f"p{i}=v" for i in range(20_000))),
        html_mail("<b><i>" * 300_000),
        html_mail("<" * 2_000_000),
        mail(ctype='text/plain; charset="undefined"', body=b"caf\xe9"),
        mail(subject="=?idna?q?caf=E9?="),
        mail(body=b"\x00" * 1_000_000),
        mail(frm='"\u202eAnn\x1b[2J" <serve.bidi@acme.example>'),
        b"From: a@b.co\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" + b"--b\r\n" * 200_000,
        mail(headers="".join(f"X-H{i}: v\r\n" for i in range(50_000))),
        mail(subject="S" * 1_000_000),
        b"not a message at all",
    ]
    for raw in hostile:

        def one(raw: bytes = raw) -> None:
            try:
                with smtplib.SMTP("127.0.0.1", smtp_port, timeout=60) as smtp:
                    smtp.sendmail("x@acme.example", ["leads@leads.example.com"], raw)
                rec.statuses["serve-smtp"][250] += 1
            except smtplib.SMTPResponseException as e:
                rec.statuses["serve-smtp"][e.smtp_code] += 1
                text = (
                    e.smtp_error.decode("utf-8", "replace")
                    if isinstance(e.smtp_error, bytes)
                    else str(e.smtp_error)
                )
                print(f"  SMTP {e.smtp_code} {text[:80]!r} for {short(raw)[:70]}")
                if e.smtp_code >= 500 and len(text.strip()) < 8:
                    rec.problem("serve-smtp", f"{e.smtp_code} without a reason for {short(raw)}")
            except smtplib.SMTPRecipientsRefused as e:
                rec.problem("serve-smtp", f"recipients refused {e.recipients} for {short(raw)}")

        rec.timed("serve-smtp", short(raw), one)
    stop.set()
    watcher.join(timeout=120)
    rss = _rss_peak_mb(proc.pid)
    proc.terminate()
    out = proc.communicate(timeout=30)[0]
    if "Traceback" in out:
        rec.problem(
            "serve-smtp", f"a traceback in serve's log: {out[out.index('Traceback') :][:400]!r}"
        )
    worst = max(beside, default=0.0)
    print(
        f"serve: good sender beside the hostile ones: {len(beside)} sends, slowest "
        f"{worst:.2f} s; serve's peak RSS {rss:.0f} MB"
    )
    if worst > SLOW_S:
        rec.problem("serve-smtp", f"a good sender waited {worst:.1f} s beside the hostile ones")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--only", default="mime,http,cli,show,serve")
    parser.add_argument("--examples", type=int, default=150)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{tempfile.mkdtemp(prefix='leadbot-hostile-')}/h.db"
    store = Store(url)
    upgrade(store)
    forms = Path(tempfile.mkdtemp(prefix="leadbot-hostile-")) / "forms.toml"
    forms.write_text(FORMS_TOML)
    runtime = build_runtime(
        make_settings(
            store.url,
            LEADBOT_FORMS=str(forms),
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_BOT_TOKEN="xoxb-hostile",
            slack_api_url="http://127.0.0.1:9",
            tracking_keys=f"www={WRITE_KEY}",
            **SECRETS,
        ),
        store=store,
    )
    logging.getLogger("leadbot").setLevel(logging.CRITICAL)
    rec = Record()
    only = set(args.only.split(","))
    if "mime" in only:
        sweep_mime(runtime, rec, examples=args.examples, seed=args.seed)
    if "http" in only:
        sweep_http(runtime, create_app(runtime), rec)
    check_settled(runtime, rec, "settled")
    if "cli" in only:
        sweep_cli(store.url, rec)
    if "show" in only:
        sweep_show(runtime, rec)
    if "serve" in only:
        sweep_serve(rec)
    print(f"database: {store.url.split('@')[-1]}")
    return rec.print()


if __name__ == "__main__":
    raise SystemExit(main())
