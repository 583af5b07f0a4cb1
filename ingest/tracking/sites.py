"""The sites allowed to send events: a name, a write key, the origins their pages are served from.

From LEADBOT_TRACKING_KEYS (`www=wk_4f…,docs=wk_9a…`) and from `[sites.<name>]` tables of the
forms file (LEADBOT_FORMS), which may add `allowed_origins` (and a key of its own):

    [sites.www]
    key = "wk_4f0c…"                                   # or from LEADBOT_TRACKING_KEYS
    allowed_origins = ["https://www.example.com", "https://example.com"]

A write key is public (it is in the page); it names the site and lets LeadBot refuse other sites'
pages. The origins are what CORS and the Origin check allow; "*" (the default) allows any.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ingest.forms.config import FORM_KEY
from storage.errors import ConfigError

WRITE_KEY = re.compile(r"^[A-Za-z0-9_-]{8,100}$")


@dataclass(frozen=True)
class Site:
    name: str
    key: str = field(repr=False)
    allowed_origins: tuple[str, ...] = ("*",)

    def origin_allowed(self, origin: str) -> bool:
        return "*" in self.allowed_origins or origin.rstrip("/").lower() in self.allowed_origins


@dataclass(frozen=True)
class TrackingConfig:
    """Sites by write key, and the limits of POST /events and /r/."""

    sites: dict[str, Site] = field(default_factory=dict)
    consent_required: bool = False
    rate_per_minute: float = 120.0
    burst: int = 60
    max_body_bytes: int = 64 * 1024
    max_events: int = 100
    fallback_url: str | None = None  # where a forged or expired link goes (None: 403)

    def site(self, key: str) -> Site | None:
        return self.sites.get(key) if isinstance(key, str) else None

    def origin_allowed(self, origin: str) -> bool:
        """Some site's pages may come from `origin` (a CORS preflight names no key)."""
        return any(s.origin_allowed(origin) for s in self.sites.values())

    def is_site_page(self, url: str) -> bool:
        """The address is on an origin a site lists by name (not "*"): a page with the script,
        so a tracked link may hand it the visitor's identity."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}".lower()
        return any(origin in s.allowed_origins for s in self.sites.values())


def parse_keys(text: str) -> dict[str, Site]:
    """`name=key,name=key` -> sites by name; ConfigError names the bad pair."""
    sites: dict[str, Site] = {}
    for pair in (p.strip() for p in text.split(",")):
        if not pair:
            continue
        name, sep, key = (part.strip() for part in pair.partition("="))
        if not sep or not FORM_KEY.match(name) or not WRITE_KEY.match(key):
            shown = name if FORM_KEY.match(name) else "?"
            raise ConfigError(
                f"LEADBOT_TRACKING_KEYS: {shown!r} must be name=key, the key 8 to 100 letters,"
                " digits, '-' or '_'"
            )
        sites[name] = Site(name, key)
    return sites


def _file_sites(path: Path, sites: dict[str, Site]) -> dict[str, Site]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ConfigError(f"cannot read forms file {path}: {e}") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: {e}") from None
    out = dict(sites)
    tables: Any = data.get("sites") or {}
    if not isinstance(tables, dict):
        raise ConfigError(f"{path}: [sites] must be tables, one per site")
    for name, table in tables.items():
        where = f"{path}: sites.{name}"
        if not FORM_KEY.match(name) or not isinstance(table, dict):
            raise ConfigError(f"{where}: not a valid site name and table")
        unknown = set(table) - {"key", "allowed_origins"}
        if unknown:
            raise ConfigError(f"{where}: unknown settings {sorted(unknown)}")
        key = table.get("key", out[name].key if name in out else None)
        if not isinstance(key, str) or not WRITE_KEY.match(key):
            raise ConfigError(f"{where}.key: 8 to 100 letters, digits, '-' or '_'")
        origins = table.get("allowed_origins", ["*"])
        if isinstance(origins, str):
            origins = [origins]
        if not isinstance(origins, list) or not all(isinstance(o, str) for o in origins):
            raise ConfigError(f"{where}.allowed_origins must be a list of strings")
        out[name] = Site(name, key, tuple(o.rstrip("/").lower() for o in origins))
    return out


def load_tracking(
    *, keys: str = "", forms_file: Path | None = None, **limits: Any
) -> TrackingConfig:
    """The sites of LEADBOT_TRACKING_KEYS and the forms file, with the limits given."""
    by_name = parse_keys(keys)
    if forms_file is not None:
        by_name = _file_sites(forms_file, by_name)
    by_key: dict[str, Site] = {}
    for site in by_name.values():
        if site.key in by_key:
            raise ConfigError(f"sites {by_key[site.key].name!r} and {site.name!r} share a key")
        by_key[site.key] = site
    return replace(TrackingConfig(), sites=by_key, **limits)
