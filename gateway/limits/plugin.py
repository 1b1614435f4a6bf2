"""`LimitsPlugin(settings)`: rate limits, token budgets and the failed-authentication limit,
wired into the gateway app.

It registers the limiter's admission hook on the proxy (`state["proxy_hooks"]`), puts the
limiter and the authentication throttle on app state (`limits`, `auth_throttle`: the keys'
`principal` dependency and `GET /tollgate/me` use them), adds `/admin/teams`, and owns their
lifespan: the backend (Redis when `TOLLGATE_REDIS_URL` is set, else in-process), lease renewal,
and the team-limits cache (when the keys plugin opened the database).
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from litestar import Litestar
from litestar.config.app import AppConfig
from litestar.plugins import InitPluginProtocol
from redis.asyncio import ConnectionPool

from gateway.db.engine import redact_url
from gateway.keys.principal import KeyLimits
from gateway.limits.admission import Limiter
from gateway.limits.auth_throttle import AuthThrottle, parse_rate
from gateway.limits.backend import LimitBackend
from gateway.limits.memory import MemoryBackend
from gateway.limits.metrics import LimiterMetrics, default_metrics
from gateway.limits.policy import LimitPolicy
from gateway.limits.redis_backend import RedisBackend, create_pool
from gateway.limits.team_cache import TeamLimitsCache
from gateway.limits.teams import TeamService, load_team_limits
from gateway.proxy.hooks import ProxyHooks
from shared.logging import get_logger
from shared.settings import LimitSettings, Settings

_log = get_logger("tollgate.limits")

LIMITER_STATE_KEY = "limits"
AUTH_THROTTLE_STATE_KEY = "auth_throttle"


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
        self,
        settings: Settings,
        *,
        backend: LimitBackend | None = None,
        metrics: LimiterMetrics | None = None,
    ) -> None:
        self._settings = settings
        limits = settings.limits
        metrics = metrics or default_metrics()
        self._pool: ConnectionPool | None = None
        if backend is None:
            if settings.redis_url:
                self._pool = create_pool(settings.redis_url, limits.redis_timeout_s)
                backend = RedisBackend(
                    self._pool, timeout_s=limits.redis_timeout_s, lease_s=limits.concurrency_lease_s
                )
            else:
                backend = MemoryBackend()
        self.policy = LimitPolicy(default_limits(limits))
        self.limiter = Limiter(limits, backend, self.policy, metrics)
        self.throttle: AuthThrottle | None = None
        if limits.auth_failures_per_ip:
            rate = parse_rate(limits.auth_failures_per_ip)
            self.throttle = AuthThrottle(rate, self._auth_storage(settings), metrics)

    def _auth_storage(self, settings: Settings) -> Storage:
        if self._pool is None or not settings.redis_url:
            return MemoryStorage()
        return RedisStorage(
            f"async+{settings.redis_url}",
            implementation="redispy",
            key_prefix=f"{settings.limits.redis_prefix}auth",
            wrap_exceptions=True,
            connection_pool=self._pool,  # type: ignore[arg-type]  # passed on to redis-py
        )

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        hooks: ProxyHooks | None = app_config.state.get("proxy_hooks")
        if hooks is not None:
            hooks.admissions.append(self.limiter.admit)
        app_config.state[LIMITER_STATE_KEY] = self.limiter
        if self.throttle is not None:
            app_config.state[AUTH_THROTTLE_STATE_KEY] = self.throttle
        # Imported here: the admin controller imports this package's team service.
        from gateway.admin.teams import AdminTeamsController

        app_config.route_handlers.append(AdminTeamsController)
        app_config.lifespan.append(self._lifespan)
        return app_config

    @asynccontextmanager
    async def _lifespan(self, app: Litestar) -> AsyncIterator[None]:
        settings = self._settings
        where: dict[str, Any] = {"backend": self.limiter.backend.name}
        if settings.redis_url:
            where["redis"] = redact_url(settings.redis_url)
        elif settings.gateway.workers > 1:
            _log.warning(
                "limits are per worker process: set TOLLGATE_REDIS_URL to share them",
                workers=settings.gateway.workers,
            )
        await self.limiter.start()
        teams: TeamLimitsCache | None = None
        db = app.state.get("db")
        if db is not None:
            teams = TeamLimitsCache(
                functools.partial(load_team_limits, db.sessions), settings.keys.cache_ttl_s
            )
            app.state.team_service = TeamService(db.sessions, on_change=teams.refresh)
            await teams.start()
            self.policy.teams = teams
        _log.info("rate limits ready", fail_mode=settings.limits.fail_mode, **where)
        try:
            yield
        finally:
            if teams is not None:
                await teams.aclose()
            await self.limiter.aclose()
            if self._pool is not None:
                await self._pool.aclose()
