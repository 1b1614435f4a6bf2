"""`tollgate up`: engine, gateway and UI as child processes that start and stop together."""

from __future__ import annotations

import functools
import importlib.util
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from shared.processes import ManagedProcess, ProcessExited, ReadyTimeout, wait_until_ready
from shared.settings import Settings


@dataclass(frozen=True)
class Part:
    """One process of the stack: how to start it and how to know it is ready."""

    name: str
    command: list[str]
    ready_url: str
    public_url: str
    timeout_s: float
    env: dict[str, str] = field(default_factory=dict)


class PartFailed(RuntimeError):
    def __init__(self, part: str, message: str, log_tail: str) -> None:
        super().__init__(f"{part}: {message}")
        self.part = part
        self.log_tail = log_tail


_QUIET_ENGINE = "--disable-uvicorn-access-log"


def _local(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "::") else host


def part_exists(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def plan_parts(settings: Settings) -> list[Part]:
    """The parts this installation has, with the settings passed on through the environment."""
    me = [sys.executable, "-m", "services.cli"]
    env = {"TOLLGATE_DATA_DIR": str(settings.data_dir)}
    e, g, u = settings.engine, settings.gateway, settings.ui
    engine_url = f"http://{_local(e.host)}:{e.port}"
    gateway_url = f"http://{_local(g.host)}:{g.port}"
    parts = [
        Part(
            "engine",
            [
                *me,
                "engine",
                "--model",
                str(settings.model_dir),
                "--host",
                e.host,
                "--port",
                str(e.port),
            ],
            f"{engine_url}/health",
            f"{engine_url}/v1",
            e.startup_timeout_s,
            # The gateway logs every request; vLLM's own access lines (a health check every few
            # seconds) would only bury the console.
            {**env, "TOLLGATE_ENGINE__EXTRA_ARGS": " ".join([*e.extra_args, _QUIET_ENGINE])},
        )
    ]
    if part_exists("gateway.app"):
        parts.append(
            Part(
                "gateway",
                [*me, "gateway", "--host", g.host, "--port", str(g.port), "--upstream", engine_url],
                f"{gateway_url}/health",
                f"{gateway_url}/v1",
                60.0,
                env,
            )
        )
    if part_exists("ui.app"):
        parts.append(
            Part(
                "ui",
                [*me, "ui", "--host", u.host, "--port", str(u.port), "--gateway", gateway_url],
                f"http://{_local(u.host)}:{u.port}/",
                f"http://{_local(u.host)}:{u.port}/",
                120.0,
                env,
            )
        )
    return parts


class Stack:
    """Starts every part, waits until each answers, and stops all of them together."""

    def __init__(self, parts: list[Part]) -> None:
        self.parts = parts
        self.processes: dict[str, ManagedProcess] = {}

    def start(self, on_tick: Callable[[str, float], None] | None = None) -> dict[str, float]:
        """Start all parts at once (the gateway and UI need not wait for the engine)."""
        for part in self.parts:
            env = {**os.environ, **part.env}
            self.processes[part.name] = ManagedProcess(part.name, part.command, env).start()
        took: dict[str, float] = {}
        started = time.monotonic()
        for part in self.parts:
            process = self.processes[part.name]
            remaining = max(1.0, part.timeout_s - (time.monotonic() - started))
            tick: Callable[[float], None] | None = None
            if on_tick is not None:
                tick = functools.partial(on_tick, part.name)
            try:
                wait_until_ready(part.ready_url, process, remaining, on_tick=tick)
            except ProcessExited as exc:
                raise PartFailed(
                    part.name, f"exited with code {exc.code}", process.last_lines()
                ) from exc
            except ReadyTimeout as exc:
                raise PartFailed(part.name, str(exc), process.last_lines()) from exc
            took[part.name] = time.monotonic() - started
        return took

    def first_exited(self) -> tuple[str, int] | None:
        for name, process in self.processes.items():
            if (code := process.poll()) is not None:
                return name, code
        return None

    def stop(self) -> None:
        """UI first, engine last: requests in flight drain through the gateway before the engine goes."""
        for part in reversed(self.parts):
            process = self.processes.get(part.name)
            if process is not None:
                process.stop(grace_s=30.0)
