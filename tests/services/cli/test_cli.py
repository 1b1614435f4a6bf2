"""The `tollgate` command as a user types it."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from services.cli import app
from tests.processes import run_cli

runner = CliRunner()


def tollgate(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, env=env)


@pytest.mark.parametrize("command", [[], ["engine"], ["up"], ["model", "prepare"]])
def test_every_command_has_help(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_engine_with_a_missing_model_fails_fast_with_a_clear_message(clean_env: Path) -> None:
    started = time.monotonic()
    result = tollgate("engine", "--model", str(clean_env / "no-such-model"))
    assert result.returncode == 2
    assert "does not exist" in result.stderr
    assert "Traceback" not in result.stderr
    # Checked before vLLM is even imported: a second, not a minute.
    assert time.monotonic() - started < 60


def test_engine_with_a_directory_that_is_not_a_model(clean_env: Path) -> None:
    result = tollgate("engine", "--model", str(clean_env))
    assert result.returncode == 2
    assert "no config.json" in result.stderr


def test_engine_refuses_extra_arguments_that_clash_with_its_own(
    clean_env: Path, default_model_dir: Path
) -> None:
    result = tollgate("engine", "--model", str(default_model_dir), "--", "--port", "9000")
    assert result.returncode == 2
    assert "--port is set by tollgate engine itself" in result.stderr


def test_engine_rejects_bad_option_values(clean_env: Path) -> None:
    result = runner.invoke(app, ["engine", "--gpu-memory-utilization", "2"])
    assert result.exit_code == 2


def test_model_prepare_is_idempotent_and_prints_the_path(
    default_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOLLGATE_DATA_DIR", str(default_model_dir.parents[1]))
    result = tollgate("model", "prepare", "--json", env=None)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"path": str(default_model_dir), "built": False}
    plain = tollgate("model", "prepare")
    assert plain.stdout.strip() == str(default_model_dir)
