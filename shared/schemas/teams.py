"""Teams' limits on the wire: what `/admin/teams` and `tollgate teams` accept and return.

A team's limits are shared by all its keys (one team counter), on top of each key's own."""

from __future__ import annotations

from datetime import datetime

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from shared.schemas.keys import (
    KeyLimitsInfo,
    ModelLimitsMap,
    ModelName,
    RateLimit,
    TokenBudget,
)

TEAM_LIMIT_FIELDS = ("rpm", "tpm", "max_concurrency", "daily_tokens", "monthly_tokens")


class TeamFields(BaseModel):
    """A team's limits. PUT: a field left out or null means no team-wide limit of that kind;
    PATCH: only fields present change (null removes that limit). Unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")

    rpm: RateLimit | None = Field(default=None, description="requests per minute, whole team")
    tpm: RateLimit | None = Field(default=None, description="tokens per minute, whole team")
    max_concurrency: RateLimit | None = Field(
        default=None, description="requests in flight, whole team"
    )
    daily_tokens: TokenBudget | None = Field(default=None, description="tokens per UTC day")
    monthly_tokens: TokenBudget | None = Field(default=None, description="tokens per UTC month")
    model_limits: ModelLimitsMap | None = None
    models: list[ModelName] | None = Field(
        default=None,
        min_length=1,
        max_length=1000,
        validation_alias=AliasChoices("models", "allowed_models"),
        description="models (or aliases) the team's keys may use, on top of each key's own list; null = every model",
    )

    @field_validator("models")
    @classmethod
    def _dedupe(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else list(dict.fromkeys(value))


class TeamInfo(BaseModel):
    name: str
    allowed_models: list[str] | None = Field(default=None, description="null = every model")
    limits: KeyLimitsInfo
    model_limits: dict[str, KeyLimitsInfo] | None = Field(
        default=None, description="per-model limits; null = none"
    )
    created_at: datetime
    updated_at: datetime


class TeamList(BaseModel):
    data: list[TeamInfo]
