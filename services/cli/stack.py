"""`tollgate up`: the whole stack in one command."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.panel import Panel
from rich.table import Table

from services.cli.common import err_console, fail, settings_from_env
from shared.settings import Settings

if TYPE_CHECKING:
    from gateway.keys.bootstrap import FirstStart


def register(app: typer.Typer) -> None:
    app.command(help="Start engine, gateway and UI; Ctrl-C stops all of them.")(up)


def up(
    model: Path | None = typer.Option(
        None, "--model", help="Hugging Face model directory (default: the embedded model)"
    ),
    host: str | None = typer.Option(
        None, help="interface for the gateway and UI; 0.0.0.0 shares them on the network"
    ),
) -> None:
    from services.engine.default_model import ModelPrepareError, prepare_default_model
    from services.engine.model_dir import ModelDirError, check_model_dir
    from services.stack import PartFailed, Stack, plan_parts

    settings = settings_from_env().with_section("engine", model=model)
    if host:
        settings = settings.with_section("gateway", host=host).with_section("ui", host=host)
    if settings.engine.model is None:
        try:
            with err_console.status("preparing the default model…"):
                prepare_default_model(settings.default_model_dir)
        except ModelPrepareError as exc:
            fail(str(exc), code=1)
    try:
        check_model_dir(settings.model_dir)
    except ModelDirError as exc:
        fail(str(exc))

    parts = plan_parts(settings)
    first_start = _first_start(settings) if any(p.name == "gateway" for p in parts) else None
    stack = Stack(parts)

    def _stop(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    # Explicit for SIGINT too: a shell starting us in the background would have it ignored.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _stop)
    try:
        with err_console.status("starting…") as status:
            took = stack.start(
                on_tick=lambda name, t: status.update(f"waiting for {name}… {t:.0f} s")
            )
        table = Table(title="Tollgate is up", show_header=True)
        table.add_column("part")
        table.add_column("URL")
        table.add_column("ready after")
        for part in stack.parts:
            table.add_row(part.name, part.public_url, f"{took[part.name]:.0f} s")
        err_console.print(table)
        if first_start is not None:
            _show_first_start(first_start)
        err_console.print("[dim]Ctrl-C stops everything.[/]")
        while (exited := stack.first_exited()) is None:
            time.sleep(0.5)
        name, code = exited
        tail = stack.processes[name].last_lines()
        err_console.print(
            Panel(tail or "(no output)", title=f"{name}'s last lines", border_style="red")
        )
        fail(f"{name} exited with code {code}; stopping the rest", code=1)
    except PartFailed as exc:
        err_console.print(
            Panel(
                exc.log_tail or "(no output)", title=f"{exc.part}'s last lines", border_style="red"
            )
        )
        fail(str(exc), code=1)
    except KeyboardInterrupt:
        err_console.print("stopping…")
    finally:
        stack.stop()
    err_console.print("[green]stopped[/]")


def _first_start(settings: Settings) -> FirstStart | None:
    """On the first start, an admin token and a first API key, so the install is usable at once."""
    from gateway.keys.bootstrap import ensure_first_start

    try:
        return ensure_first_start(settings)
    except Exception as exc:  # a database that cannot be opened, a read-only data dir…
        fail(f"could not prepare the database: {exc}", code=1)


def _show_first_start(first: FirstStart) -> None:
    lines = []
    if first.admin_token:
        lines.append(
            f"admin token: [bold]{first.admin_token}[/]  (saved in {first.admin_token_path})"
        )
    if first.first_key:
        lines.append(f"first API key: [bold]{first.first_key.key}[/]  (id {first.first_key.id})")
    lines.append(
        "[dim]Shown once: keys are stored hashed. Make more with `tollgate keys create`.[/]"
    )
    err_console.print(Panel("\n".join(lines), title="first start", border_style="green"))
