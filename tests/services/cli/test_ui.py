"""`tollgate ui`, started the way `tollgate up` starts it."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import httpx
from typer.testing import CliRunner

from services.cli import app
from shared.processes import ManagedProcess, wait_until_ready
from tests.conftest import free_port
from tests.processes import TOLLGATE
from tests.ui.stack import running_stack


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOLLGATE_")}
    return {**env, "TOLLGATE_DATA_DIR": str(data_dir), "TOLLGATE_LOG_FORMAT": "json"}


def test_ui_help_names_its_options() -> None:
    result = CliRunner().invoke(app, ["ui", "--help"])
    assert result.exit_code == 0
    assert "--gateway" in result.output and "--port" in result.output


def test_ui_refuses_a_gateway_that_is_not_a_url(clean_env: Path) -> None:
    result = CliRunner().invoke(app, ["ui", "--gateway", "localhost:8080"])
    assert result.exit_code == 2
    assert "http:// or https://" in result.output


def test_ui_command_serves_the_page_until_stopped(tmp_path: Path) -> None:
    port = free_port()
    with running_stack(tmp_path / "gateway") as stack:  # the real gateway, a fake engine
        command = [*TOLLGATE, "ui", "--host", "127.0.0.1"]
        command += ["--port", str(port), "--gateway", stack.gateway_url]
        process = ManagedProcess("ui", command, _env(tmp_path), echo=None).start()
        try:
            wait_until_ready(f"http://127.0.0.1:{port}/", process, 120, interval_s=0.2)
            page = httpx.get(f"http://127.0.0.1:{port}/")
            assert page.status_code == 200 and "Tollgate" in page.text
            assert page.headers["x-frame-options"] == "DENY"
        finally:
            code = process.stop(grace_s=15)
    assert code in (0, -signal.SIGTERM), process.last_lines()
    assert '"event": "ui_started"' in process.last_lines(200)
