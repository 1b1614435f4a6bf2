"""`ProxyPlugin`: the proxied engine routes, /health, /ready and /tollgate/engine, and the
proxy's lifespan (the pooled client and the engines' health monitor)."""

from __future__ import annotations

from litestar.config.app import AppConfig
from litestar.plugins import InitPluginProtocol

from gateway.proxy.controllers import proxy_router, status_router
from gateway.proxy.engine_state import EngineStateSampler
from gateway.proxy.service import ProxyService


class ProxyPlugin(InitPluginProtocol):
    def __init__(self, service: ProxyService, sampler: EngineStateSampler) -> None:
        self._service = service
        self._sampler = sampler

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config.route_handlers.extend(
            [proxy_router(self._service), status_router(self._service, self._sampler)]
        )
        app_config.lifespan.append(self._service.lifespan)
        return app_config
