"""The funnel as people read it: `leadbot stats` text, JSON and CSV, and the lead export's CSV.

Pure functions over what storage.stats computes (report(), export_rows()): no SQL here, nothing
recomputed. Text from outside (sources, campaigns, product names, reps, lost reasons) is cleaned
for a terminal, and every CSV cell that a spreadsheet would run as a formula is defused.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from storage.stats import SPEED

MAX_DAYS = 3660
_SPAN = re.compile(r"^(\d{1,5})\s*([hdw])$")
_UNIT_HOURS = {"h": 1, "d": 24, "w": 24 * 7}
LEG_LABELS = {
    "to_announce": "created → announced",
    "to_claim": "announced → claimed",
    "to_first_action": "claimed → first rep action",
}
NONE_LABEL = "(none)"


@dataclass(frozen=True)
class Period:
    since: datetime | None  # None: all history
    label: str  # "the last 30 days", "since 2026-10-01", "all time"


def parse_since(text: str | None, now: datetime) -> Period:
    """`30d`, `12w`, `48h`, `week`, `month`, `quarter` (this calendar quarter), an ISO date or
    time (`2026-10-01`, read as UTC), or `all`/nothing. Raises ValueError with what to give."""
    word = (text or "").strip().lower()
    if word in ("", "all"):
        return Period(None, "all time")
    if word == "quarter":
        start = datetime(now.year, 3 * ((now.month - 1) // 3) + 1, 1, tzinfo=UTC)
        return Period(start, "this quarter")
    word = {"week": "7d", "month": "30d"}.get(word, word)
    if m := _SPAN.match(word):
        hours = int(m.group(1)) * _UNIT_HOURS[m.group(2)]
        if 0 < hours <= MAX_DAYS * 24:
            unit = "hours" if m.group(2) == "h" else "days"
            amount = hours if unit == "hours" else hours // 24
            return Period(now - timedelta(hours=hours), f"the last {amount} {unit}")
    else:
        try:
            since = datetime.fromisoformat(word)
        except ValueError:
            since = None
        if since is not None:
            since = since.replace(tzinfo=UTC) if since.tzinfo is None else since
            if since <= now:
                return Period(since, f"since {since.date().isoformat()}")
    raise ValueError(
        f"--since {text!r}: give 30d, 12w, 48h, week, month, quarter, a date (2026-10-01) or all"
    )


def terminal(text: Any) -> str:
    """Outside text for a terminal line: control and format characters (escape sequences,
    bidi overrides) become spaces."""
    return "".join(" " if unicodedata.category(ch) in ("Cc", "Cf") else ch for ch in str(text))


def label_of(key: Any) -> str:
    return NONE_LABEL if key is None or key == "" else str(key)


def percent(rate: float | None) -> str:
    return "n/a" if rate is None else f"{rate * 100:.0f}%"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    s = float(seconds)
    if s >= 86400 * 2:
        return f"{s / 86400:.1f} d"
    if s >= 3600:
        return f"{s / 3600:.1f} h"
    return f"{s / 60:.0f} min" if s >= 60 else f"{s:.0f} s"


def money(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,.2f}"


def reasons_text(reasons: dict[str, int], *, top: int = 5) -> str:
    items = list(reasons.items())
    text = ", ".join(f"{terminal(k)} {n}" for k, n in items[:top])
    if len(items) > top:
        text += f", {len(items) - top} more"
    return text or "none"


# --- text -----------------------------------------------------------------------------------


def report_text(report: dict[str, Any], *, period: Period) -> str:
    """`leadbot stats`: what is now, what happened in the period, the cohort's funnel, its
    speed and losses, then a table per group when a breakdown was asked for."""
    flow, total = report["flow"], report["total"]
    since = f" (since {report['since'][:16].replace('T', ' ')} UTC)" if report["since"] else ""
    lines = [f"Lead funnel, {period.label}{since}"]
    lines.append("Now: " + " · ".join(f"{k} {v}" for k, v in report["by_status"].items()))
    lines.append(
        f"In the period: {flow['announced']} announced · {flow['claimed']} claimed"
        f" (claim rate {percent(flow['claim_rate'])}, median time to claim"
        f" {duration(flow['median_seconds_to_claim'])}) · {flow['won']} won · {flow['lost']} lost"
    )
    lines.append("")
    lines.append(f"Leads created in the period: {total['leads']}")
    lines.extend(_stage_lines(total))
    lines.append("")
    lines.append(f"  {'time to first touch':<28} {'leads':>6} {'median':>9} {'p90':>9}")
    for leg in SPEED:
        got = total["speed"][leg]
        lines.append(
            f"  {LEG_LABELS[leg]:<28} {got['n']:>6} {duration(got['median']):>9}"
            f" {duration(got['p90']):>9}"
        )
    lines.append("")
    lines.append(f"Lost reasons: {reasons_text(total['lost_reasons'])}")
    if report["by"]:
        lines.append("")
        lines.extend(_group_table(report["by"], report["groups"]))
    return "\n".join(lines)


def _stage_lines(g: dict[str, Any]) -> list[str]:
    stages, conv = g["stages"], g["conversion"]
    out = [f"  {'stage':<10} {'leads':>6} {'from the stage before':>22}"]
    out.append(f"  {'created':<10} {stages['created']:>6}")
    for stage in ("announced", "claimed", "won"):
        out.append(f"  {stage:<10} {stages[stage]:>6} {percent(conv[stage]):>22}")
    out.append(f"  {'lost':<10} {g['lost']:>6}")
    out.append(f"  win rate {percent(g['win_rate'])} · won value {money(g['won_value'])}")
    return out


_TABLE = (
    ("leads", 6),
    ("announced", 9),
    ("claimed", 8),
    ("won", 5),
    ("lost", 5),
    ("win rate", 8),
    ("won value", 12),
    ("claim median", 12),
    ("claim p90", 10),
    ("action median", 13),
)


def _group_table(by: str, groups: list[dict[str, Any]]) -> list[str]:
    width = max([len(by), *(len(terminal(label_of(g["key"]))[:40]) for g in groups)])
    head = f"  {'by ' + by:<{width + 3}}" + "".join(f" {name:>{w}}" for name, w in _TABLE)
    out = [head]
    for g in groups:
        s, sp = g["stages"], g["speed"]
        cells = (
            g["leads"],
            s["announced"],
            s["claimed"],
            s["won"],
            g["lost"],
            percent(g["win_rate"]),
            money(g["won_value"]),
            duration(sp["to_claim"]["median"]),
            duration(sp["to_claim"]["p90"]),
            duration(sp["to_first_action"]["median"]),
        )
        row = f"  {terminal(label_of(g['key']))[:40]:<{width + 3}}"
        row += "".join(f" {c!s:>{w}}" for c, (_, w) in zip(cells, _TABLE, strict=True))
        out.append(row)
        if g["lost_reasons"]:
            out.append(f"  {'':<{width + 3}} lost: {reasons_text(g['lost_reasons'], top=3)}")
    if not groups:
        out.append("  (no lead in the period)")
    return out


# --- CSV ------------------------------------------------------------------------------------

STATS_COLUMNS = (
    "by",
    "key",
    "leads",
    "announced",
    "claimed",
    "won",
    "lost",
    "conversion_announced",
    "conversion_claimed",
    "conversion_won",
    "win_rate",
    "won_value",
    *(f"{leg}_{what}" for leg in SPEED for what in ("n", "median_s", "p90_s")),
    "lost_reasons",
)


def stats_rows(report: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """One row for the whole cohort (by = all), then one per group of the breakdown."""
    yield _stats_row("all", "", report["total"])
    for g in report["groups"]:
        yield _stats_row(report["by"], label_of(g["key"]), g)


def _stats_row(by: str, key: str, g: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {"by": by, "key": key, "leads": g["leads"], "lost": g["lost"]}
    for stage in ("announced", "claimed", "won"):
        row[stage] = g["stages"][stage]
        row[f"conversion_{stage}"] = g["conversion"][stage]
    row["win_rate"], row["won_value"] = g["win_rate"], g["won_value"]
    for leg in SPEED:
        got = g["speed"][leg]
        row[f"{leg}_n"], row[f"{leg}_median_s"], row[f"{leg}_p90_s"] = (
            got["n"],
            got["median"],
            got["p90"],
        )
    row["lost_reasons"] = ";".join(f"{k}:{n}" for k, n in g["lost_reasons"].items())
    return row


_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> Any:
    """A CSV cell a spreadsheet shows rather than runs (OWASP "CSV injection"): text that
    starts like a formula gets a leading apostrophe. Numbers and empty cells stay as they are."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA):
        return "'" + value
    return value


def write_csv(
    rows: Iterable[dict[str, Any]], columns: tuple[str, ...], out: io.TextIOBase | Any
) -> int:
    """`rows` as CSV with a header line to `out`; returns how many rows were written."""
    writer = csv.DictWriter(
        out, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n"
    )
    writer.writeheader()
    n = 0
    for row in rows:
        writer.writerow({k: cell(row.get(k)) for k in columns})
        n += 1
    return n
