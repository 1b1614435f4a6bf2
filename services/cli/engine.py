"""`tollgate engine` and `tollgate model prepare`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.panel import Panel
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from services.cli.common import err_console, fail, print_json, settings_from_env

model_app = typer.Typer(help="Manage model directories.", no_args_is_help=True)

PREPARE_STEPS = 5  # the `step` callbacks prepare_default_model makes


def register(app: typer.Typer) -> None:
    app.command(
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
        help="Run the vLLM OpenAI server (port 8000). Arguments after `--` go to vLLM unchanged.",
    )(engine)
    app.add_typer(model_app, name="model")


def engine(
    ctx: typer.Context,
    model: Path | None = typer.Option(
        None, "--model", help="Hugging Face model directory (default: the embedded model)"
    ),
    host: str | None = typer.Option(None, help="interface to listen on (default: 127.0.0.1)"),
    port: int | None = typer.Option(None, help="port (default: 8000)"),
    tensor_parallel_size: int | None = typer.Option(
        None, "--tensor-parallel-size", "-tp", min=1, help="GPUs per engine (default: 1)"
    ),
    gpu_memory_utilization: float | None = typer.Option(
        None, min=0.01, max=1.0, help="(default: 0.8)"
    ),
    max_model_len: int | None = typer.Option(None, min=16, help="context length (default: 2048)"),
    served_model_name: str | None = typer.Option(
        None, help="name clients use (default: the directory's name)"
    ),
    scheduling_policy: str | None = typer.Option(None, help="fcfs or priority (default: fcfs)"),
) -> None:
    from services.engine.command import EngineArgumentError
    from services.engine.launcher import EngineStartError, run_engine
    from services.engine.model_dir import ModelDirError

    settings = settings_from_env().with_section(
        "engine",
        model=model,
        host=host,
        port=port,
        tensor_parallel_size=tensor_parallel_size,
        gpu_memory_utilization=gpu_memory_utilization,
        max_model_len=max_model_len,
        served_model_name=served_model_name,
        scheduling_policy=scheduling_policy,
        extra_args=list(ctx.args) or None,
    )
    if settings.engine.scheduling_policy not in ("fcfs", "priority"):
        fail("--scheduling-policy must be fcfs or priority")
    try:
        code = run_engine(settings, err_console)
    except (ModelDirError, EngineArgumentError) as exc:
        fail(str(exc))
    except EngineStartError as exc:
        err_console.print(
            Panel(exc.log_tail or "(no output)", title="engine's last lines", border_style="red")
        )
        fail(str(exc), code=1)
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    raise typer.Exit(code)


@model_app.command("prepare")
def prepare(
    out: Path | None = typer.Option(
        None, help="target directory (default: DATA_DIR/models/SmolLM2-135M-Instruct)"
    ),
    force: bool = typer.Option(False, "--force", help="rebuild even if a checked build is there"),
    as_json: bool = typer.Option(False, "--json", help="print a JSON object instead of the path"),
) -> None:
    """Build the embedded default model (SmolLM2-135M-Instruct) and print its path."""
    from services.engine.default_model import ModelPrepareError, prepare_default_model

    settings = settings_from_env()
    target = out or settings.default_model_dir
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )
    try:
        with progress:
            task = progress.add_task("checking", total=PREPARE_STEPS)

            def step(description: str) -> None:
                progress.update(task, description=description, advance=1)

            result = prepare_default_model(target, step=step, force=force)
    except ModelPrepareError as exc:
        fail(str(exc), code=1)
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    if result.built:
        err_console.print(f"[green]built[/] the default model in {result.path}")
    else:
        err_console.print(f"[green]ready[/]: {result.path} (already built and checked)")
    if as_json:
        print_json({"path": str(result.path), "built": result.built})
    else:
        typer.echo(str(result.path))
