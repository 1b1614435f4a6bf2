"""HTTP glue: one Litestar handler per proxied route, plus health, readiness and engine state.

Handlers are built around the one `ProxyService` (closures, not globals), take the
authenticated `principal` from the keys plugin's app-level dependency, and return the
service's ASGI response as is.
"""

from __future__ import annotations

import re
from typing import Any

from litestar import Request, Router, get, post
from litestar.di import NamedDependency
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath
from litestar.types import ASGIApp

from gateway.errors import NotFound, UpstreamUnavailable
from gateway.keys.principal import KeyPrincipal
from gateway.observability.context import bind_principal
from gateway.proxy.engine_state import EngineStateSampler
from gateway.proxy.routes import PROXY_ROUTES, RESPONSE_CANCEL, RESPONSE_GET, ProxyRoute
from gateway.proxy.service import ProxyService
from shared.schemas.engine import EngineState

_RESPONSE_ID = re.compile(r"[A-Za-z0-9_-]{1,200}")
_BEARER: list[dict[str, list[str]]] = [{"ApiKey": []}]  # the scheme KeysPlugin declares
_PASSTHROUGH = (
    "Proxied to the engine unchanged (vLLM's OpenAI-compatible server): the body is the "
    "engine's own, unknown fields pass through, and `stream: true` answers with server-sent "
    "events as the engine produces them. Needs `Authorization: Bearer <key>`."
)


def _route_handler(service: ProxyService, route: ProxyRoute) -> HTTPRouteHandler:
    async def proxy(
        request: Request[Any, Any, Any], principal: NamedDependency[KeyPrincipal]
    ) -> ASGIApp:
        response: ASGIApp = await service.forward(request, principal, route)
        return response

    decorator = post if route.method == "POST" else get
    return decorator(
        route.path,
        name=f"proxy:{route.method}:{route.path}",
        operation_id=f"{route.method.lower()}{route.path.replace('/', '_')}",
        summary=route.summary,
        description=_PASSTHROUGH,
        tags=[route.tag],
        security=_BEARER,
        status_code=200,
    )(proxy)


def _checked_response_id(response_id: str) -> None:
    if not _RESPONSE_ID.fullmatch(response_id):
        raise NotFound(f"No response with id '{response_id}'.", param="response_id")


def proxy_router(service: ProxyService) -> Router:
    @get(
        RESPONSE_GET.path,
        summary=RESPONSE_GET.summary,
        description=_PASSTHROUGH,
        tags=[RESPONSE_GET.tag],
        security=_BEARER,
    )
    async def retrieve_response(
        request: Request[Any, Any, Any],
        principal: NamedDependency[KeyPrincipal],
        response_id: FromPath[str],
    ) -> ASGIApp:
        _checked_response_id(response_id)
        response: ASGIApp = await service.forward(request, principal, RESPONSE_GET)
        return response

    @post(
        RESPONSE_CANCEL.path,
        summary=RESPONSE_CANCEL.summary,
        description=_PASSTHROUGH,
        tags=[RESPONSE_CANCEL.tag],
        security=_BEARER,
        status_code=200,
    )
    async def cancel_response(
        request: Request[Any, Any, Any],
        principal: NamedDependency[KeyPrincipal],
        response_id: FromPath[str],
    ) -> ASGIApp:
        _checked_response_id(response_id)
        response: ASGIApp = await service.forward(request, principal, RESPONSE_CANCEL)
        return response

    handlers = [_route_handler(service, route) for route in PROXY_ROUTES]
    return Router(path="/", route_handlers=[*handlers, retrieve_response, cancel_response])


def status_router(service: ProxyService, sampler: EngineStateSampler) -> Router:
    @get("/health", summary="The gateway process is alive", tags=["Operations"])
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @get(
        "/ready",
        summary="At least one engine answers (503 otherwise)",
        tags=["Operations"],
    )
    async def ready() -> dict[str, Any]:
        results = await service.pool.check_all(
            service.client,
            timeout_s=min(service.timeouts.connect_s, 2.0),
            headers=service.engine_headers,
        )
        if not any(results):
            raise UpstreamUnavailable("No engine is answering yet.", code="not_ready")
        return {
            "status": "ready",
            "upstreams_healthy": sum(results),
            "upstreams": len(results),
            # Which engine serves what (models as each engine last listed them).
            "engines": [
                {"name": u.name, "healthy": ok, "models": list(u.models)}
                for u, ok in zip(service.pool, results, strict=True)
            ],
        }

    @get(
        "/tollgate/engine",
        summary="Live engine state: load, KV cache, token rates (from vLLM's /metrics)",
        tags=["Tollgate"],
        security=_BEARER,
    )
    async def engine_state(
        request: Request[Any, Any, Any], principal: NamedDependency[KeyPrincipal]
    ) -> EngineState:
        bind_principal(request.scope, principal)
        return await sampler.snapshot()

    return Router(path="/", route_handlers=[health, ready, engine_state])
