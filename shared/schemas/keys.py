"""API keys on the wire: what the admin API and `tollgate keys` accept and return, and what
`GET /tollgate/me` answers (the UI reads it). The raw key appears only in `KeyCreated`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.schemas.limits import LimitsRemaining

Tier = Literal["interactive", "standard", "batch"]

_INT32 = 2**31 - 1
_INT64 = 2**63 - 1
Name = Annotated[str, Field(min_length=1, max_length=200)]
ModelName = Annotated[str, Field(min_length=1, max_length=200)]
# Zero is refused on purpose: a key that may do nothing is a revoked key; use revoke.
RateLimit = Annotated[int, Field(ge=1, le=_INT32)]
TokenBudget = Annotated[int, Field(ge=1, le=_INT64)]

LIMIT_FIELDS = ("rpm", "tpm", "max_concurrency", "daily_tokens", "monthly_tokens")


class KeyLimitsInfo(BaseModel):
    """Per-key limits; null = unlimited."""

    rpm: int | None = None
    tpm: int | None = None
    max_concurrency: int | None = None
    daily_tokens: int | None = None
    monthly_tokens: int | None = None


class ModelLimits(BaseModel):
    """Limits for requests to one model, in place of the key's (or team's) own for that model,
    with counters of their own; kinds left out still count against the key-wide limits."""

    model_config = ConfigDict(extra="forbid")

    rpm: RateLimit | None = Field(default=None, description="requests per minute")
    tpm: RateLimit | None = Field(default=None, description="tokens per minute")
    max_concurrency: RateLimit | None = Field(default=None, description="requests in flight")
    daily_tokens: TokenBudget | None = None
    monthly_tokens: TokenBudget | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> ModelLimits:
        if all(getattr(self, name) is None for name in LIMIT_FIELDS):
            raise ValueError("give at least one limit for the model (or leave the model out)")
        return self


ModelLimitsMap = Annotated[
    dict[ModelName, ModelLimits],
    Field(
        max_length=1000,
        description='per-model limits, e.g. {"small-model": {"tpm": 100000}}; null = none',
    ),
]


class MeInfo(BaseModel):
    """`GET /tollgate/me`: the calling key, as its holder may see it."""

    id: str
    name: str
    team: str | None
    prefix: str
    tier: Tier
    allowed_models: list[str] | None = Field(description="null = every model")
    expires_at: datetime | None
    limits: KeyLimitsInfo
    remaining: LimitsRemaining | None = Field(
        default=None,
        description="what is left of the limits in force now (defaults and team limits "
        "included); null when the gateway cannot tell",
    )


class KeyInfo(BaseModel):
    """One key as the admin API and the CLI show it (never the key or its hash)."""

    id: str
    name: str
    team: str | None
    prefix: str
    tier: Tier
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked: bool
    revoked_at: datetime | None
    allowed_models: list[str] | None = Field(description="null = every model")
    limits: KeyLimitsInfo
    model_limits: dict[str, KeyLimitsInfo] | None = Field(
        default=None, description="per-model limits; null = none"
    )


class KeyCreated(KeyInfo):
    """The answer to creating a key: the only time the key itself is shown."""

    key: str = Field(description="the API key; store it now, it cannot be shown again")


class KeyList(BaseModel):
    data: list[KeyInfo]


class KeyFields(BaseModel):
    """Fields a key is created or updated with. Unknown fields are refused (typos must not
    silently do nothing)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    team: Name | None = None
    models: list[ModelName] | None = Field(
        default=None,
        min_length=1,
        max_length=1000,
        validation_alias=AliasChoices("models", "allowed_models"),
        description="models this key may use; null = every model",
    )
    rpm: RateLimit | None = Field(default=None, description="requests per minute")
    tpm: RateLimit | None = Field(default=None, description="tokens per minute")
    max_concurrency: RateLimit | None = Field(default=None, description="requests in flight")
    daily_tokens: TokenBudget | None = None
    monthly_tokens: TokenBudget | None = None
    model_limits: ModelLimitsMap | None = None
    expires_in_days: float | None = Field(
        default=None, gt=0, le=36500, description="the key expires this many days from now"
    )
    expires_at: datetime | None = Field(default=None, description="or: expires at this time")

    @field_validator("models")
    @classmethod
    def _dedupe(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else list(dict.fromkeys(value))

    @field_validator("expires_at")
    @classmethod
    def _future_utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        if value <= datetime.now(UTC):
            raise ValueError("must be in the future (to stop a key now, revoke it)")
        return value

    @model_validator(mode="after")
    def _one_expiry(self) -> KeyFields:
        given = self.model_fields_set
        if "expires_in_days" in given and "expires_at" in given:
            raise ValueError("give expires_in_days or expires_at, not both")
        return self


class KeyCreate(KeyFields):
    name: Name
    tier: Tier = "standard"


class KeyUpdate(KeyFields):
    """A partial update: only fields present change; null clears team, models, a limit or
    the expiry."""

    name: Name | None = None
    tier: Tier | None = None

    @model_validator(mode="before")
    @classmethod
    def _not_null(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for field in ("name", "tier"):
                if field in data and data[field] is None:
                    raise ValueError(f"{field} cannot be null")
        return data

    @model_validator(mode="after")
    def _something(self) -> KeyUpdate:
        if not self.model_fields_set:
            raise ValueError("nothing to update: give at least one field")
        return self
