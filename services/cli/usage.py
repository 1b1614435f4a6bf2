"""`tollgate usage`: who used how many tokens of which model, straight from the usage ledger;
`tollgate usage prune --older-than DAYS` deletes old rows (the retention setting does it hourly)."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import TYPE_CHECKING, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from services.cli.common import err_console, fail, out_console, print_json, run_on_database

if TYPE_CHECKING:
    from gateway.usage.service import UsageService
    from shared.schemas.usage import UsageReport, UsageRow

T = TypeVar("T")

usage_app = typer.Typer(
    help="Requests and tokens by key, team, model, hour or day, from the usage ledger.",
    invoke_without_command=True,
)


class GroupChoice(StrEnum):
    hour = "hour"
    day = "day"
    model = "model"
    key = "key"
    team = "team"


def register(app: typer.Typer) -> None:
    app.add_typer(usage_app, name="usage")


def _run(action: Callable[[UsageService], Awaitable[T]]) -> T:
    """Run one UsageService call on the database from settings."""
    from gateway.usage.service import UsageService

    return run_on_database(UsageService, action)


def _number(value: float | int | None, digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


_DIMENSION_COLUMNS = {
    "hour": ("hour (UTC)", lambda r: r.start.strftime("%Y-%m-%d %H:00") if r.start else "-"),
    "day": ("day (UTC)", lambda r: r.start.strftime("%Y-%m-%d") if r.start else "-"),
    "key": ("key", lambda r: f"{r.key_id} ({r.key_name})" if r.key_name else (r.key_id or "-")),
    "team": ("team", lambda r: r.team or "-"),
    "model": ("model", lambda r: r.model or "-"),
}


def _measures(row: UsageRow) -> list[str]:
    return [
        _number(row.requests),
        _number(row.errors),
        _number(row.prompt_tokens),
        _number(row.completion_tokens),
        _number(row.total_tokens),
        _number(row.cached_tokens),
        _number(row.estimated),
        _number(row.avg_latency_ms, 1),
        _number(row.avg_ttft_ms, 1),
    ]


def _table(report: UsageReport) -> Table:
    filters = report.filters
    scope = [
        f"{name}={value}"
        for name, value in (
            ("key", filters.key_id),
            ("team", filters.team),
            ("model", filters.model),
        )
        if value
    ]
    since = filters.since.strftime("%Y-%m-%d %H:%M") if filters.since else "the beginning"
    until = filters.until.strftime("%Y-%m-%d %H:%M") if filters.until else "now"
    title = f"Usage from {since} to {until} UTC" + (f" ({', '.join(scope)})" if scope else "")
    table = Table(title=title, show_footer=bool(report.group_by))
    dims = [_DIMENSION_COLUMNS[g] for g in report.group_by]
    totals = _measures(report.totals)
    for index, (header, _) in enumerate(dims):
        table.add_column(header, footer="total" if index == 0 else "", no_wrap=True)
    headers = [
        *("requests", "errors", "prompt", "completion", "total", "cached", "estimated"),
        *("avg ms", "avg TTFT ms"),
    ]
    for header, footer in zip(headers, totals, strict=True):
        table.add_column(header, footer=footer if dims else "", justify="right")
    for row in report.data:
        table.add_row(*(cell(row) for _, cell in dims), *_measures(row))
    return table


@usage_app.callback()
def report(
    ctx: typer.Context,
    key: str | None = typer.Option(None, "--key", help="only this key id (key_…)"),
    team: str | None = typer.Option(None, "--team", help="only this team"),
    model: str | None = typer.Option(None, "--model", help="only this model"),
    since: str | None = typer.Option(
        None, "--since", help="from: 2026-11-24, 2026-11-24T09:00Z, today, or an age like 7d, 24h"
    ),
    until: str | None = typer.Option(
        None, "--until", help="to (exclusive), same forms; default now"
    ),
    group_by: list[GroupChoice] | None = typer.Option(
        None,
        "--group-by",
        help="hour, day, model, key or team; repeat to combine (default: key)",
    ),
    as_json: bool = typer.Option(False, "--json", help="print JSON for scripts"),
    as_csv: bool = typer.Option(False, "--csv", help="print CSV (for spreadsheets)"),
) -> None:
    """Requests, errors and tokens from the usage ledger (run `tollgate usage prune --help` for
    retention)."""
    if ctx.invoked_subcommand is not None:
        return
    from gateway.usage.periods import PeriodError, parse_period
    from shared.schemas.usage import UsageFilters

    if as_json and as_csv:
        fail("choose one of --json and --csv")
    groups = [g.value for g in group_by] if group_by else ["key"]
    if "hour" in groups and "day" in groups:
        fail("--group-by: choose hour or day, not both")
    try:
        start, end = parse_period(since, until)
    except PeriodError as exc:
        fail(f"--{exc}")
    filters = UsageFilters(key_id=key, team=team, model=model, since=start, until=end)
    result = _run(lambda usage: usage.report(filters, groups))  # type: ignore[arg-type]
    if as_json:
        print_json(result.model_dump(mode="json"))
    elif as_csv:
        from gateway.usage.export import to_csv

        sys.stdout.write(to_csv(result))
    elif not result.data:
        err_console.print("no usage recorded for this selection")
    else:
        console = out_console if out_console.is_terminal else Console(width=200)
        console.print(_table(result))


@usage_app.command("prune")
def prune(
    older_than: float = typer.Option(
        ..., "--older-than", min=0.0, help="delete rows of requests older than this many days"
    ),
    as_json: bool = typer.Option(False, "--json", help="print JSON for scripts"),
) -> None:
    """Delete ledger rows older than DAYS (in short transactions; gateways keep running)."""
    result = _run(lambda usage: usage.prune(older_than))
    if as_json:
        print_json(result.model_dump(mode="json"))
    else:
        err_console.print(
            f"deleted {result.deleted:,} ledger row{'s' if result.deleted != 1 else ''} "
            f"older than {result.older_than:%Y-%m-%d %H:%M} UTC",
            highlight=False,
        )
