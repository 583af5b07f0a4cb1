"""The weekly digest in Slack: the week's funnel and speed to lead as one chart image, uploaded
with files.uploadV2 (files.getUploadURLExternal, the upload, files.completeUploadExternal), the
figures in the message beside it. matplotlib (the `charts` extra) is imported only here, on its
Agg canvas with no pyplot state; without it the digest goes out as text."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from slack_sdk import WebClient

from storage.models import OutboxMessage

log = logging.getLogger("leadbot.slack.weekly")
WEEKLY = "weekly_digest"


def duration(seconds: Any) -> str:
    if seconds is None:
        return "no claims"
    s = float(seconds)
    if s < 3600:
        return f"{s / 60:.0f} min"
    return f"{s / 3600:.1f} h" if s < 86400 else f"{s / 86400:.1f} days"


def _percent(rate: Any) -> str:
    return "-" if rate is None else f"{float(rate) * 100:.0f}%"


def week_label(figures: dict[str, Any]) -> str:
    since = datetime.fromisoformat(str(figures["since"]))
    until = datetime.fromisoformat(str(figures["until"]))
    return f"{since:%b %d} to {until:%b %d, %Y}"


def summary_text(figures: dict[str, Any]) -> str:
    """The message beside the chart (our own numbers only: nothing from outside to escape)."""
    stages = {str(k): int(v) for k, v in figures["stages"]}
    return (
        f":bar_chart: *LeadBot week, {week_label(figures)}*\n"
        f"{stages.get('Created', 0)} new leads · {stages.get('Announced', 0)} announced · "
        f"{stages.get('Claimed', 0)} claimed ({_percent(figures.get('claim_rate'))}) · "
        f"{stages.get('Won', 0)} won, {int(figures.get('lost') or 0)} lost "
        f"(win rate {_percent(figures.get('win_rate'))})\n"
        f"Median time to claim: *{duration(figures.get('median_seconds_to_claim'))}* · "
        f"waiting for a rep now: {int(figures.get('unclaimed') or 0)}"
    )


def chart_png(figures: dict[str, Any]) -> bytes | None:
    """Two bar charts side by side, as PNG bytes; None without matplotlib."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return None
    fig = Figure(figsize=(10, 4), dpi=100)
    FigureCanvasAgg(fig)
    funnel_ax, speed_ax = fig.subplots(1, 2)
    for ax, rows, title, colour in (
        (funnel_ax, figures["stages"], "Funnel", "#2eb67d"),
        (speed_ax, figures["speed"], "Speed to lead (claims)", "#1264a3"),
    ):
        labels = [str(k) for k, _ in rows][::-1]
        values = [int(v) for _, v in rows][::-1]
        bars = ax.barh(labels, values, color=colour)
        ax.bar_label(bars, padding=3)
        ax.set_title(title, loc="left", fontweight="bold")
        ax.spines[["top", "right"]].set_visible(False)
        ax.set_xlim(0, max([*values, 1]) * 1.15)
        ax.xaxis.get_major_locator().set_params(integer=True)
    fig.suptitle(f"LeadBot week, {week_label(figures)}", x=0.01, ha="left")
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()


class WeeklySender:
    """Sends a `weekly_digest` outbox row: the chart uploaded into the channel with the text."""

    def __init__(self, client: WebClient, *, call: Callable[..., Any]) -> None:
        self.client = client
        self.call = call  # bot.slack.sender.call_slack: failures sorted into retry / give up

    def send(self, message: OutboxMessage) -> dict[str, Any]:
        figures = message.payload
        channel = str(figures.get("channel") or "")
        text = summary_text(figures)
        png = chart_png(figures)
        if png is None:
            log.warning("weekly digest without its chart: pip install 'leadbot[charts]'")
            resp = self.call(self.client.chat_postMessage, channel=channel, text=text)
            return {"channel": channel, "ts": resp.get("ts"), "chart": False}
        day = datetime.fromisoformat(str(figures["until"])).date().isoformat()
        resp = self.call(
            self.client.files_upload_v2,
            channel=channel,
            file=png,
            filename=f"leadbot-week-{day}.png",
            title=f"LeadBot week to {day}",
            alt_txt="Bar charts of the week's funnel (created, announced, claimed, won) and of"
            " claims by time from announcement to claim",
            initial_comment=text,
        )
        file = (resp.get("file") or {}) if resp is not None else {}
        return {"channel": channel, "file": file.get("id"), "chart": True}
