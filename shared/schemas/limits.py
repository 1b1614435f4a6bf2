"""What is left of a key's limits right now, as `GET /tollgate/me` reports it (the UI shows it)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class LimitState(BaseModel):
    """One limit in force: the tightest of the key's own (or the default) and its team's."""

    limit: int = Field(description="the limit: per minute, per UTC day/month, or in flight")
    remaining: int = Field(description="left now")
    reset_seconds: float = Field(
        description="seconds until the limit is back to full (budgets: until the window ends)"
    )
    scope: Literal["key", "team"] = Field(description="whose limit this is")
    default: bool = Field(
        default=False, description="the gateway's default, as the key has no limit of its own"
    )


class LimitsRemaining(BaseModel):
    """Per kind of limit; null = no limit of that kind applies."""

    requests: LimitState | None = Field(default=None, description="requests per minute")
    tokens: LimitState | None = Field(default=None, description="tokens per minute")
    concurrency: LimitState | None = Field(default=None, description="requests in flight")
    daily_tokens: LimitState | None = Field(default=None, description="tokens this UTC day")
    monthly_tokens: LimitState | None = Field(default=None, description="tokens this UTC month")
