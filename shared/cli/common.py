"""Helpers every command uses: settings with flags applied, consoles, logging, clean exits."""

from __future__ import annotations

import sys
from typing import Any, NoReturn

import typer
from rich.console import Console

from shared.logging import configure_logging
from shared.settings import Settings, load_settings

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


def print_json(data: Any) -> None:
    import json

    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
