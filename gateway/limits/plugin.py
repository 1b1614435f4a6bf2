"""`LimitsPlugin`: the limiter's lifespan in the app (the composition root builds the limiter,
the authentication throttle and the Redis pool they share, gateway/wiring.py).

At start it opens the backend (Redis when `TOLLGATE_REDIS_URL` is set, else in-process) and the
lease renewal; at the end it replays settlements Redis missed and closes the pool.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar
from litestar.config.app import AppConfig
from litestar.plugins import InitPluginProtocol
from redis.asyncio import ConnectionPool

from gateway.db.engine import redact_url
from gateway.keys.principal import KeyLimits
from gateway.limits.admission import Limiter
from shared.logging import get_logger
from shared.settings import LimitSettings, Settings

_log = get_logger("tollgate.limits")


def default_limits(settings: LimitSettings) -> KeyLimits:
    return KeyLimits(
        rpm=settings.default_rpm,
        tpm=settings.default_tpm,
        max_concurrency=settings.default_max_concurrency,
        daily_tokens=settings.default_daily_tokens,
        monthly_tokens=settings.default_monthly_tokens,
    )


class LimitsPlugin(InitPluginProtocol):
    def __init__(
        self, limiter: Limiter, settings: Settings, *, redis_pool: ConnectionPool | None = None
    ) -> None:
        """`redis_pool`: the pool the limiter and the authentication throttle share; closed
        here, after both are done with it."""
        self._limiter = limiter
        self._settings = settings
        self._pool = redis_pool

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config.lifespan.append(self._lifespan)
        return app_config

    @asynccontextmanager
    async def _lifespan(self, _app: Litestar) -> AsyncIterator[None]:
        settings = self._settings
        where: dict[str, Any] = {"backend": self._limiter.backend.name}
        if settings.redis_url:
            where["redis"] = redact_url(settings.redis_url)
        elif settings.gateway.workers > 1:
            _log.warning(
                "limits are per worker process: set TOLLGATE_REDIS_URL to share them",
                workers=settings.gateway.workers,
            )
        await self._limiter.start()
        _log.info("rate limits ready", fail_mode=settings.limits.fail_mode, **where)
        try:
            yield
        finally:
            await self._limiter.aclose()
            if self._pool is not None:
                await self._pool.aclose()
