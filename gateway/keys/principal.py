"""Who is calling: the authenticated key, as every other gateway module sees it.

The raw key never travels past authentication; only this object does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True, slots=True)
class KeyLimits:
    """Per-key limits (None = no limit of that kind); enforced by the rate-limit module."""

    rpm: int | None = None
    tpm: int | None = None
    max_concurrency: int | None = None
    daily_tokens: int | None = None
    monthly_tokens: int | None = None

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> KeyLimits:
        return cls(**{name: raw.get(name) for name in _LIMIT_NAMES})


_LIMIT_NAMES = ("rpm", "tpm", "max_concurrency", "daily_tokens", "monthly_tokens")


def model_limits_from(raw: Mapping[str, Any] | None) -> Mapping[str, KeyLimits] | None:
    """Stored per-model limits (`{"model": {"rpm": …}}`) as KeyLimits per model."""
    if not raw:
        return None
    return MappingProxyType({model: KeyLimits.from_json(v) for model, v in raw.items()})


@dataclass(frozen=True, slots=True)
class KeyPrincipal:
    id: str  # public id, safe to log and to use as a metric-free identifier
    name: str
    prefix: str  # short display prefix, e.g. "tg-3fa9c1"
    team: str | None = None
    allowed_models: tuple[str, ...] | None = None  # None = every model
    expires_at: datetime | None = None
    limits: KeyLimits = field(default_factory=KeyLimits)
    # Limits per model, in place of `limits` for requests to that model (gateway/limits/policy.py).
    model_limits: Mapping[str, KeyLimits] | None = field(default=None, hash=False)
    tier: str = "standard"

    def may_use(self, model: str) -> bool:
        return self.allowed_models is None or model in self.allowed_models
