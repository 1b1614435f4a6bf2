"""The gateway application, composed in one place.

    request -> RequestContext (id, record, log line) -> routing -> `principal` (KeysPlugin)
            -> proxy handler -> ProxyService (checks, admission hooks, upstream) -> engine

`create_app(settings)` builds everything from settings; `uvicorn gateway.app:create_app
--factory` and `tollgate gateway` serve it. Later modules (limits, usage, routing) join
through plugins, from app state: `"proxy_hooks"` (admission and outcome hooks, see
gateway/proxy/hooks.py), `"request_listeners"` (every finished HTTP request's record and
scope), `"upstreams"` (the upstream pool) and `"settings"`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx
from litestar import Litestar
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin, SwaggerRenderPlugin
from litestar.plugins import InitPluginProtocol, PluginProtocol

from gateway.exception_handlers import EXCEPTION_HANDLERS
from gateway.keys.principal import KeyPrincipal
from gateway.observability import AccessLog, RequestContext
from gateway.proxy.controllers import proxy_router, status_router
from gateway.proxy.engine_state import EngineStateSampler
from gateway.proxy.hooks import ProxyHooks
from gateway.proxy.service import ProxyService
from gateway.routing import build_router
from gateway.routing.plugin import RoutingPlugin
from gateway.telemetry import telemetry_plugins
from shared.logging import configure_logging
from shared.settings import Settings, load_settings

VERSION = "0.1.0"


class GatewayApp(Litestar):
    """Litestar with the request context around every HTTP request, 404s and errors included
    (Litestar's own middleware only runs for matched routes)."""

    request_context: RequestContext

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            await self.request_context(super().__call__, scope, receive, send)
        else:
            await super().__call__(scope, receive, send)


def create_app(
    settings: Settings | None = None,
    *,
    auth: InitPluginProtocol | None = None,
    limits: InitPluginProtocol | None = None,
    scheduling: InitPluginProtocol | None = None,
    plugins: Sequence[PluginProtocol] = (),
    upstream_transport: httpx.AsyncBaseTransport | None = None,
) -> Litestar:
    """The gateway app.

    `auth` provides the `principal` dependency (default: `KeysPlugin`, keys in the database);
    `limits` the rate limits, an admission hook (default: `LimitsPlugin`, gateway/limits);
    `scheduling` the fair queue, the next admission hook (default: `SchedulingPlugin`);
    `upstream_transport` puts an in-process engine behind the proxy (tests).
    """
    settings = settings or load_settings()
    router = build_router(settings)  # the engines, their models, aliases, who may use what
    pool = router.pool
    hooks = ProxyHooks()
    request_context = RequestContext(AccessLog())
    service = ProxyService(settings.gateway, pool, router, hooks, transport=upstream_transport)
    sampler = EngineStateSampler(pool, lambda: service.client, service.engine_headers)
    if auth is None:
        from gateway.keys.plugin import KeysPlugin

        auth = KeysPlugin(settings)
    if limits is None:
        from gateway.limits import LimitsPlugin

        limits = LimitsPlugin(settings)
    if scheduling is None:
        from gateway.scheduling import SchedulingPlugin

        scheduling = SchedulingPlugin(settings)  # after limits: its hook must run second

    app = GatewayApp(
        route_handlers=[proxy_router(service), status_router(service, sampler)],
        plugins=[
            auth,
            RoutingPlugin(router, settings),  # after auth: team model lists from its database
            limits,
            scheduling,
            *plugins,
            *telemetry_plugins(settings),
        ],
        lifespan=[service.lifespan],
        exception_handlers=EXCEPTION_HANDLERS,
        state=State(
            {
                "settings": settings,
                "proxy": service,
                "proxy_hooks": hooks,
                "upstreams": pool,
                "request_listeners": request_context.listeners,
            }
        ),
        openapi_config=OpenAPIConfig(
            title="Tollgate gateway",
            version=VERSION,
            description=(
                "A keyed, OpenAI-compatible gateway in front of vLLM. Use any OpenAI SDK with "
                "`base_url=<gateway>/v1` and your `tg-…` key."
            ),
            path="/schema",
            render_plugins=[ScalarRenderPlugin(), SwaggerRenderPlugin(path="/swagger")],
        ),
        request_max_body_size=settings.gateway.max_body_bytes,
        signature_namespace={"KeyPrincipal": KeyPrincipal},
        logging_config=None,  # shared/logging.py configured logging at start-up
        debug=False,
    )
    app.request_context = request_context
    return app


def create_app_from_env() -> Litestar:
    """Factory for `uvicorn --factory` and gateway worker processes: settings from TOLLGATE_*."""
    settings = load_settings()
    configure_logging(settings.log_format, settings.log_level)  # a fresh worker process
    return create_app(settings)
