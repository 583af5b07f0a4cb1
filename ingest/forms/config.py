"""Per-form settings read from the TOML file named by `LEADBOT_FORMS`.

strict = false                 # true (or LEADBOT_FORMS_STRICT=true): unknown form keys get 404
[defaults]                     # applies to every form, configured or not
rate_per_minute = 20
[forms.pricing]
title = "Talk to sales"
thank_you_url = "https://www.example.com/thanks"
provider = "typeform"          # only /webhooks/typeform/pricing may post to this form
secret = "…"                   # shared secret / HMAC key / the provider's signing secret
allowed_origins = ["https://www.example.com"]
honeypot = "fax_number"
required = ["email", "company"]
fields = ["name", "email", "company", "message"]   # what the embeddable form asks
mapping = { "q7" = "company", "how_did_you_hear" = "referral" }
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from storage.errors import ConfigError

# \Z, not $: `$` also matches before a final newline, so "pricing\n" would pass as a key.
FORM_KEY = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9_-]{0,63}\Z")
PROVIDERS = ("typeform", "webflow", "netlify", "hubspot", "tally", "jotform")
EMBED_FIELDS = ("name", "email", "company", "title", "phone", "country", "message")


@dataclass(frozen=True)
class FormConfig:
    """How one form is checked, read and answered."""

    key: str = ""
    title: str = "Contact us"
    thank_you_url: str | None = None  # None: LeadBot's own /forms/<key>/thanks page
    provider: str | None = None
    secret: str | None = field(default=None, repr=False)
    allowed_origins: tuple[str, ...] = ("*",)
    honeypot: str = "_gotcha"  # a hidden field people never fill (Formspree's convention)
    required: tuple[str, ...] = ("email",)
    fields: tuple[str, ...] = ("name", "email", "company", "message")
    mapping: dict[str, str] = field(default_factory=dict)
    max_body_bytes: int = 256 * 1024
    rate_per_minute: float = 20.0
    burst: int = 10
    configured: bool = False  # False: defaults for a key the file does not name

    def snapshot(self) -> dict[str, Any]:
        """What the reader needs, stored with the raw input so reprocessing needs no file."""
        return {
            "mapping": dict(self.mapping),
            "required": list(self.required),
            "honeypot": self.honeypot,
        }

    def origin_allowed(self, origin: str) -> bool:
        return "*" in self.allowed_origins or origin.rstrip("/") in self.allowed_origins


@dataclass(frozen=True)
class FormsConfig:
    forms: dict[str, FormConfig] = field(default_factory=dict)
    defaults: FormConfig = field(default_factory=FormConfig)
    strict: bool = False

    def get(self, key: str) -> FormConfig | None:
        """The form's settings; defaults for an unknown key unless strict (then None)."""
        if not FORM_KEY.match(key):
            return None
        if key in self.forms:
            return self.forms[key]
        return None if self.strict else replace(self.defaults, key=key)


_SCALARS: dict[str, type] = {
    "title": str,
    "thank_you_url": str,
    "provider": str,
    "secret": str,
    "honeypot": str,
    "max_body_bytes": int,
    "rate_per_minute": float,
    "burst": int,
}
_LISTS = ("allowed_origins", "required", "fields")
_KNOWN = {f.name for f in fields(FormConfig)} - {"key", "configured"}


def _form(table: Mapping[str, Any], base: FormConfig, *, where: str) -> FormConfig:
    unknown = set(table) - _KNOWN
    if unknown:
        raise ConfigError(f"{where}: unknown settings {sorted(unknown)}")
    values: dict[str, Any] = {}
    for name, value in table.items():
        if name in _SCALARS:
            kind = _SCALARS[name]
            if kind is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if not isinstance(value, kind) or isinstance(value, bool):
                raise ConfigError(f"{where}.{name} must be a {kind.__name__}")
            values[name] = value
        elif name in _LISTS:
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"{where}.{name} must be a list of strings")
            values[name] = tuple(v.rstrip("/") if name == "allowed_origins" else v for v in value)
        elif name == "mapping":
            if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
                raise ConfigError(f"{where}.mapping must be a table of strings")
            values[name] = dict(value)
    config = replace(base, **values)
    if config.provider is not None and config.provider not in PROVIDERS:
        raise ConfigError(f"{where}.provider must be one of {', '.join(PROVIDERS)}")
    if config.max_body_bytes <= 0 or config.rate_per_minute <= 0 or config.burst <= 0:
        raise ConfigError(f"{where}: max_body_bytes, rate_per_minute and burst must be positive")
    unknown_fields = set(config.fields) - set(EMBED_FIELDS)
    if unknown_fields:
        raise ConfigError(f"{where}.fields: unknown {sorted(unknown_fields)}")
    return config


def parse_forms(text: str, *, strict: bool = False, source: str = "forms file") -> FormsConfig:
    """Parse the TOML text; raises ConfigError saying which setting is wrong."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{source}: {e}") from None
    defaults = _form(data.get("defaults", {}), FormConfig(), where="defaults")
    forms: dict[str, FormConfig] = {}
    for key, table in (data.get("forms") or {}).items():
        if not FORM_KEY.match(key) or not isinstance(table, dict):
            raise ConfigError(f"{source}: [forms.{key}] is not a valid form key and table")
        form = _form(table, defaults, where=f"forms.{key}")
        forms[key] = replace(form, key=key, configured=True)
    return FormsConfig(forms=forms, defaults=defaults, strict=strict or bool(data.get("strict")))


def load_forms(path: Path | None, *, strict: bool = False) -> FormsConfig:
    """The forms file at `path`, or defaults for every key when no file is configured."""
    if path is None:
        return FormsConfig(strict=strict)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"cannot read forms file {path}: {e}") from None
    return parse_forms(text, strict=strict, source=str(path))
