"""The gateway application: the parts (gateway/wiring.py) turned into one Litestar app.

    request -> RequestContext (id, record, log line) -> routing -> `principal` (keys)
            -> proxy handler -> ProxyService (checks, the pipeline's admissions, upstream)
            -> engine -> the pipeline's observers (metrics, ledger)

`create_app(settings)` builds everything from settings; `uvicorn gateway.app:create_app
--factory` and `tollgate gateway` serve it. The plugins below are the glue of one area each
(routes, lifespan), given their parts; they start in the order listed, after the database and
stop in reverse, so the ledger flushes before the database closes.
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin, SwaggerRenderPlugin
from litestar.plugins import PluginProtocol

from gateway.admin.teams import TeamsPlugin
from gateway.content_log import ContentLogPlugin
from gateway.db.session import serving
from gateway.exception_handlers import EXCEPTION_HANDLERS
from gateway.keys.plugin import KeysPlugin
from gateway.keys.principal import KeyPrincipal
from gateway.limits.plugin import LimitsPlugin
from gateway.metrics.plugin import MetricsPlugin
from gateway.proxy.plugin import ProxyPlugin
from gateway.scheduling.plugin import SchedulingPlugin
from gateway.tracing import TracingPlugin
from gateway.usage.plugin import UsagePlugin
from gateway.wiring import GatewayParts, StandIns, build_parts
from shared.logging import configure_logging
from shared.settings import Settings, load_settings

VERSION = "0.1.0"


class GatewayApp(Litestar):
    """Litestar with the request context around every HTTP request, 404s and errors included
    (Litestar's own middleware only runs for matched routes), and the parts it was built from."""

    parts: GatewayParts

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            await self.parts.request_context(super().__call__, scope, receive, send)
        else:
            await super().__call__(scope, receive, send)


def plugins(parts: GatewayParts) -> list[PluginProtocol]:
    """Each area's glue, in start-up order."""
    settings, keys, teams, ledger = parts.settings, parts.keys, parts.teams, parts.ledger
    glue: list[PluginProtocol] = [
        KeysPlugin(
            parts.authenticate,
            limits=parts.limiter,
            store=keys.store if keys else None,
            service=keys.service if keys else None,
            admin=parts.admin,
            invalidation=keys.invalidation if keys else None,
        ),
        TeamsPlugin(parts.admin, teams.service if teams else None, teams.caches if teams else ()),
        LimitsPlugin(parts.limiter, settings, redis_pool=parts.redis_pool),
        ProxyPlugin(parts.proxy, parts.sampler),
    ]
    if parts.scheduler is not None:
        glue.append(SchedulingPlugin(parts.scheduler, parts.proxy, settings))
    glue.append(MetricsPlugin(parts.recorder, parts.router.pool))
    if settings.usage.enabled:
        glue.append(
            UsagePlugin(
                settings.usage,
                parts.admin,
                database=parts.database if ledger else None,
                writer=ledger.writer if ledger else None,
                service=ledger.service if ledger else None,
                first_prune_delay_s=parts.stand_ins.first_prune_delay_s,
            )
        )
    glue.append(TracingPlugin(settings.tracing, exporter=parts.stand_ins.span_exporter))
    glue.append(ContentLogPlugin(settings))
    return glue


def create_app(
    settings: Settings | None = None, *, stand_ins: StandIns | None = None
) -> GatewayApp:
    """The gateway app; `stand_ins` replace parts for tests and benchmarks (gateway/wiring.py)."""
    settings = settings or load_settings()
    parts = build_parts(settings, stand_ins)
    database = parts.database
    app = GatewayApp(
        route_handlers=list(parts.stand_ins.route_handlers),
        plugins=plugins(parts),
        # Before every plugin's: the database is migrated first and closed last.
        lifespan=[lambda _app: serving(database)] if database is not None else [],
        exception_handlers=EXCEPTION_HANDLERS,
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
    app.parts = parts
    return app


def create_app_from_env() -> Litestar:
    """Factory for `uvicorn --factory` and gateway worker processes: settings from TOLLGATE_*."""
    settings = load_settings()
    configure_logging(settings.log_format, settings.log_level)  # a fresh worker process
    return create_app(settings)
