"""The vLLM engine's settings (services/engine)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import NoDecode


class EngineSettings(BaseModel):
    """The vLLM OpenAI server. Defaults are the original project's command line."""

    model: Path | None = Field(
        default=None, description="Hugging Face model directory; unset = the embedded default model"
    )
    host: str = Field(default="127.0.0.1", description="interface vLLM listens on")
    port: int = Field(default=8000, ge=1, le=65535, description="vLLM's port")
    tensor_parallel_size: int = Field(default=1, ge=1, description="GPUs one engine spans")
    gpu_memory_utilization: float = Field(
        default=0.8, gt=0, le=1, description="share of GPU memory vLLM may take"
    )
    max_model_len: int = Field(default=2048, ge=16, description="context length in tokens")
    served_model_name: str | None = Field(
        default=None, description="name clients use; unset = the model directory's name"
    )
    trust_remote_code: bool = Field(default=True, description="pass --trust-remote-code to vLLM")
    enable_render_route: bool = Field(
        default=True,
        description="serve /v1/chat/completions/render (the UI's prompt view; --enable-scale-out on vLLM >= 0.32)",
    )
    scheduling_policy: Literal["fcfs", "priority"] = Field(
        default="fcfs",
        description="vLLM scheduling: fcfs, or priority to honour per-request priority",
    )
    cpu_kvcache_space_gib: float = Field(
        default=1.0, gt=0, description="KV-cache size on the CPU build (VLLM_CPU_KVCACHE_SPACE)"
    )
    cpu_threads: str | None = Field(
        default=None,
        description="cores the CPU build binds to (VLLM_CPU_OMP_THREADS_BIND), e.g. '0-3'; unset = vLLM's auto",
    )
    startup_timeout_s: float = Field(
        default=900.0, gt=0, description="seconds to wait for /health before giving up"
    )
    extra_args: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="more vLLM arguments, space-separated"
    )

    _split_extra = field_validator("extra_args", mode="before")(
        lambda v: v.split() if isinstance(v, str) else v
    )
