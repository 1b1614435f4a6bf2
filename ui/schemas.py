"""The gateway's answers, as the UI reads them (the pinned interface in shared/design.md).

Models ignore fields they do not know, so the gateway can grow without breaking the UI.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.schemas.limits import LimitsRemaining


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Limits(_Lenient):
    """A key's limits; None means unlimited."""

    rpm: int | None = None
    tpm: int | None = None
    max_concurrency: int | None = None
    daily_tokens: int | None = None
    monthly_tokens: int | None = None


class Me(_Lenient):
    """GET /tollgate/me: the signed-in key (never the key itself)."""

    id: str
    name: str
    team: str | None = None
    prefix: str = ""
    tier: str = "standard"
    allowed_models: list[str] | None = None
    expires_at: datetime | None = None
    limits: Limits = Field(default_factory=Limits)
    # What is left now of each limit in force (the gateway's shared wire schema).
    remaining: LimitsRemaining | None = None


class ModelCard(_Lenient):
    """One entry of GET /v1/models."""

    id: str
    root: str | None = None
    owned_by: str | None = None
    created: int | None = None
    max_model_len: int | None = None


class Upstream(_Lenient):
    name: str
    healthy: bool = False
    models: list[str] = Field(default_factory=list)
    requests_running: float | None = None
    requests_waiting: float | None = None
    kv_cache_usage: float | None = None
    prompt_tokens_per_s: float | None = None
    generation_tokens_per_s: float | None = None


class EngineState(_Lenient):
    """GET /tollgate/engine."""

    upstreams: list[Upstream] = Field(default_factory=list)
    sampled_at: datetime | None = None


class UsageBucket(_Lenient):
    start: datetime
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    errors: int = 0


class UsageTotals(_Lenient):
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0


class UsageReport(_Lenient):
    """GET /tollgate/usage."""

    key_id: str | None = None
    bucket: str = "hour"
    buckets: list[UsageBucket] = Field(default_factory=list)
    totals: UsageTotals = Field(default_factory=UsageTotals)


class KeyInfo(_Lenient):
    """An API key as the admin API lists it (never with the key itself)."""

    id: str
    name: str
    team: str | None = None
    prefix: str = ""
    tier: str = "standard"
    created_at: datetime | None = None
    last_used_at: datetime | None = None
    expires_at: datetime | None = None
    revoked: bool = False
    revoked_at: datetime | None = None
    allowed_models: list[str] | None = None
    limits: Limits = Field(default_factory=Limits)


class CreatedKey(KeyInfo):
    """POST /admin/keys: the only answer that carries the key."""

    key: str


class KeyUsage(_Lenient):
    """One row of GET /admin/usage?group_by=key."""

    key_id: str | None = None
    requests: int = 0
    errors: int = 0
    total_tokens: int = 0


class Tokens(_Lenient):
    """POST /tokenize."""

    count: int
    max_model_len: int | None = None
    tokens: list[int] = Field(default_factory=list)
    token_strs: list[str] | None = None


class RenderedPrompt(_Lenient):
    """The prompt the chat template produces: its token ids and its text."""

    token_ids: list[int]
    text: str
    source: str = Field(description="which route produced it: render or tokenize")


class TopLogprob(_Lenient):
    token: str
    logprob: float
    bytes: list[int] | None = None


class TokenLogprob(_Lenient):
    token: str
    logprob: float
    bytes: list[int] | None = None
    top_logprobs: list[TopLogprob] = Field(default_factory=list)


class Usage(_Lenient):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class Completion(_Lenient):
    """A non-streamed chat completion, reduced to what the UI shows."""

    text: str
    finish_reason: str | None = None
    logprobs: list[TokenLogprob] = Field(default_factory=list)
    usage: Usage | None = None


class StreamEvent(_Lenient):
    """One piece of a streamed answer: new text, or the end with its reason and usage."""

    text: str = ""
    finish_reason: str | None = None
    usage: Usage | None = None


def completion_from_body(body: dict[str, Any]) -> Completion:
    """Read text, finish reason, log-probabilities and usage from an OpenAI chat completion."""
    choices = body.get("choices") or [{}]
    choice = choices[0] if isinstance(choices[0], dict) else {}
    message = choice.get("message") or {}
    logprobs = (choice.get("logprobs") or {}).get("content") or []
    return Completion(
        text=message.get("content") or "",
        finish_reason=choice.get("finish_reason"),
        logprobs=[TokenLogprob.model_validate(item) for item in logprobs],
        usage=Usage.model_validate(body["usage"]) if body.get("usage") else None,
    )
