"""`tollgate gateway`, started the way `tollgate up` starts it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from services.fake_engine import running_fake_engine
from services.fake_engine.server import free_port
from shared.processes import ManagedProcess, wait_until_ready


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOLLGATE_")}
    return {**env, "TOLLGATE_DATA_DIR": str(data_dir), "TOLLGATE_LOG_FORMAT": "json"}


def test_gateway_command_serves_until_stopped(tmp_path: Path) -> None:
    port = free_port()
    with running_fake_engine() as engine:
        command = [sys.executable, "-m", "shared.cli", "gateway", "--host", "127.0.0.1"]
        command += ["--port", str(port), "--upstream", engine]
        process = ManagedProcess("gateway", command, _env(tmp_path), echo=None).start()
        try:
            wait_until_ready(f"http://127.0.0.1:{port}/health", process, 60, interval_s=0.1)
            ready = httpx.get(f"http://127.0.0.1:{port}/ready")
            assert ready.status_code == 200, process.last_lines()
            unauthorized = httpx.get(f"http://127.0.0.1:{port}/v1/models")
            assert unauthorized.status_code == 401
        finally:
            code = process.stop(grace_s=10)
    # uvicorn shuts down cleanly, then re-raises SIGTERM so the exit status says why.
    assert code in (0, -signal.SIGTERM), process.last_lines()
    assert "Application shutdown complete" in process.last_lines(200)
    assert '"logger": "tollgate.access"' in process.last_lines(200)


def test_gateway_command_refuses_an_upstream_that_is_not_a_url(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "shared.cli", "gateway", "--upstream", "localhost:8000"],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "http(s) URL" in result.stderr
