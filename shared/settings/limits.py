"""Who may call and how much: API keys, the usage ledger, rate limits and token budgets."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, Field, field_validator

_RATE = re.compile(r"\d+\s*(/|per)\s*(\d+\s+)?(second|minute|hour|day|month|year)s?", re.IGNORECASE)


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
