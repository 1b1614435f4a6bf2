"""What the machine offers the engine: a CUDA GPU or only CPUs, and the environment that follows."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from shared.settings import EngineSettings


@cache
def has_nvidia_gpu() -> bool:
    """True when `nvidia-smi` lists at least one GPU (the Makefile uses the same test)."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return False
    try:
        listed = subprocess.run([exe, "-L"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return listed.returncode == 0 and "GPU" in listed.stdout


def engine_environment(
    settings: EngineSettings, *, gpu: bool, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The child's environment: the CPU build needs its KV-cache size and thread binding."""
    env = dict(os.environ if base is None else base)
    # Never reach for a model hub: models come from local directories.
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_OFFLINE", "1")
    env.setdefault("VLLM_NO_USAGE_STATS", "1")
    env.setdefault("DO_NOT_TRACK", "1")
    if not gpu:
        env["VLLM_CPU_KVCACHE_SPACE"] = _gib(settings.cpu_kvcache_space_gib)
        if settings.cpu_threads:
            env["VLLM_CPU_OMP_THREADS_BIND"] = settings.cpu_threads
    return env


def vllm_package_dir() -> Path | None:
    """Where the installed vLLM lives, found without importing it (that takes seconds)."""
    spec = importlib.util.find_spec("vllm")
    locations = list(spec.submodule_search_locations or []) if spec else []
    return Path(locations[0]) if locations else None


@cache
def vllm_has_scale_out() -> bool:
    """vLLM >= 0.32 serves /v1/chat/completions/render only with --enable-scale-out."""
    package = vllm_package_dir()
    return package is not None and (package / "entrypoints" / "scale_out").is_dir()


def _gib(value: float) -> str:
    # vLLM parses an integer number of GiB.
    return str(max(1, round(value)))
