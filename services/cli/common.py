"""Helpers every command uses: settings with flags applied, consoles, logging, clean exits."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NoReturn, TypeVar

import typer
from pydantic import BaseModel
from rich.console import Console

from shared.logging import configure_logging
from shared.settings import Settings, load_settings

S = TypeVar("S")
T = TypeVar("T")

# Human messages go to stderr so stdout stays clean for `--json` and paths.
err_console = Console(stderr=True)
out_console = Console()


def settings_from_env(**root_overrides: Any) -> Settings:
    try:
        settings = load_settings(**{k: v for k, v in root_overrides.items() if v is not None})
    except Exception as exc:  # pydantic's ValidationError, a bad .env…
        fail(f"invalid settings: {exc}")
    configure_logging(settings.log_format, settings.log_level)
    return settings


def fail(message: str, code: int = 2, *, hint: str | None = None) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    if hint:
        err_console.print(f"[dim]{hint}[/]", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def command_line(ctx: typer.Context) -> list[str]:
    """The command that reproduces this run: every option that differs from its default,
    rebuilt from what was parsed (so it is exact however the command was invoked); the key
    shows as `***`."""
    argv = ctx.command_path.split()
    for param in ctx.command.params:
        if getattr(param, "param_type_name", None) != "option" or param.name is None:
            continue
        value = ctx.params.get(param.name)
        if value == param.default or value is None or value == []:
            continue
        flag = max(param.opts, key=len)
        if getattr(param, "is_flag", False):
            if param.secondary_opts and not value:
                argv.append(max(param.secondary_opts, key=len))
            elif value:
                argv.append(flag)
            continue
        for item in value if isinstance(value, list | tuple) else [value]:
            argv += [flag, "***" if param.name == "api_key" else str(item)]
    return argv


def print_json(data: Any) -> None:
    import json

    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def print_json_list(items: Sequence[BaseModel]) -> None:
    """`{"data": [...]}`, the shape of the admin API's lists."""
    print_json({"data": [item.model_dump(mode="json") for item in items]})


def run_on_database(
    service: Callable[[Any], S],
    action: Callable[[S], Awaitable[T]],
    *,
    not_found_hint: str | None = None,
) -> T:
    """Open (and migrate) the database from settings, run one service call, close it.

    `service` builds the domain service from the session factory; a domain error (no such key or
    team, a bad name) becomes a clean exit with `not_found_hint`, never a traceback.
    """
    import asyncio
    import logging

    from gateway.db import DatabaseConfigError, DatabaseUnavailable, open_database
    from gateway.errors import GatewayError

    settings = settings_from_env()
    # Alembic announces its context on every run; only problems matter at a prompt.
    logging.getLogger("alembic").setLevel(logging.WARNING)

    async def main() -> T:
        async with open_database(settings.resolved_database_url) as db:
            return await action(service(db.sessions))

    try:
        return asyncio.run(main())
    except DatabaseConfigError as exc:
        fail(str(exc))
    except DatabaseUnavailable as exc:
        fail(exc.message, code=1, hint="check TOLLGATE_DATABASE_URL and that the database runs")
    except GatewayError as exc:
        fail(exc.message, code=1, hint=not_found_hint)
