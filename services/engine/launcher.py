"""`tollgate engine`: check the model, start vLLM, wait for /health, supervise until it ends."""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from services.engine.command import build_command, served_model_name
from services.engine.model_dir import ModelInfo, check_model_dir
from services.engine.platform import engine_environment, has_nvidia_gpu
from shared.processes import ManagedProcess, ProcessExited, ReadyTimeout, wait_until_ready
from shared.settings import Settings


class EngineStartError(RuntimeError):
    """The engine did not come up; `log_tail` holds its last lines."""

    def __init__(self, message: str, log_tail: str = "") -> None:
        super().__init__(message)
        self.log_tail = log_tail


@dataclass(frozen=True)
class EnginePlan:
    """Everything decided before the process starts: printable, testable."""

    model: ModelInfo
    command: list[str]
    env: dict[str, str]
    gpu: bool
    base_url: str
    served_model_name: str


def plan_engine(settings: Settings, *, gpu: bool | None = None) -> EnginePlan:
    """Check the model directory and build the command; raises `ModelDirError` on a bad model."""
    info = check_model_dir(Path(settings.model_dir))
    on_gpu = has_nvidia_gpu() if gpu is None else gpu
    engine = settings.engine
    host = "127.0.0.1" if engine.host in ("0.0.0.0", "::") else engine.host
    return EnginePlan(
        model=info,
        command=build_command(engine, info.path),
        env=engine_environment(engine, gpu=on_gpu),
        gpu=on_gpu,
        base_url=f"http://{host}:{engine.port}",
        served_model_name=served_model_name(engine, info.path),
    )


def start_engine(
    plan: EnginePlan,
    timeout_s: float,
    *,
    on_tick: Callable[[float], None] | None = None,
    echo: bool = True,
) -> tuple[ManagedProcess, float]:
    """Start vLLM and wait for `/health`. Returns the process and the seconds it took."""
    # No prefix: vLLM tags its own lines, and `tollgate up` adds "[engine]" around ours.
    process = ManagedProcess(
        "engine", plan.command, plan.env, echo=sys.stderr if echo else None, prefix=""
    )
    process.start()
    try:
        took = wait_until_ready(f"{plan.base_url}/health", process, timeout_s, on_tick=on_tick)
    except ProcessExited as exc:
        process.stop()
        raise EngineStartError(
            f"the engine exited with code {exc.code} while starting", process.last_lines()
        ) from exc
    except ReadyTimeout as exc:
        tail = process.last_lines()
        process.stop()
        raise EngineStartError(f"the engine was not ready after {timeout_s:.0f} s", tail) from exc
    except BaseException:
        process.stop()
        raise
    return process, took


def run_engine(settings: Settings, console: Console) -> int:
    """Foreground engine: returns the exit code for the CLI."""
    plan = plan_engine(settings)
    console.print(
        f"[bold]engine[/] serving [cyan]{plan.model.path}[/] as [cyan]{plan.served_model_name}[/] "
        f"on {'GPU' if plan.gpu else 'CPU'} at {plan.base_url}"
    )
    holder: dict[str, ManagedProcess] = {}
    stop_requested = False

    def _forward(signum: int, _frame: object) -> None:
        nonlocal stop_requested
        stop_requested = True
        if "p" in holder:
            holder["p"].send_signal(signum)
        else:
            raise KeyboardInterrupt

    previous = {s: signal.signal(s, _forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        with console.status("starting vLLM…") as status:
            process, took = start_engine(
                plan,
                settings.engine.startup_timeout_s,
                on_tick=lambda t: status.update(f"starting vLLM… {t:.0f} s"),
            )
        holder["p"] = process
        console.print(f"[green]engine ready[/] in {took:.1f} s: {plan.base_url}/v1")
        while process.poll() is None:
            time.sleep(0.5)
        code = process.stop()
        return 0 if stop_requested else (code or 0)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
