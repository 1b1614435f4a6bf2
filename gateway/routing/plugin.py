"""`RoutingPlugin`: joins the database's team model lists to the router while the app runs
(when the keys plugin opened the database; test apps with a key table have none)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.config.app import AppConfig
from litestar.plugins import InitPluginProtocol

from gateway.routing.router import ModelRouter
from gateway.routing.teams import TeamModelsCache
from shared.settings import Settings


class RoutingPlugin(InitPluginProtocol):
    def __init__(self, router: ModelRouter, settings: Settings) -> None:
        self._router = router
        self._settings = settings

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config.state["router"] = self._router
        app_config.lifespan.append(self._lifespan)  # after the keys plugin's: the db is open
        return app_config

    @asynccontextmanager
    async def _lifespan(self, app: Litestar) -> AsyncIterator[None]:
        db = app.state.get("db")
        if db is None:
            yield
            return
        cache = TeamModelsCache(db.sessions, self._settings.keys.cache_ttl_s)
        await cache.start()
        self._router.access.stored_teams = cache
        try:
            yield
        finally:
            self._router.access.stored_teams = None
            await cache.aclose()
