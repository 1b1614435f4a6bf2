"""The usage ledger on the wire: what `GET /admin/usage`, `tollgate usage` and the key holder's
`GET /tollgate/usage` answer (the UI reads the last one)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from shared.schemas.keys import KeyLimitsInfo

GroupBy = Literal["hour", "day", "model", "key", "team"]
GROUP_BY_CHOICES: tuple[GroupBy, ...] = ("hour", "day", "model", "key", "team")
Bucket = Literal["hour", "day"]


class UsageFilters(BaseModel):
    """Which ledger rows a report covers; null = no restriction."""

    key_id: str | None = None
    team: str | None = None
    model: str | None = None
    since: datetime | None = Field(default=None, description="inclusive, UTC")
    until: datetime | None = Field(default=None, description="exclusive, UTC")


class UsageRow(BaseModel):
    """One group of ledger rows. Grouping columns not asked for are null."""

    start: datetime | None = Field(default=None, description="the hour or day, when grouped so")
    key_id: str | None = None
    key_name: str | None = None
    team: str | None = None
    model: str | None = None
    requests: int = 0
    errors: int = Field(default=0, description="answers with status >= 400, disconnects aside")
    disconnected: int = Field(default=0, description="requests the client abandoned")
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    total_tokens: int = 0
    estimated: int = Field(default=0, description="requests whose tokens are estimated")
    avg_latency_ms: float | None = None
    avg_ttft_ms: float | None = None


# The measures of a UsageRow that add up across groups (the averages do not: they are weighted).
COUNTS = (
    "requests",
    "errors",
    "disconnected",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "total_tokens",
    "estimated",
)


class UsageReport(BaseModel):
    """`GET /admin/usage` and `tollgate usage --json`."""

    group_by: list[GroupBy]
    filters: UsageFilters
    data: list[UsageRow]
    totals: UsageRow


class UsageBucket(BaseModel):
    start: datetime
    requests: int
    prompt_tokens: int
    completion_tokens: int
    errors: int


class UsageTotals(BaseModel):
    requests: int
    prompt_tokens: int
    completion_tokens: int


class KeyUsageReport(BaseModel):
    """`GET /tollgate/usage`: the calling key's own usage over time, and its limits."""

    key_id: str
    bucket: Bucket
    since: datetime | None
    until: datetime | None
    buckets: list[UsageBucket]
    totals: UsageTotals
    limits: KeyLimitsInfo


class PruneResult(BaseModel):
    """`tollgate usage prune --json`."""

    deleted: int
    older_than: datetime
