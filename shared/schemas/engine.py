"""The engines behind the gateway, live: what `GET /tollgate/engine` answers (the UI shows it).

Numbers come from each engine's vLLM `/metrics`; null means the gateway could not read that
engine (down, or its metrics page unreadable), not zero.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class UpstreamState(BaseModel):
    """One engine, as last sampled."""

    name: str = Field(description="the engine's name in the gateway's config (or host:port)")
    healthy: bool = Field(description="the health check passes and its metrics could be read")
    models: list[str] = Field(description="the models it last listed")
    requests_running: int | None = Field(default=None, description="requests generating now")
    requests_waiting: int | None = Field(default=None, description="requests queued inside it")
    kv_cache_usage: float | None = Field(default=None, description="KV cache in use, 0 to 1")
    prompt_tokens_per_s: float | None = Field(
        default=None, description="prompt tokens processed per second, over the last seconds"
    )
    generation_tokens_per_s: float | None = Field(
        default=None, description="answer tokens generated per second, over the last seconds"
    )


class EngineState(BaseModel):
    """`GET /tollgate/engine`: every engine behind this gateway."""

    upstreams: list[UpstreamState]
    sampled_at: datetime = Field(description="when the engines were sampled, UTC")
