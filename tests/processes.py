"""Real `tollgate` processes for tests: the CLI run once, or a gateway started on a free port.

Every suite that runs the gateway as users do (a subprocess) starts it through here, so each
one waits for /health the same way and fails with the gateway's own last log lines.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from services.fake_engine.server import free_port
from shared.processes import ManagedProcess, ProcessExited, ReadyTimeout, wait_until_ready

TOLLGATE = (sys.executable, "-m", "services.cli")


def tollgate_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """This process's environment without the developer's TOLLGATE_* variables, plus a data
    dir of the test's own, JSON logs and `extra`."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("TOLLGATE_")},
        "TOLLGATE_DATA_DIR": str(data_dir),
        "TOLLGATE_LOG_FORMAT": "json",
        **extra,
    }


def run_cli(
    *args: str, env: dict[str, str] | None, timeout_s: float = 120
) -> subprocess.CompletedProcess[str]:
    """`tollgate ARGS` to completion (env None: this process's), output captured; the caller
    checks the return code."""
    return subprocess.run(
        [*TOLLGATE, *args], env=env, capture_output=True, text=True, timeout=timeout_s, check=False
    )


@dataclass(frozen=True)
class GatewayRun:
    url: str
    port: int
    process: ManagedProcess


def start_gateway(
    upstream: str,
    env: dict[str, str],
    *,
    port: int | None = None,
    args: Sequence[str] = (),
    keep_lines: int = 200,
    ready_timeout_s: float = 60,
    interval_s: float = 0.1,
) -> GatewayRun:
    """`tollgate gateway --port … --upstream … ARGS` once /health answers; the test fails with
    the gateway's log tail when it exits or stays silent instead."""
    port = port or free_port()
    command = [*TOLLGATE, "gateway", *args, "--port", str(port), "--upstream", upstream]
    process = ManagedProcess("gateway", command, env, echo=None, keep_lines=keep_lines).start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(f"{url}/health", process, ready_timeout_s, interval_s=interval_s)
    except (ProcessExited, ReadyTimeout) as exc:
        process.stop(grace_s=5)
        pytest.fail(f"gateway did not start: {exc}\n{process.last_lines()}", pytrace=False)
    return GatewayRun(url, port, process)


@contextlib.contextmanager
def gateway_process(
    upstream: str,
    env: dict[str, str],
    *,
    grace_s: float = 10,
    port: int | None = None,
    args: Sequence[str] = (),
    keep_lines: int = 200,
    ready_timeout_s: float = 60,
    interval_s: float = 0.1,
) -> Iterator[GatewayRun]:
    """A gateway started as in `start_gateway`, stopped (SIGTERM, then SIGKILL after
    `grace_s`) when the block ends; a test may stop it sooner itself."""
    run = start_gateway(
        upstream,
        env,
        port=port,
        args=args,
        keep_lines=keep_lines,
        ready_timeout_s=ready_timeout_s,
        interval_s=interval_s,
    )
    try:
        yield run
    finally:
        run.process.stop(grace_s=grace_s)
