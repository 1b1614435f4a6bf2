"""The My usage tab: my key's limits, what remains of its token budgets, and my requests and
tokens over time from the gateway's usage ledger (GET /tollgate/usage)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import gradio as gr
import pandas as pd

from shared.schemas.usage import KeyUsageReport
from ui.context import UIContext
from ui.errors import GatewayError
from ui.session import Session
from ui.views import limits_markdown

# Period label -> (how far back, bucket size).
PERIODS: dict[str, tuple[timedelta, str]] = {
    "Last 24 hours": (timedelta(hours=24), "hour"),
    "Last 7 days": (timedelta(days=7), "day"),
    "Last 30 days": (timedelta(days=30), "day"),
}
NOT_ENABLED = (
    "Note: usage accounting is not enabled on this gateway, so there is no history to plot yet. "
    "Your limits above still apply."
)


# One bar per bucket, labelled so that labels never repeat within a period (a day's 08:00 and
# the next day's 08:00 differ by weekday).
STEPS = {"hour": timedelta(hours=1), "day": timedelta(days=1)}
LABELS = {"hour": "%a %H:00", "day": "%b %d"}


def bucket_starts(bucket: str, since: datetime, until: datetime) -> list[datetime]:
    """Every bucket of the period, empty ones included, so the plot shows quiet hours too."""
    start = since.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    if bucket == "day":
        start = start.replace(hour=0)
    starts = []
    while start <= until:
        starts.append(start)
        start += STEPS[bucket]
    return starts


def usage_frames(
    report: KeyUsageReport, *, since: datetime | None = None, until: datetime | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Requests per bucket, tokens per bucket split into prompt and answer (long form), and the
    buckets' labels in time order. With `since` and `until`, buckets without use read 0."""
    bucket = report.bucket if report.bucket in STEPS else "hour"
    used = {b.start.astimezone(UTC): b for b in report.buckets}
    grid = bucket_starts(bucket, since, until) if since and until else []
    starts = sorted(set(grid) | set(used))
    labels = [start.strftime(LABELS[bucket]) for start in starts]
    rows = [used.get(start) for start in starts]
    requests = pd.DataFrame(
        {
            "time": labels,
            "requests": [r.requests if r else 0 for r in rows],
            "errors": [r.errors if r else 0 for r in rows],
        }
    )
    tokens = pd.DataFrame(
        {
            "time": labels * 2,
            "tokens": [r.prompt_tokens if r else 0 for r in rows]
            + [r.completion_tokens if r else 0 for r in rows],
            "kind": ["prompt"] * len(rows) + ["answer"] * len(rows),
        }
    )
    return requests, tokens, labels


def budget_use(report: KeyUsageReport, now: datetime) -> tuple[int, int]:
    """Tokens used today and this month (UTC calendar), from a daily report of this month."""
    today = now.date()
    used_today = sum(
        b.prompt_tokens + b.completion_tokens
        for b in report.buckets
        if b.start.astimezone(UTC).date() == today
    )
    used_month = report.totals.prompt_tokens + report.totals.completion_tokens
    return used_today, used_month


def totals_markdown(report: KeyUsageReport, period: str) -> str:
    t = report.totals
    return (
        f"**{period}:** {t.requests:,} requests · {t.prompt_tokens:,} prompt tokens · "
        f"{t.completion_tokens:,} answer tokens"
    )


@dataclass
class UsageTab:
    tab: gr.Tab


def build_usage(ctx: UIContext, session_state: gr.State) -> UsageTab:
    client = ctx.client

    async def refresh(session: Session | None, period: str) -> tuple[Any, ...]:
        empty = (gr.BarPlot(visible=False), gr.BarPlot(visible=False))
        if session is None:
            return "Sign in with your API key first.", "", *empty
        try:
            me = await client.me(session.token)
        except GatewayError as exc:
            return f"⚠️ {exc.plain()}", "", *empty
        now = datetime.now(UTC)
        back, bucket = PERIODS.get(period, PERIODS["Last 24 hours"])
        month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        try:
            report = await client.usage(session.token, since=now - back, until=now, bucket=bucket)
            month = await client.usage(session.token, since=month_start, until=now, bucket="day")
        except GatewayError as exc:
            note = NOT_ENABLED if exc.status == 404 else f"⚠️ {exc.plain()}"
            return limits_markdown(me, None, None), note, *empty
        used_today, used_month = budget_use(month, now)
        requests, tokens, labels = usage_frames(report, since=now - back, until=now)
        if not report.buckets:
            return (
                limits_markdown(me, used_today, used_month),
                f"No requests with this key in the {period.lower()}.",
                *empty,
            )
        return (
            limits_markdown(me, used_today, used_month),
            totals_markdown(report, period),
            gr.BarPlot(value=requests, visible=True, sort=labels),
            gr.BarPlot(value=tokens, visible=True, sort=labels),
        )

    with gr.Tab("My usage", id="usage", elem_id="tg-tab-usage") as tab:
        with gr.Row():
            period = gr.Radio(list(PERIODS), value="Last 24 hours", label="Period", scale=3)
            refresh_button = gr.Button("Refresh", scale=1)
        limits = gr.Markdown(elem_id="tg-limits")
        note = gr.Markdown(elem_id="tg-usage-note")
        requests_plot = gr.BarPlot(
            x="time",
            y="requests",
            title="Requests",
            x_title="hour or day (UTC)",
            x_label_angle=-45,  # a label per bucket: slanted, they never overlap
            height=280,
            visible=False,
            elem_id="tg-usage-requests",
        )
        tokens_plot = gr.BarPlot(
            x="time",
            y="tokens",
            color="kind",
            title="Tokens",
            x_title="hour or day (UTC)",
            x_label_angle=-45,
            height=280,
            visible=False,
            elem_id="tg-usage-tokens",
        )

    outputs = [limits, note, requests_plot, tokens_plot]
    private: dict[str, Any] = {"api_visibility": "private"}
    tab.select(refresh, [session_state, period], outputs, **private)
    period.change(refresh, [session_state, period], outputs, **private)
    refresh_button.click(refresh, [session_state, period], outputs, api_name="usage")
    return UsageTab(tab=tab)
