"""`tollgate teams list|show|set|delete`: teams' shared limits, straight on the database (as
`tollgate keys`). Running gateways pick changes up within their key-cache time (10 s default)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from rich.table import Table

from services.cli.common import (
    err_console,
    fail,
    out_console,
    print_json,
    print_json_list,
    run_on_database,
)
from services.cli.limit_flags import (
    MODEL_LIMIT,
    limits_text,
    model_limits_text,
    parse_model_limits,
)

if TYPE_CHECKING:
    from gateway.limits.teams import TeamService
    from shared.schemas.teams import TeamInfo

T = TypeVar("T")

teams_app = typer.Typer(
    help="Limits shared by every key of a team (on the database; the gateway need not run).",
    no_args_is_help=True,
)

_CLEARABLE = {
    "rpm": "rpm",
    "tpm": "tpm",
    "max-concurrency": "max_concurrency",
    "daily-tokens": "daily_tokens",
    "monthly-tokens": "monthly_tokens",
    "model-limits": "model_limits",
    "models": "models",
}
ClearChoice = StrEnum("ClearChoice", [(name, name) for name in _CLEARABLE])  # type: ignore[misc]
_FLAGS = {field: f"--{flag}" for flag, field in _CLEARABLE.items()} | {
    "model_limits": "--model-limit"
}
_JSON = typer.Option(False, "--json", help="print JSON for scripts")
_NAME = typer.Argument(..., metavar="TEAM", help="the team's name, as keys name it (--team)")


def register(app: typer.Typer) -> None:
    app.add_typer(teams_app, name="teams")


def _run(action: Callable[[TeamService], Awaitable[T]]) -> T:
    """Run one TeamService call on the database from settings."""
    from gateway.limits.teams import TeamService

    return run_on_database(
        TeamService, action, not_found_hint="`tollgate teams list` shows every team with limits"
    )


def _limits(info: TeamInfo) -> str:
    return limits_text(info.limits) or "none"


def _show(info: TeamInfo, as_json: bool) -> None:
    if as_json:
        print_json(info.model_dump(mode="json"))
        return
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("team", info.name)
    table.add_row("limits", _limits(info))
    models = info.allowed_models
    table.add_row("models", ", ".join(models) if models is not None else "all")
    table.add_row("model limits", model_limits_text(info.model_limits))
    table.add_row("updated", info.updated_at.strftime("%Y-%m-%d %H:%M UTC"))
    out_console.print(table)


@teams_app.command("list")
def list_teams(as_json: bool = _JSON) -> None:
    """List teams with limits."""
    infos = _run(lambda teams: teams.list())
    if as_json:
        print_json_list(infos)
        return
    if not infos:
        err_console.print("no team limits yet: `tollgate teams set TEAM --rpm N` sets some")
        return
    table = Table(title=f"{len(infos)} team{'s' if len(infos) != 1 else ''} with limits")
    for column in ("team", "limits", "model limits"):
        table.add_column(column, overflow="fold")
    for info in infos:
        table.add_row(info.name, _limits(info), model_limits_text(info.model_limits))
    out_console.print(table)


@teams_app.command("show")
def show(name: str = _NAME, as_json: bool = _JSON) -> None:
    """Show a team's limits."""
    _show(_run(lambda teams: teams.get(name)), as_json)


@teams_app.command("set")
def set_limits(
    name: str = _NAME,
    rpm: int | None = typer.Option(None, "--rpm", help="requests per minute, whole team"),
    tpm: int | None = typer.Option(None, "--tpm", help="tokens per minute, whole team"),
    max_concurrency: int | None = typer.Option(
        None, "--max-concurrency", help="requests in flight, whole team"
    ),
    daily_tokens: int | None = typer.Option(None, "--daily-tokens", help="tokens per UTC day"),
    monthly_tokens: int | None = typer.Option(
        None, "--monthly-tokens", help="tokens per UTC month"
    ),
    model_limit: list[str] | None = MODEL_LIMIT,
    models: str | None = typer.Option(
        None, "--models", help="comma-separated models (or aliases) the team's keys may use"
    ),
    clear: list[ClearChoice] | None = typer.Option(
        None, "--clear", help="remove a limit (repeatable)"
    ),
    as_json: bool = _JSON,
) -> None:
    """Set some of a team's limits or its models (creating the team); what is not named stays."""
    from pydantic import ValidationError

    from shared.schemas.teams import TeamFields

    data: dict[str, Any] = {
        field: value
        for field, value in {
            "rpm": rpm,
            "tpm": tpm,
            "max_concurrency": max_concurrency,
            "daily_tokens": daily_tokens,
            "monthly_tokens": monthly_tokens,
        }.items()
        if value is not None
    }
    if model_limit:
        data["model_limits"] = parse_model_limits(model_limit)
    if models is not None:
        data["models"] = [part.strip() for part in models.split(",") if part.strip()]
    for choice in clear or []:
        field = _CLEARABLE[choice.value]
        if field in data:
            fail(f"--clear {choice.value} contradicts the value given for it")
        data[field] = None
    if not data:
        fail("nothing to set: give at least one limit (see `tollgate teams set --help`)")
    try:
        spec = TeamFields.model_validate(data)
    except ValidationError as exc:
        fail(
            "; ".join(
                f"{_FLAGS.get(str(e['loc'][0]), e['loc'][0]) if e['loc'] else ''}: "
                f"{str(e['msg']).removeprefix('Value error, ')}"
                for e in exc.errors()
            )
        )
    _show(_run(lambda teams: teams.update(name, spec, create=True)), as_json)


@teams_app.command("delete")
def delete(name: str = _NAME, as_json: bool = _JSON) -> None:
    """Remove a team's limits (its keys keep their own)."""
    info = _run(lambda teams: teams.delete(name))
    if as_json:
        print_json(info.model_dump(mode="json"))
    else:
        err_console.print(f"[green]removed[/] the limits of team {info.name}", highlight=False)
