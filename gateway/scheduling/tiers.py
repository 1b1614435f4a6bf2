"""Tiers: what a key's tier means for scheduling, and the tier one request runs at.

A key's tier (interactive, standard, batch; set with `tollgate keys create --tier`) is the most
urgent its requests may be. A request may ask for a *less* urgent one with the header
`x-tollgate-tier` (a script of a person's interactive key marking its bulk work `batch`); it
can never raise itself above its key's, except for the UI's own calls: a request that carries
the UI token (`x-tollgate-ui-token`, the secret `tollgate ui` and `tollgate gateway` share,
settings.ui_token) may ask for any tier, so a person chatting in the UI runs interactive on a
standard key. A wrong token is ignored (logged, never its value); with no token configured the
header means nothing.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, get_args

from gateway.errors import InvalidRequest
from gateway.observability.headers import UI_TOKEN
from shared.logging import get_logger
from shared.settings import SchedulingSettings

_log = get_logger("tollgate.scheduling")

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


def request_tier(
    key_tier: str, headers: Iterable[tuple[bytes, bytes]], ui_token: bytes | None = None
) -> str:
    """The tier a request runs at: its key's, or a less urgent one the request asks for; any
    one it asks for when it carries the right UI token (`ui_token`, None = no UI is trusted)."""
    asked: str | None = None
    presented: bytes | None = None
    for name, value in headers:
        if name == TIER_HEADER and asked is None:
            asked = value.decode("latin-1").strip().lower()
            if asked not in _RANK:
                raise InvalidRequest(
                    f"x-tollgate-tier must be one of {', '.join(TIERS)}.",
                    param="x-tollgate-tier",
                    code="invalid_tier",
                )
        elif name == UI_TOKEN and presented is None:
            presented = value.strip()
    if asked is None:
        return key_tier
    if presented is not None and _is_ui(presented, ui_token):
        return asked
    if _RANK[asked] > _RANK.get(key_tier, _RANK["standard"]):
        return asked
    return key_tier


def _is_ui(presented: bytes, ui_token: bytes | None) -> bool:
    if ui_token is not None and hmac.compare_digest(presented, ui_token):
        return True
    # A stale token after a rotation, or a client guessing: the key's tier stays its ceiling.
    _log.warning(
        "UI token ignored",
        reason="wrong token" if ui_token is not None else "no UI token configured",
    )
    return False
