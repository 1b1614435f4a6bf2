"""Fair sharing of the engines (gateway/scheduling)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class SchedulingSettings(BaseModel):
    """Fair sharing of the engines (gateway/scheduling): per-key queues in the gateway, served
    by weighted deficit round robin, that fill when the engines are busy."""

    enabled: bool = Field(
        default=True, description="queue generation requests fairly when the engines are busy"
    )
    fair_by: Literal["key", "team"] = Field(
        default="key",
        description="one queue per key, or per team (keys without a team keep their own)",
    )
    max_in_flight: int | None = Field(
        default=None,
        ge=1,
        description="generation requests let into the engines at once, all gateway workers together (each worker takes its share, rounded up); unset = no cap, only the engine state holds requests",
    )
    engine_waiting_threshold: int | None = Field(
        default=4,
        ge=0,
        description="keep the engines' waiting queue (vLLM's num_requests_waiting, polled) near this many: more held back in the gateway's fair queue; unset = do not poll",
    )
    engine_kv_cache_threshold: float | None = Field(
        default=None,
        gt=0,
        le=1,
        description="hold requests while the engines' KV-cache use is at or above this share; unset = ignore it (vLLM's waiting queue grows anyway when its KV cache is full)",
    )
    engine_poll_interval_s: float = Field(
        default=0.5, gt=0, description="seconds between polls of the engines' /metrics while busy"
    )
    max_queue_per_key: int = Field(
        default=100, ge=1, description="requests one key (or team) may have waiting; 429 beyond"
    )
    max_wait_s: float = Field(
        default=60.0,
        gt=0,
        description="seconds a request may wait in the gateway's queue; 503 after",
    )
    weight_interactive: int = Field(
        default=4, ge=1, description="requests an interactive key is served per round"
    )
    weight_standard: int = Field(
        default=2, ge=1, description="requests a standard key is served per round"
    )
    weight_batch: int = Field(
        default=1, ge=1, description="requests a batch key is served per round"
    )
    send_priority: bool | None = Field(
        default=None,
        description="send each request's tier as vLLM's `priority` (needs engines started with --scheduling-policy priority); unset = when engine.scheduling_policy is priority",
    )
    priority_interactive: int = Field(
        default=-10, description="vLLM priority of interactive requests (lower runs earlier)"
    )
    priority_standard: int = Field(default=0, description="vLLM priority of standard requests")
    priority_batch: int = Field(default=10, description="vLLM priority of batch requests")
