"""`KeysPlugin(settings)`: API keys, their database and the admin API, wired into an app.

It adds the database lifespan (migrate, pool, dispose), the key store and key service on
`app.state` (`db`, `key_store`, `key_service`), the app-level dependency `principal`, the
routes `/tollgate/me` and `/admin/keys`, and OpenAPI security schemes for both tokens.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from litestar import Litestar
from litestar.config.app import AppConfig
from litestar.di import Provide
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins import InitPluginProtocol

from gateway.admin.guards import STATE_KEY, AdminAuth
from gateway.admin.keys import AdminKeysController
from gateway.db import DatabaseConfigError, DatabaseUnavailable
from gateway.db.engine import redact_url
from gateway.db.session import open_database
from gateway.keys.admin_token import resolve_admin_token
from gateway.keys.controllers import MeController
from gateway.keys.dependencies import provide_principal
from gateway.keys.invalidation import KeyInvalidation
from gateway.keys.principal import KeyPrincipal
from gateway.keys.service import KeyService
from gateway.keys.store import KeyStore
from shared.logging import get_logger
from shared.settings import Settings

log = get_logger("gateway.keys")

SECURITY_SCHEMES = {
    "ApiKey": SecurityScheme(type="http", scheme="bearer", description="an API key, tg-…"),
    "AdminToken": SecurityScheme(type="http", scheme="bearer", description="TOLLGATE_ADMIN_TOKEN"),
}


class KeysPlugin(InitPluginProtocol):
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        admin = AdminAuth(resolve_admin_token(self._settings))
        if not admin.enabled:
            log.warning("admin API disabled: set TOLLGATE_ADMIN_TOKEN to enable it")
        app_config.state[STATE_KEY] = admin
        app_config.lifespan.append(self._lifespan)
        app_config.dependencies["principal"] = Provide(provide_principal)
        app_config.signature_namespace["KeyPrincipal"] = KeyPrincipal
        app_config.route_handlers.extend([MeController, AdminKeysController])
        if app_config.openapi_config is not None:
            components = app_config.openapi_config.components
            if isinstance(components, list):
                components.append(Components(security_schemes=dict(SECURITY_SCHEMES)))
            else:
                schemes = components.security_schemes or {}
                components.security_schemes = {**schemes, **SECURITY_SCHEMES}
        return app_config

    @asynccontextmanager
    async def _lifespan(self, app: Litestar) -> AsyncIterator[None]:
        url = self._settings.resolved_database_url
        async with AsyncExitStack() as stack:
            try:
                db = await stack.enter_async_context(open_database(url))
            except (DatabaseConfigError, DatabaseUnavailable) as exc:
                # One clear line before the server's own "startup failed" traceback.
                log.error("cannot open the database", url=redact_url(url), error=str(exc))
                raise
            log.info("database ready", url=redact_url(url))
            store = KeyStore(
                db.sessions,
                cache_ttl_s=self._settings.keys.cache_ttl_s,
                flush_interval_s=self._settings.keys.last_used_flush_s,
            )
            invalidation: KeyInvalidation | None = None
            if self._settings.redis_url:
                # Changes made on any gateway (or the CLI) reach this one's cache at once.
                invalidation = KeyInvalidation(
                    self._settings.redis_url,
                    self._settings.keys.invalidation_channel,
                    evict=store.evict,
                    clear=store.clear,
                )
                await invalidation.start()
                stack.push_async_callback(invalidation.aclose)

            async def changed(key_id: str) -> None:
                store.evict(key_id)
                if invalidation is not None:
                    await invalidation.publish(key_id)

            app.state.db = db
            app.state.key_store = store
            app.state.key_service = KeyService(db.sessions, on_change=changed)
            store.start()
            try:
                yield
            finally:
                await store.aclose()
