"""The launcher's supervision, with stand-in processes in place of vLLM."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from services.engine.launcher import EngineStartError, plan_engine, start_engine
from shared.settings import Settings
from tests.conftest import free_port


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    (tmp_path / "config.json").write_text(json.dumps({"architectures": ["LlamaForCausalLM"]}))
    return tmp_path


def test_plan_uses_cpu_settings_without_a_gpu(clean_env: Path, model_dir: Path) -> None:
    plan = plan_engine(Settings().with_section("engine", model=model_dir, port=8123), gpu=False)
    assert plan.base_url == "http://127.0.0.1:8123"
    assert plan.env["VLLM_CPU_KVCACHE_SPACE"] == "1"
    assert plan.served_model_name == model_dir.name


def test_an_engine_that_dies_while_starting_reports_its_last_lines(
    clean_env: Path, model_dir: Path
) -> None:
    plan = plan_engine(
        Settings().with_section("engine", model=model_dir, port=free_port()), gpu=False
    )
    dying = [
        sys.executable,
        "-c",
        "print('torch.OutOfMemoryError: CUDA out of memory'); raise SystemExit(1)",
    ]
    with pytest.raises(EngineStartError, match="exited with code 1") as caught:
        start_engine(replace(plan, command=dying), timeout_s=30, echo=False)
    assert "OutOfMemoryError" in caught.value.log_tail


def test_an_engine_that_never_answers_times_out(clean_env: Path, model_dir: Path) -> None:
    plan = plan_engine(
        Settings().with_section("engine", model=model_dir, port=free_port()), gpu=False
    )
    silent = [sys.executable, "-c", "import time; print('loading'); time.sleep(60)"]
    with pytest.raises(EngineStartError, match="not ready after 1 s") as caught:
        start_engine(replace(plan, command=silent), timeout_s=1, echo=False)
    assert "loading" in caught.value.log_tail
