"""Loading a TOML rules file: everything validated up front, errors name the file and line."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from scoring.conditions import Vocabulary, compile_when
from scoring.engine import RuleSet
from scoring.lexicon import REGIONS, Keywords
from scoring.rulebook import Product, Rule
from storage.errors import ConfigError, RuleError

DEFAULT_RULES = Path(__file__).with_name("default_rules.toml")
MAX_POINTS = 100.0
_SECTIONS = {"settings", "thresholds", "grades", "regions", "domains", "kinds", "products", "rule"}
_SECTION_KEYS = {
    "settings": {"half_life_days", "description"},
    "thresholds": {"warm", "hot"},
    "grades": {"A", "B", "C"},
    "domains": {"webmail", "competitors"},
}
_RULE_KEYS = {"name", "points", "reason", "when", "product", "per_activity", "max_points", "decay"}
_PRODUCT_KEYS = {"label", "keywords", "form_values"}
_NAME_RE = re.compile(r"[\w.:-]+")
_HEADER_RE = re.compile(r"\s*+\[\[?\s*+([^\]]*[^\]\s])\s*+\]\]?\s*+(#.*)?$")
_TOML_LINE_RE = re.compile(r"\s*\(at line (\d+), column \d+\)")


class _Lines:
    """Finds the line a semantic error belongs to, since tomllib keeps no positions."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.headers = [
            (i, m.group(1))
            for i, line in enumerate(self.lines)
            if (m := _HEADER_RE.match(line)) and not line.lstrip().startswith('["')
        ]
        self.rule_starts = [
            i
            for i, name in self.headers
            if name == "rule" and self.lines[i].lstrip().startswith("[[")
        ]

    def _key_in(self, start: int, end: int, key: str | None) -> int:
        if key:
            pat = re.compile(rf"(?<![\w-]){re.escape(key)}\s*=")
            for i in range(start, end):
                if pat.search(self.lines[i].split("#", 1)[0]):
                    return i + 1
        return start + 1

    def _end(self, start: int, same: str) -> int:
        for i, name in self.headers:
            if i > start and (name == "rule" or not name.startswith(same)):
                return i
        return len(self.lines)

    def rule(self, index: int, name: object, key: str | None) -> int:
        if index < len(self.rule_starts):
            start = self.rule_starts[index]
            return self._key_in(start, self._end(start, "rule."), key)
        if isinstance(name, str):  # rules written as an inline array: find the name instead
            pat = re.compile(rf"name\s*=\s*[\"']{re.escape(name)}[\"']")
            for i, line in enumerate(self.lines):
                if pat.search(line):
                    return i + 1
        return 1

    def section(self, section: str, key: str | None) -> int:
        for i, name in self.headers:
            if name == section:
                return self._key_in(i, self._end(i, section + "."), key)
        # Not a [section] header: a dotted key (`thresholds.hot = 5`) or a plain top-level key.
        return self._key_in(0, len(self.lines), f"{section}.{key}" if key else section)


def _strings(value: Any) -> list[str] | None:
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


def _num(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class _Loader:
    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.where = _Lines(text)

    def fail(self, line: int, message: str) -> ConfigError:
        return ConfigError(f"{self.path} line {line}: {message}")

    def section_error(self, section: str, key: str | None, message: str) -> ConfigError:
        return self.fail(self.where.section(section, key), message)

    def table(self, doc: dict[str, Any], section: str) -> dict[str, Any]:
        value = doc.get(section, {})
        if not isinstance(value, dict):
            raise self.section_error(section, None, f"[{section}] must be a table")
        allowed = _SECTION_KEYS.get(section)
        if allowed is not None:
            for key in value:
                if key not in allowed:
                    raise self.section_error(
                        section,
                        key,
                        f"[{section}]: unknown key '{key}' (expected {', '.join(sorted(allowed))})",
                    )
        return value

    def number(self, table: dict[str, Any], section: str, key: str, default: float) -> float:
        value = table.get(key, default)
        if not _num(value):
            raise self.section_error(section, key, f"[{section}] {key} must be a number")
        return float(value)

    def vocabulary(self, doc: dict[str, Any]) -> Vocabulary:
        regions = dict(REGIONS)
        for name, codes in self.table(doc, "regions").items():
            listed = _strings(codes)
            if not listed or not all(len(c) == 2 and c.isalpha() for c in listed):
                raise self.section_error(
                    "regions",
                    name,
                    f"region '{name}' must be a list of two-letter ISO country codes",
                )
            regions[name.upper()] = frozenset(c.upper() for c in listed)
        domains = self.table(doc, "domains")
        lists: dict[str, frozenset[str]] = {}
        for key in ("webmail", "competitors"):
            listed = _strings(domains.get(key, []))
            if listed is None:
                raise self.section_error(
                    "domains", key, f"[domains] {key} must be a list of domain names"
                )
            lists[key] = frozenset(d.strip().lower().lstrip("@") for d in listed)
        kinds: dict[str, frozenset[str]] = {}
        for name, members in self.table(doc, "kinds").items():
            listed = _strings(members)
            if not listed:
                raise self.section_error(
                    "kinds", name, f"kind group '{name}' must be a list of activity kinds"
                )
            kinds[name.casefold()] = frozenset(k.strip().casefold() for k in listed)
        return Vocabulary(regions, lists["competitors"], lists["webmail"], kinds)

    def products(self, doc: dict[str, Any], vocab: Vocabulary) -> list[Product]:
        out = []
        for name, spec in self.table(doc, "products").items():
            section = f"products.{name}"
            if not isinstance(spec, dict):
                raise self.section_error(section, None, f"product '{name}' must be a table")
            for key in spec:
                if key not in _PRODUCT_KEYS:
                    raise self.section_error(
                        section,
                        key,
                        f"product '{name}': unknown key "
                        f"'{key}' (expected label, keywords, form_values)",
                    )
            keywords = _strings(spec.get("keywords"))
            if not keywords:
                raise self.section_error(
                    section,
                    "keywords",
                    f"product '{name}' needs keywords: a non-empty list of strings",
                )
            values = _strings(spec.get("form_values", []))
            label = spec.get("label", name)
            if values is None or not isinstance(label, str):
                raise self.section_error(
                    section,
                    "form_values",
                    f"product '{name}': label must be a string and form_values a list of strings",
                )
            folded = {v.strip().casefold() for v in [name, label, *keywords, *values]}
            kw = Keywords(keywords)
            out.append(Product(name, label, kw, frozenset(folded), vocab.texts.add(kw)))
        return out

    def rule(
        self, index: int, spec: Any, vocab: Vocabulary, products: set[str], needs: set[str]
    ) -> Rule:
        name = spec.get("name") if isinstance(spec, dict) else None
        label = f"rule '{name}'" if isinstance(name, str) else f"rule #{index + 1}"

        def err(key: str | None, message: str) -> ConfigError:
            return self.fail(self.where.rule(index, name, key), f"{label}: {message}")

        if not isinstance(spec, dict):
            raise err(None, "must be a table ([[rule]])")
        for key in spec:
            if key not in _RULE_KEYS:
                raise err(key, f"unknown key '{key}' (expected {', '.join(sorted(_RULE_KEYS))})")
        if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
            raise err("name", "needs a name made of letters, digits, '-', '_', '.' or ':'")
        raw_points: Any = spec.get("points")
        if not _num(raw_points):
            raise err("points", "points must be a number")
        points = float(raw_points)
        if not -MAX_POINTS <= points <= MAX_POINTS:
            raise err("points", f"points {points} out of range ({-MAX_POINTS:g} to {MAX_POINTS:g})")
        reason = spec.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise err("reason", "needs a reason: the sentence a sales rep reads")
        product = spec.get("product")
        if product is not None and product not in products:
            raise err("product", f"product '{product}' is not defined under [products]")
        flags = {}
        for key, default in (("per_activity", False), ("decay", True)):
            flags[key] = spec.get(key, default)
            if not isinstance(flags[key], bool):
                raise err(key, f"{key} must be true or false")
        cap: Any = spec.get("max_points")
        if cap is not None and (not _num(cap) or cap <= 0 or not flags["per_activity"]):
            raise err(
                "max_points", "max_points must be a positive number and needs per_activity = true"
            )
        try:
            compiled = compile_when(spec.get("when", {}), vocab)
        except RuleError as exc:
            raise err(exc.key, str(exc)) from None
        if flags["per_activity"] and not compiled.engagement:
            raise err("per_activity", "per_activity needs an activity or text condition")
        needs |= compiled.needs
        return Rule(
            name=name,
            points=points,
            reason=reason.strip(),
            product=product,
            side="engagement" if compiled.engagement else "fit",
            lead_checks=tuple(compiled.lead_checks),
            act_checks=tuple(compiled.act_checks),
            engagement=compiled.engagement,
            kinds=compiled.kinds,
            within_days=compiled.within_days,
            min_count=compiled.min_count,
            per_activity=flags["per_activity"],
            max_points=None if cap is None else float(cap),
            # Negatives never fade: waiting must not make a competitor or a CV look better.
            decays=flags["decay"] and points > 0,
            line=self.where.rule(index, name, None),
        )

    def load(self, doc: dict[str, Any], hot_override: float | None) -> RuleSet:
        for key in doc:
            if key not in _SECTIONS:
                raise self.section_error(
                    key, None, f"unknown section '{key}' (expected {', '.join(sorted(_SECTIONS))})"
                )
        settings = self.table(doc, "settings")
        half_life = self.number(settings, "settings", "half_life_days", 30.0)
        if half_life <= 0:
            raise self.section_error("settings", "half_life_days", "half_life_days must be > 0")
        thresholds = self.table(doc, "thresholds")
        warm = self.number(thresholds, "thresholds", "warm", 25.0)
        hot = self.number(thresholds, "thresholds", "hot", 50.0)
        if hot <= warm:
            raise self.section_error(
                "thresholds",
                "hot",
                f"hot threshold {hot:g} must be above the warm threshold {warm:g}",
            )
        if hot_override is not None:
            # An operator lowering hot (LEADBOT_HOT_THRESHOLD) means it: warm follows it down
            # rather than refusing to start; there is then no warm band below hot.
            hot = float(hot_override)
            warm = min(warm, hot)
        grades_t = self.table(doc, "grades")
        grades = {
            g: self.number(grades_t, "grades", g, d)
            for g, d in (("A", 40.0), ("B", 25.0), ("C", 10.0))
        }
        if not grades["A"] >= grades["B"] >= grades["C"]:
            raise self.section_error("grades", "A", "grades must satisfy A >= B >= C")
        vocab = self.vocabulary(doc)
        products = self.products(doc, vocab)
        raw_rules = doc.get("rule", [])
        if not isinstance(raw_rules, list):
            raise self.fail(self.where.section("rule", None), "'rule' must be [[rule]] rows")
        needs: set[str] = set()
        rules: list[Rule] = []
        seen: set[str] = set()
        for i, spec in enumerate(raw_rules):
            rule = self.rule(i, spec, vocab, {p.name for p in products}, needs)
            if rule.name in seen:
                raise self.fail(rule.line, f"rule '{rule.name}': duplicate name")
            seen.add(rule.name)
            rules.append(rule)
        return RuleSet(
            path=self.path,
            rules=rules,
            products=products,
            vocab=vocab,
            half_life_days=half_life,
            warm_threshold=warm,
            hot_threshold=hot,
            grades=grades,
            needs=needs,
        )


def loads_rules(
    text: str, *, path: str | Path = "<rules>", hot_threshold: float | None = None
) -> RuleSet:
    """Compile rules from TOML text (what load_rules does after reading the file)."""
    path = Path(path)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = _TOML_LINE_RE.search(msg)
        line = m.group(1) if m else "1"
        raise ConfigError(f"{path} line {line}: {_TOML_LINE_RE.sub('', msg)}") from None
    return _Loader(path, text).load(doc, hot_threshold)


def load_rules(path: str | Path | None = None, *, hot_threshold: float | None = None) -> RuleSet:
    """Load and validate a rules file (None: the shipped default); raises ConfigError."""
    p = Path(path) if path is not None else DEFAULT_RULES
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: cannot read rules file: {exc}") from None
    return loads_rules(text, path=p, hot_threshold=hot_threshold)


__all__ = ["DEFAULT_RULES", "load_rules", "loads_rules"]
