"""`tollgate gateway`, started the way `tollgate up` starts it."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx

from services.fake_engine import running_fake_engine
from tests.processes import gateway_process, run_cli, tollgate_env


def test_gateway_command_serves_until_stopped(tmp_path: Path) -> None:
    with running_fake_engine() as engine:
        env = tollgate_env(tmp_path)
        args = ("--host", "127.0.0.1")
        with gateway_process(engine, env, args=args, keep_lines=60) as gateway:
            process = gateway.process
            try:
                ready = httpx.get(f"{gateway.url}/ready")
                assert ready.status_code == 200, process.last_lines()
                unauthorized = httpx.get(f"{gateway.url}/v1/models")
                assert unauthorized.status_code == 401
            finally:
                code = process.stop(grace_s=10)
    # uvicorn shuts down cleanly, then re-raises SIGTERM so the exit status says why.
    assert code in (0, -signal.SIGTERM), process.last_lines()
    assert "Application shutdown complete" in process.last_lines(200)
    assert '"logger": "tollgate.access"' in process.last_lines(200)


def test_gateway_command_refuses_an_upstream_that_is_not_a_url(tmp_path: Path) -> None:
    result = run_cli(
        "gateway", "--upstream", "localhost:8000", env=tollgate_env(tmp_path), timeout_s=60
    )
    assert result.returncode == 2
    assert "http(s) URL" in result.stderr
