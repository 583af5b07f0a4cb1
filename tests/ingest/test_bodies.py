"""ingest.bodies, ingest.fit and the routes' read pool: caps, charsets, column rules (pure)."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime

import pytest

from ingest.bodies import decode, normal_content_type, parse_form
from ingest.fit import dedup_key, fit_item
from ingest.http.offload import ReadPool
from ingest.inbound_payloads import _fold, build_message
from storage.batch import Item
from storage.errors import PayloadError, Refused


def multipart(*parts: str, boundary: str = "b") -> bytes:
    body = "".join(f"--{boundary}\r\n{p}\r\n" for p in parts) + f"--{boundary}--\r\n"
    return body.encode("utf-8")


def test_parts_are_read_with_their_charsets_and_caps() -> None:
    body = multipart(
        'Content-Disposition: form-data; name="name"\r\nContent-Type: text/plain; charset=latin-1'
        "\r\n\r\nRen\u00e9e",
        'Content-Disposition: form-data; name="name"\r\n\r\nsecond',
        'Content-Disposition: form-data; name="cv"; filename="cv.pdf"\r\n\r\n%PDF',
    )
    post = parse_form(body, "multipart/form-data; boundary=b", max_field_bytes=1000)
    assert post.charsets == {"name": "latin-1"}
    assert post.repeated["name"] == ["Ren\u00e9e".encode(), b"second"]
    assert [(f.field, f.filename, f.data) for f in post.files] == [("cv", "cv.pdf", b"%PDF")]
    too_many = multipart(
        *[f'Content-Disposition: form-data; name="f{i}"\r\n\r\nv' for i in range(11)]
    )
    with pytest.raises(PayloadError, match="too many fields"):
        parse_form(too_many, "multipart/form-data; boundary=b", max_fields=10, max_field_bytes=9)
    huge = multipart('Content-Disposition: form-data; name="a"; x="' + "y" * 5000 + '"\r\n\r\nv')
    with pytest.raises(PayloadError, match="header"):
        parse_form(huge, "multipart/form-data; boundary=b", max_field_bytes=9)
    with pytest.raises(PayloadError, match="boundary"):
        parse_form(body, "multipart/form-data", max_field_bytes=9)


@pytest.mark.parametrize(
    "charset", [None, "", "utf-8\x00", "no-such", "zlib_codec", "rot13", "x" * 2000, '"utf-8"']
)
def test_any_charset_name_decodes(charset: str | None) -> None:
    assert decode("caf\u00e9".encode(), charset) in ("caf\u00e9", "caf\u00c3\u00a9")


def test_normal_content_type_keeps_what_a_reader_needs() -> None:
    junk = "; ".join(f"p{i}=v{i}" for i in range(500))
    normal = normal_content_type(f"Multipart/Form-Data; {junk}; boundary=abc; charset=UTF-8")
    assert normal == 'multipart/form-data; boundary="abc"; charset=UTF-8'
    assert normal_content_type("application/json; charset=utf-8\x00") == "application/json"
    assert normal_content_type(None) is None
    with pytest.raises(PayloadError):
        normal_content_type("multipart/form-data; boundary=" + "b" * 71)


def item(**changes: object) -> Item:
    values: dict[str, object] = dict(
        email="ann@acme.example", kind="form_submission", source="form:x",
        occurred_at=datetime(2026, 1, 1, tzinfo=UTC), dedup_key="sha256:ab",
        profile={"name": "Ann", "company": "Acme", "title": None, "phone": "+8001234", "country": "001"},
        detail="d", data={"text": "t"}, forwarded_by=None, fields={}, raw_id=1,
    )  # fmt: skip
    values.update(changes)
    return Item(**values)  # type: ignore[arg-type]


def test_items_fit_their_columns() -> None:
    fitted = fit_item(
        item(
            profile={
                "name": "N\x00" * 300,
                "company": "\ud800",
                "phone": "+1" * 20,
                "country": "de",
            },
            data={"k\x00": ["v\x00", {"x": "\ud800"}]},
            fields={"a": "b\x00"},
            detail="x\x00y",
        )
    )
    assert fitted.profile == {
        "name": "N" * 200,
        "company": "\ufffd",
        "phone": None,
        "country": None,
    }
    assert fitted.data == {"k": ["v", {"x": "\ufffd"}]} and fitted.fields == {"a": "b"}
    assert fitted.detail == "xy"
    assert fit_item(item()).profile["country"] is None  # phonenumbers' "001"
    assert fit_item(item(profile={"country": "DE"})).profile["country"] == "DE"


def test_dedup_keys_that_do_not_fit_become_their_digest() -> None:
    assert dedup_key("msgid:a@b") == "msgid:a@b"
    long = "msgid:" + "m" * 400
    assert dedup_key(long) == dedup_key(long) and dedup_key(long).startswith("msgid~sha256:")
    assert len(dedup_key(long)) <= 300 and dedup_key(long) != dedup_key(long + "x")
    assert dedup_key("msgid:a\x00b") != dedup_key("msgid:ab")


def test_rebuilt_headers_fold_in_linear_time_and_unfold_to_what_was_sent() -> None:
    for value in ("\u00e9." * 500, "\u00e9 a " * 250, "x" * 1000, "a, " * 400, "w" * 90 + " end"):
        line = _fold(f"To: {value.strip()}")
        assert line.replace("\r\n", "") == f"To: {value.strip()}"
        parts = line.split("\r\n")
        assert all(len(p) <= 78 or p.strip().count(" ") == (n == 0) for n, p in enumerate(parts))
    many = [("To", ", ".join(f"\u00e9{i} <u{i}@x.example>" for i in range(2000)))]
    start = time.process_time()
    raw = build_message([*many, ("From", "\u00e9." * 4000)], text="x", html=None)
    assert time.process_time() - start < 0.5
    assert raw.count(b"\r\nTo: ") + raw.startswith(b"To: ") == 1


def test_the_read_pool_is_not_the_shared_pool_and_refuses_a_flood() -> None:
    async def scenario() -> None:
        pool = ReadPool(threads=2, max_waiting=2)
        release = threading.Event()
        busy = [asyncio.ensure_future(pool.run(release.wait)) for _ in range(4)]
        await asyncio.sleep(0.1)
        with pytest.raises(Refused) as refused:
            await pool.run(time.sleep, 0)
        assert refused.value.status == 503 and refused.value.headers["Retry-After"]
        # The shared default executor (healthz, Slack) still answers at once.
        start = time.monotonic()
        await asyncio.wait_for(asyncio.to_thread(lambda: None), timeout=1)
        assert time.monotonic() - start < 0.5
        release.set()
        await asyncio.gather(*busy)
        assert await pool.run(lambda: 42) == 42
        pool.shutdown()

    asyncio.run(scenario())
