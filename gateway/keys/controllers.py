"""`GET /tollgate/me`: the calling key as its holder may see it (the UI shows it).

The handler takes `principal` and `limits` (what is left of them) as dependencies; the keys
plugin provides both."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from litestar import Controller, get
from litestar.di import NamedDependency

from gateway.keys.exception_handlers import EXCEPTION_HANDLERS
from gateway.keys.principal import KeyPrincipal
from shared.schemas.keys import KeyLimitsInfo, MeInfo
from shared.schemas.limits import LimitsRemaining


@runtime_checkable  # Litestar checks a dependency's value against the handler's annotation
class RemainingLimits(Protocol):
    async def remaining_info(self, principal: KeyPrincipal) -> LimitsRemaining | None: ...


class NoLimits:
    """An app without a limiter (the keys' own tests): nothing to report."""

    async def remaining_info(self, principal: KeyPrincipal) -> LimitsRemaining | None:
        return None


def me_info(principal: KeyPrincipal) -> MeInfo:
    limits = principal.limits
    return MeInfo(
        id=principal.id,
        name=principal.name,
        team=principal.team,
        prefix=principal.prefix,
        tier=principal.tier,  # type: ignore[arg-type]  # stored values are Tier by constraint
        allowed_models=list(principal.allowed_models)
        if principal.allowed_models is not None
        else None,
        expires_at=principal.expires_at,
        limits=KeyLimitsInfo(
            rpm=limits.rpm,
            tpm=limits.tpm,
            max_concurrency=limits.max_concurrency,
            daily_tokens=limits.daily_tokens,
            monthly_tokens=limits.monthly_tokens,
        ),
    )


class MeController(Controller):
    path = "/tollgate/me"
    tags = ["tollgate"]
    exception_handlers = EXCEPTION_HANDLERS
    security = [{"ApiKey": []}]

    @get("/", summary="The calling API key: name, team, allowed models, limits, what is left")
    async def me(
        self, principal: NamedDependency[KeyPrincipal], limits: NamedDependency[RemainingLimits]
    ) -> MeInfo:
        info = me_info(principal)
        info.remaining = await limits.remaining_info(principal)
        return info
