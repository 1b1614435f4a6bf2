"""`KeysPlugin`: the Litestar glue of API keys, given its parts by the composition root.

It adds the app-level dependency `principal`, `GET /tollgate/me`, `/admin/keys` (when the app
has a key service), the OpenAPI security schemes of both tokens, and the key store's lifespan (the batched last-use writer; the Redis
subscription that hears about keys changed on other gateways).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from litestar import Litestar, Request, Router
from litestar.config.app import AppConfig
from litestar.di import Provide
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins import InitPluginProtocol

from gateway.admin.guards import AdminGuard, admin_router
from gateway.admin.keys import AdminKeysController
from gateway.di import provide_part
from gateway.keys.controllers import MeController, NoLimits, RemainingLimits
from gateway.keys.dependencies import Authenticate
from gateway.keys.invalidation import KeyInvalidation
from gateway.keys.principal import KeyPrincipal
from gateway.keys.service import KeyService
from gateway.keys.store import KeyStore

SECURITY_SCHEMES = {
    "ApiKey": SecurityScheme(type="http", scheme="bearer", description="an API key, tg-…"),
    "AdminToken": SecurityScheme(type="http", scheme="bearer", description="TOLLGATE_ADMIN_TOKEN"),
}


class KeysPlugin(InitPluginProtocol):
    def __init__(
        self,
        authenticate: Authenticate,
        *,
        limits: RemainingLimits | None = None,
        store: KeyStore | None = None,
        service: KeyService | None = None,
        admin: AdminGuard | None = None,
        invalidation: KeyInvalidation | None = None,
    ) -> None:
        """`store`, `service`, `admin` and `invalidation` exist when the keys are in the
        database; a stand-in `authenticate` (tests, benchmarks) comes without them."""
        self._authenticate = authenticate
        self._limits = limits or NoLimits()
        self._store = store
        self._service = service
        self._admin = admin
        self._invalidation = invalidation

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        authenticate = self._authenticate

        async def principal(request: Request[Any, Any, Any]) -> KeyPrincipal:
            # A plain function: Litestar deep-copies what it registers, and would copy the
            # key store behind a bound method.
            return await authenticate(request)

        app_config.dependencies["principal"] = Provide(principal)
        app_config.signature_namespace["KeyPrincipal"] = KeyPrincipal
        app_config.route_handlers.append(
            Router(
                path="/",
                route_handlers=[MeController],
                dependencies={"limits": provide_part(self._limits)},
            )
        )
        if self._service is not None and self._admin is not None:
            app_config.route_handlers.append(
                admin_router(
                    self._admin,
                    [AdminKeysController],
                    dependencies={"keys": provide_part(self._service)},
                )
            )
        if self._store is not None:
            app_config.lifespan.append(self._lifespan)
        if app_config.openapi_config is not None:
            components = app_config.openapi_config.components
            if isinstance(components, list):
                components.append(Components(security_schemes=dict(SECURITY_SCHEMES)))
            else:
                schemes = components.security_schemes or {}
                components.security_schemes = {**schemes, **SECURITY_SCHEMES}
        return app_config

    @asynccontextmanager
    async def _lifespan(self, _app: Litestar) -> AsyncIterator[None]:
        store = self._store
        assert store is not None  # the lifespan is added only with a store
        async with AsyncExitStack() as stack:
            if self._invalidation is not None:
                # Changes made on any gateway (or the CLI) reach this one's cache at once.
                await self._invalidation.start()
                stack.push_async_callback(self._invalidation.aclose)
            store.start()
            stack.push_async_callback(store.aclose)
            yield
