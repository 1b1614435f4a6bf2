"""Typed settings for every part of Tollgate.

One `Settings` root reads `TOLLGATE_*` environment variables and a `.env` file; nested sections
are plain models (nested `BaseSettings` would miss the root's `.env`), set with a double
underscore: `TOLLGATE_ENGINE__PORT=8001`. Command-line flags override by `model_copy(update=…)`.
"""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from platformdirs import user_data_path
from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_MODEL_NAME = "SmolLM2-135M-Instruct"
_RATE = re.compile(r"\d+\s*(/|per)\s*(\d+\s+)?(second|minute|hour|day|month|year)s?", re.IGNORECASE)


def _split_csv(value: Any) -> Any:
    """Accept `a,b` from the environment as well as a real list."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


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


class UISettings(BaseModel):
    """The Gradio web UI; it talks only to the gateway."""

    host: str = Field(default="127.0.0.1", description="interface the UI listens on")
    port: int = Field(default=7860, ge=1, le=65535, description="UI port")
    gateway_url: str = Field(
        default="http://127.0.0.1:8080", description="the gateway the UI talks to"
    )
    concurrency_limit: int = Field(
        default=64, ge=1, description="chats (and other UI events) served at once per event"
    )
    queue_size: int = Field(
        default=512,
        ge=1,
        description="UI events waiting in Gradio's queue before new ones are refused",
    )
    request_timeout_s: float = Field(
        default=300.0, gt=0, description="seconds the UI waits for the gateway's answer"
    )
    sign_in_rate_limit: str = Field(
        default="10/minute", description="sign-in attempts per client IP (limits notation)"
    )
    chat_rate_limit: str = Field(
        default="60/minute", description="chat messages per client IP (limits notation)"
    )
    engine_refresh_s: float = Field(
        default=5.0, gt=0, description="seconds between live engine-state refreshes"
    )


class KeySettings(BaseModel):
    """API-key authentication in the gateway."""

    cache_ttl_s: float = Field(
        default=10.0,
        ge=0,
        description="seconds a looked-up key is trusted without asking the database (0 = no cache)",
    )
    last_used_flush_s: float = Field(
        default=15.0, gt=0, description="seconds between batched writes of keys' last-used times"
    )
    invalidation_channel: str = Field(
        default="tollgate:keys:changed",
        min_length=1,
        description="Redis pub/sub channel on which gateways (and the CLI) announce changed or revoked keys, when TOLLGATE_REDIS_URL is set",
    )


class UsageSettings(BaseModel):
    """The usage ledger: one row per proxied request, written in batches off the request path."""

    enabled: bool = Field(default=True, description="record one ledger row per proxied request")
    batch_size: int = Field(
        default=500, ge=1, le=10_000, description="ledger rows written in one transaction at most"
    )
    flush_interval_s: float = Field(
        default=1.0, gt=0, description="seconds a ledger row may wait before its batch is written"
    )
    max_buffer_rows: int = Field(
        default=100_000,
        ge=100,
        description="ledger rows held in memory while the database is unreachable; beyond it rows are dropped, logged and counted",
    )
    retry_max_s: float = Field(
        default=30.0, gt=0, description="longest pause in seconds between retries of a failed batch"
    )
    shutdown_timeout_s: float = Field(
        default=20.0, gt=0, description="seconds shutdown waits to write the rows still buffered"
    )
    retention_days: int | None = Field(
        default=None, ge=1, description="days ledger rows are kept (pruned hourly); unset = forever"
    )


class TracingSettings(BaseModel):
    """Optional OpenTelemetry traces of the gateway (needs the `otel` extra)."""

    enabled: bool = Field(default=False, description="export OpenTelemetry spans over OTLP")
    endpoint: str | None = Field(
        default=None,
        description="OTLP endpoint, e.g. http://127.0.0.1:4317; unset = the OTEL_EXPORTER_OTLP_* variables",
    )
    protocol: Literal["grpc", "http/protobuf"] = Field(
        default="grpc", description="OTLP transport: grpc (port 4317) or http/protobuf (4318)"
    )
    service_name: str = Field(default="tollgate-gateway", description="service.name of the spans")
    sample_ratio: float = Field(
        default=1.0, ge=0, le=1, description="share of requests traced (parent-based)"
    )


class LimitSettings(BaseModel):
    """Rate limits and token budgets (gateway/limits). Counters live in Redis when
    TOLLGATE_REDIS_URL is set, else in the gateway process."""

    default_rpm: int | None = Field(
        default=None,
        ge=1,
        description="requests per minute for keys without their own; unset = unlimited",
    )
    default_tpm: int | None = Field(
        default=None,
        ge=1,
        description="tokens per minute for keys without their own; unset = unlimited",
    )
    default_max_concurrency: int | None = Field(
        default=None,
        ge=1,
        description="requests in flight for keys without their own; unset = unlimited",
    )
    default_daily_tokens: int | None = Field(
        default=None,
        ge=1,
        description="tokens per UTC day for keys without their own; unset = unlimited",
    )
    default_monthly_tokens: int | None = Field(
        default=None,
        ge=1,
        description="tokens per UTC month for keys without their own; unset = unlimited",
    )
    bytes_per_token: float = Field(
        default=4.0, gt=0, description="prompt tokens are estimated as request-body bytes / this"
    )
    completion_estimate_tokens: int = Field(
        default=1024,
        ge=1,
        description="completion tokens reserved for a request that sets no max_tokens (settled to the real count after)",
    )
    max_estimate_tokens: int = Field(
        default=32768,
        ge=1,
        description="cap on one request's token reservation (prompt + completion)",
    )
    fail_mode: Literal["open", "closed"] = Field(
        default="open",
        description="when Redis fails: open = serve without limits (warning + metric), closed = 503",
    )
    redis_prefix: str = Field(
        default="tollgate:rl:", min_length=1, description="prefix of every rate-limit key in Redis"
    )
    redis_timeout_s: float = Field(
        default=0.25, gt=0, le=10, description="socket timeout in seconds for each Redis call"
    )
    redis_retry_s: float = Field(
        default=1.0,
        ge=0,
        description="after a Redis failure, seconds the fail mode applies before Redis is tried again",
    )
    concurrency_lease_s: float = Field(
        default=30.0,
        ge=3,
        description="lease of a concurrency slot in Redis, renewed while the request runs; a crashed gateway's slots free after it",
    )
    auth_failures_per_ip: str | None = Field(
        default="20/minute",
        description="failed API-key authentications per client IP before 429 (limits notation); unset = no limit",
    )

    @field_validator("auth_failures_per_ip")
    @classmethod
    def _one_rate(cls, value: str | None) -> str | None:
        # The `limits` notation for one rate: "20/minute", "20 per minute", "5 per 10 seconds".
        if value is not None and not _RATE.fullmatch(value.strip()):
            raise ValueError(f"{value!r} is not a rate such as '20/minute' or '5 per 10 seconds'")
        return value


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


class Settings(BaseSettings):
    """Everything configurable, read from `TOLLGATE_*` variables and `.env`."""

    model_config = SettingsConfigDict(
        env_prefix="TOLLGATE_",
        env_file=".env",
        env_file_encoding="utf-8",
        env_nested_delimiter="__",
        extra="ignore",
    )

    data_dir: Path = Field(
        default_factory=lambda: user_data_path("tollgate"),
        description="models, the SQLite database and generated secrets live here",
    )
    log_format: Literal["json", "console", "auto"] = Field(
        default="auto", description="json, console, or auto (console in a terminal)"
    )
    log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING or ERROR")
    log_content: bool = Field(
        default=False,
        description="log prompts and answers (secrets redacted, truncated); off = never logged",
    )
    log_content_max_chars: int = Field(
        default=2000, ge=0, description="longest prompt or answer text in one content log line"
    )
    database_url: str | None = Field(
        default=None, description="SQLAlchemy async URL; unset = SQLite file in the data dir"
    )
    redis_url: str | None = Field(
        default=None, description="unset = in-process limits; set = limits shared across gateways"
    )
    upstreams: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["http://127.0.0.1:8000"],
        description="engine base URLs, comma-separated",
    )
    admin_token: SecretStr | None = Field(
        default=None,
        description="bearer token for /admin; unset = generated on first `tollgate up`",
    )
    ui_token: SecretStr | None = Field(
        default=None,
        description="secret shared by UI and gateway: UI chats may run interactive; "
        "unset = DATA_DIR/ui-token, generated on first `tollgate up`",
    )

    engine: EngineSettings = Field(default_factory=EngineSettings)
    gateway: GatewaySettings = Field(default_factory=GatewaySettings)
    ui: UISettings = Field(default_factory=UISettings)
    keys: KeySettings = Field(default_factory=KeySettings)
    usage: UsageSettings = Field(default_factory=UsageSettings)
    tracing: TracingSettings = Field(default_factory=TracingSettings)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    scheduling: SchedulingSettings = Field(default_factory=SchedulingSettings)
    routing: RoutingSettings = Field(default_factory=RoutingSettings)

    _split_upstreams = field_validator("upstreams", mode="before")(_split_csv)

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("expected redis://host:port/db, rediss://… (TLS) or unix:///path")
        return value or None

    @field_validator("upstreams")
    @classmethod
    def _strip_trailing_slash(cls, value: list[str]) -> list[str]:
        return [url.rstrip("/") for url in value]

    @cached_property
    def default_model_dir(self) -> Path:
        return self.data_dir / "models" / DEFAULT_MODEL_NAME

    @property
    def model_dir(self) -> Path:
        """The model the engine serves: `--model`, else the embedded default."""
        return self.engine.model or self.default_model_dir

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'tollgate.db'}"

    def with_section(self, section: str, **changes: Any) -> Settings:
        """A copy with CLI flags applied to one section; `None` means 'flag not given'."""
        given = {k: v for k, v in changes.items() if v is not None}
        if not given:
            return self
        current: BaseModel = getattr(self, section)
        return self.model_copy(update={section: current.model_copy(update=given)})


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment and `.env`; keyword overrides win."""
    return Settings(**overrides)
