"""Tiers: what a key's tier means for scheduling, and the tier one request runs at.

A key's tier (interactive, standard, batch; set with `tollgate keys create --tier`) is the most
urgent its requests may be. A request may ask for a *less* urgent one with the header
`x-tollgate-tier` (a script of a person's interactive key marking its bulk work `batch`); it
can never raise itself above its key's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, get_args

from gateway.errors import InvalidRequest
from shared.settings import SchedulingSettings

Tier = Literal["interactive", "standard", "batch"]
TIERS: tuple[Tier, ...] = get_args(Tier)  # most urgent first
TIER_HEADER = b"x-tollgate-tier"
_RANK: dict[str, int] = {tier: rank for rank, tier in enumerate(TIERS)}


@dataclass(frozen=True, slots=True)
class TierPolicy:
    weights: dict[str, int]  # requests served per round of the fair queue
    priorities: dict[str, int]  # vLLM's per-request priority (lower runs earlier)

    @classmethod
    def from_settings(cls, settings: SchedulingSettings) -> TierPolicy:
        return cls(
            weights={
                "interactive": settings.weight_interactive,
                "standard": settings.weight_standard,
                "batch": settings.weight_batch,
            },
            priorities={
                "interactive": settings.priority_interactive,
                "standard": settings.priority_standard,
                "batch": settings.priority_batch,
            },
        )

    def weight(self, tier: str) -> int:
        return self.weights.get(tier, self.weights["standard"])

    def priority(self, tier: str) -> int:
        return self.priorities.get(tier, self.priorities["standard"])


def request_tier(key_tier: str, headers: Iterable[tuple[bytes, bytes]]) -> str:
    """The key's tier, or the less urgent one the request asks for (never a more urgent one)."""
    for name, value in headers:
        if name == TIER_HEADER:
            asked = value.decode("latin-1").strip().lower()
            if asked not in _RANK:
                raise InvalidRequest(
                    f"x-tollgate-tier must be one of {', '.join(TIERS)}.",
                    param="x-tollgate-tier",
                    code="invalid_tier",
                )
            if _RANK[asked] > _RANK.get(key_tier, _RANK["standard"]):
                return asked
            break
    return key_tier
