"""The pure parts of tracking: events, tokens, robots, sites, the script; and pruning visits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlmodel import select

from bot.privacy import prune_visits
from ingest.tracking import links
from ingest.tracking.bots import is_bot
from ingest.tracking.events import (
    Identity,
    TrackedEvent,
    parse_json,
    parse_time,
    path_words,
    read_batch,
    utm_of,
)
from ingest.tracking.script import render_script
from ingest.tracking.sites import load_tracking, parse_keys
from storage.db import Store
from storage.errors import ConfigError, ParseError
from storage.models import AnonymousEvent, TrackingVisitor
from tests.conftest import make_settings

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
KEY = b"k" * 32


def test_a_batch_reads_events_identities_and_drop_reasons() -> None:
    batch = read_batch(
        {
            "visitor": "visitor-0001",
            "events": [
                {
                    "id": "a",
                    "type": "pageview",
                    "url": "https://x.example/Pricing/Team-Plan?utm_campaign=q4",
                },
                {"type": "identify", "email": "Ann@X.example"},
                {
                    "type": "download",
                    "url": "https://x.example/a.pdf",
                    "visitor": "x",
                },  # bad id: batch's
                {
                    "type": "custom",
                    "name": "trial started",
                    "props": {"Plan Name": "team", "_visitor": "x"},
                },
                {"type": "identify"},
            ],
        },
        site="www",
        now=NOW,
    )
    assert batch.dropped == {"invalid": 2}
    assert batch.identities == [Identity("visitor-0001", email="ann@x.example")]
    view, custom = batch.events
    assert isinstance(view, TrackedEvent)
    assert (view.kind, view.dedup_key, view.source, view.occurred_at) == (
        "page_visit",
        "ev:www:a",
        "web:www",
        NOW,
    )
    assert view.fields["utm_campaign"] == "q4" and view.text == "Pricing Team Plan"
    assert custom.visitor == "visitor-0001" and custom.dedup_key.startswith("ev:")
    assert custom.kind == "event" and custom.fields == {
        "plan_name": "team",
        "visitor": "x",
        "event": "trial started",
    }


def test_times_are_read_and_never_in_the_future() -> None:
    assert parse_time(1764590400) == datetime(2025, 12, 1, 12, 0, tzinfo=UTC)
    assert parse_time(1764590400000) == parse_time("1764590400") == parse_time(1764590400)
    assert parse_time("2026-11-30T10:00:00") == datetime(2026, 11, 30, 10, tzinfo=UTC)
    assert parse_time("2026-11-30T10:00:00+02:00") == datetime(2026, 11, 30, 8, tzinfo=UTC)
    for bad in ("soon", "", True, -5, float("nan"), 10**30, None, [1]):
        assert parse_time(bad) is None, bad
    tomorrow = int((NOW + timedelta(days=1)).timestamp())
    [event] = read_batch(
        {"email": "a@a.example", "events": [{"type": "webinar", "ts": tomorrow}]}, site="s", now=NOW
    ).events
    assert event.occurred_at == NOW


def test_the_body_must_be_a_json_object() -> None:
    assert parse_json(b'{"events": []}') == {"events": []}
    for bad in (b"[]", b"nope", b"\xff", b"[" * 50_000, b'{"n": ' + b"9" * 5000 + b"}"):
        with pytest.raises(ParseError):
            parse_json(bad)
    with pytest.raises(ParseError):
        read_batch({"events": "many"}, site="s", now=NOW)


def test_page_addresses_give_words_and_campaigns() -> None:
    assert (
        path_words("https://x.example/de/preise_und-pl%C3%A4ne.html") == "de preise und pläne html"
    )
    assert path_words(None) == ""
    assert utm_of("https://x.example/?utm_Source=news&utm_campaign=%20a%0Ab&utm_=x&q=1") == {
        "utm_source": "news",
        "utm_campaign": "a b",
    }


def test_link_tokens_carry_the_lead_and_cannot_be_changed() -> None:
    token = links.make_link(
        KEY, lead_id=7, url="https://x.example/a?b=1", campaign="spring", expires_at=NOW
    )
    link = links.read_link(KEY, token)
    assert (link.lead_id, link.url, link.campaign) == (7, "https://x.example/a?b=1", "spring")
    assert link.expired(NOW) and not link.expired(NOW - timedelta(seconds=1))
    with pytest.raises(links.BadToken):
        links.read_link(b"another key is another signature", token)
    payload, sig = token.split(".")
    for forged in (payload + "x." + sig, f"{payload}.{sig[:-1]}", "a.b.c", "", "é.é", "x" * 5000):
        with pytest.raises(links.BadToken):
            links.read_link(KEY, forged)
    # An identity token is not a link token, nor the other way round.
    ident = links.make_identity(KEY, 7, now=NOW)
    assert links.read_identity(KEY, ident, now=NOW) == 7
    assert links.read_identity(KEY, ident, now=NOW + links.IDENTITY_TTL) is None
    assert links.read_identity(b"x" * 32, ident, now=NOW) is None
    with pytest.raises(links.BadToken):
        links.read_link(KEY, ident)
    assert links.read_identity(KEY, token, now=NOW) is None


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "//evil.example",
        "https://a@evil.example",
        "http://",
        "https://x/ y",
        "https://x.example\\@evil.example",
        "data:text/html,hi",
    ],
)
def test_a_link_target_must_be_a_plain_web_address(url: str) -> None:
    with pytest.raises(ValueError):
        links.check_target(url)


BROWSERS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.6478.71 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0",
]
ROBOTS = [
    "",
    "curl/8.5.0",
    "python-requests/2.32.3",
    "Go-http-client/2.0",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Linux; Android 11; moto g power (2022)) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/109.0.0.0 Mobile Safari/537.36 Chrome-Lighthouse",
    "Mozilla/5.0 (compatible; ExampleMonitor/1.0; admin@monitor.example)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)",
    "Mozilla/5.0 " + "x" * 600,
]


def test_robots_are_told_from_browsers() -> None:
    assert [ua for ua in BROWSERS if is_bot(ua)] == []
    assert [ua for ua in ROBOTS if not is_bot(ua)] == []


def test_sites_come_from_the_setting_and_the_forms_file(tmp_path: Path) -> None:
    assert parse_keys(" www=wk_12345678 , docs=wk_abcdefgh ")["docs"].key == "wk_abcdefgh"
    for bad in ("www", "www=short", "b@d=wk_12345678", "www=wk_1234567 8"):
        with pytest.raises(ConfigError, match="LEADBOT_TRACKING_KEYS"):
            parse_keys(bad)
    forms = tmp_path / "forms.toml"
    forms.write_text(
        '[sites.www]\nallowed_origins = ["https://WWW.example.com/"]\n'
        '[sites.blog]\nkey = "wk_blogblog"\nallowed_origins = "https://blog.example.com"\n'
    )
    config = load_tracking(keys="www=wk_12345678", forms_file=forms)
    www = config.site("wk_12345678")
    assert www is not None and www.allowed_origins == ("https://www.example.com",)
    assert config.site("wk_blogblog") is not None and config.site("nope") is None
    assert config.is_site_page("https://blog.example.com/post?x=1")
    assert not config.is_site_page("https://evil.example/")
    assert config.origin_allowed("https://www.example.com") and not config.origin_allowed(
        "https://x.y"
    )
    for text, what in (
        ("[sites.x]\nallowed_origins = []\n", "key"),
        ('[sites.x]\nkey = "wk_12345678"\ncolour = "red"\n', "unknown settings"),
        ('[sites.www]\nkey = "wk_blogblog"\n[sites.blog]\nkey = "wk_blogblog"\n', "share a key"),
        ("sites = 3\n", "tables"),
        ("[sites\n", "forms.toml"),
    ):
        forms.write_text(text)
        with pytest.raises(ConfigError, match=what):
            load_tracking(forms_file=forms)


def test_the_script_has_the_consent_setting_built_in() -> None:
    assert "CONSENT_REQUIRED = true" in render_script(consent_required=True)
    text = render_script(consent_required=False)
    assert "CONSENT_REQUIRED = false" in text and "__" not in text.replace("window.__", "")


def test_settings_of_tracking_are_checked() -> None:
    with pytest.raises(ValidationError, match="32 characters"):
        make_settings("sqlite://", secret_key="short")
    with pytest.raises(ValidationError, match="http"):
        make_settings("sqlite://", public_url="leads.example.com")
    with pytest.raises(ValidationError):
        make_settings("sqlite://", tracking_consent="maybe")
    s = make_settings("sqlite://", public_url="https://leads.example.com/", links_fallback_url=" ")
    assert s.public_url == "https://leads.example.com" and s.links_fallback_url is None


def test_old_anonymous_visits_are_pruned(store: Store) -> None:
    old = datetime.now(UTC) - timedelta(days=100)
    with store.session() as s:
        s.add(TrackingVisitor(visitor_id="old-visitor-1", last_seen=old, first_seen=old))
        s.add(
            AnonymousEvent(
                visitor_id="old-visitor-1",
                kind="page_visit",
                occurred_at=old,
                dedup_key="ev:x:1",
                received_at=old,
            )
        )
        s.add(
            AnonymousEvent(
                visitor_id="new-visitor", kind="page_visit", occurred_at=old, dedup_key="ev:x:2"
            )
        )
    assert prune_visits(store, days=0) == 0
    assert prune_visits(store, days=90) == 1
    with store.session() as s:
        assert s.get(TrackingVisitor, "old-visitor-1") is None
        assert [e.dedup_key for e in s.exec(select(AnonymousEvent))] == ["ev:x:2"]


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        ("https://www.example.com/docs?a=1#top", True),
        ("https://www.example.com/caf\u00e9", True),  # not a control character
        ("https://www.example.com/\x00", False),
        ("https://www.example.com/a\nb", False),
        ("https://www.example.com/\x1f", False),
        ("https://www.example.com/\x7f", False),
        ("ftp://www.example.com/", False),
    ],
)
def test_a_page_address_with_a_control_character_is_not_kept(url: str, kept: bool) -> None:
    from ingest.tracking.events import _url

    assert (_url(url) == url) is kept
