"""The gateway's own settings: listening, upstream timeouts, and routing across engines."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr


class GatewaySettings(BaseModel):
    """The Litestar gateway in front of the engines."""

    host: str = Field(default="127.0.0.1", description="interface the gateway listens on")
    port: int = Field(default=8080, ge=1, le=65535, description="gateway port")
    workers: int = Field(default=1, ge=1, description="gateway worker processes")
    # Upstream timeouts, one per phase of an exchange with the engine.
    connect_timeout_s: float = Field(
        default=5.0, gt=0, description="seconds to open a connection to an engine"
    )
    first_byte_timeout_s: float = Field(
        default=300.0,
        gt=0,
        description="seconds until the engine's response headers (a non-streamed answer is generated first)",
    )
    idle_timeout_s: float = Field(
        default=120.0, gt=0, description="longest silence in seconds between two chunks of a stream"
    )
    total_timeout_s: float = Field(
        default=900.0, gt=0, description="seconds one exchange with the engine may take in all"
    )
    max_body_bytes: int = Field(
        default=16 * 1024 * 1024, ge=1024, description="largest request body; 413 above it"
    )
    request_read_timeout_s: float = Field(
        default=30.0,
        gt=0,
        description="seconds a client may take to send a whole request (head and body); 408 after it (slow-client guard)",
    )
    trusted_proxies: str = Field(
        default="",
        description="load balancers (addresses or networks, comma-separated; * = any) whose "
        "X-Forwarded-For names the client, for per-address limits and logs; empty = the TCP peer",
    )
    max_connections: int = Field(
        default=1024, ge=1, description="pooled connections from one gateway process to the engines"
    )
    health_interval_s: float = Field(
        default=5.0, gt=0, description="seconds between health checks of each engine"
    )
    engine_api_key: SecretStr | None = Field(
        default=None,
        description="the engine's own key (vLLM --api-key), sent instead of the client's",
    )
    # aiohttp by default: a third of httpcore's CPU per exchange (docs/benchmarks.md).
    upstream_transport: Literal["httpx", "aiohttp"] = Field(
        default="aiohttp",
        description="pool under the gateway's httpx client: aiohttp's (less CPU) or httpcore's",
    )


class RoutingSettings(BaseModel):
    """Several engines behind one gateway (gateway/routing): routing by model name, aliases,
    which models each team may use."""

    upstreams_file: Path | None = Field(
        default=None,
        description="YAML file listing the engines (`upstreams: [{url, name}]`) and optionally `aliases` and `team_models`; set = it replaces TOLLGATE_UPSTREAMS",
    )
    aliases: dict[str, str] = Field(
        default_factory=dict,
        description='friendly model names -> an engine\'s model, JSON, e.g. {"team-default": "merged_qwen3_finetuned"}',
    )
    team_models: dict[str, list[str]] = Field(
        default_factory=dict,
        description='models (or aliases) each team may use, JSON, e.g. {"ml": ["team-default"]}, for teams without a list in the database (/admin/teams, `tollgate teams set --models`); a team with neither may use every model',
    )
    models_refresh_s: float = Field(
        default=30.0,
        gt=0,
        description="seconds between re-reads of each healthy engine's /v1/models (LoRA adapters loaded later appear within it)",
    )
