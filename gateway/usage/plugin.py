"""`UsagePlugin`: the usage ledger's Litestar glue, given its parts by the composition root.

It adds `GET /admin/usage` and `GET /tollgate/usage`, and, when the app has a database, starts
the ledger writer (and the retention task) with the app and flushes it at shutdown. Whether the
writer observes the proxy is the root's decision (gateway/wiring.py): an app without a database
(tests of other parts with stand-in keys) has no ledger, and its usage routes answer 503.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator

from litestar import Litestar, Router
from litestar.config.app import AppConfig
from litestar.plugins import InitPluginProtocol

from gateway.admin.guards import AdminGuard, admin_router
from gateway.background import cancel_task
from gateway.db.errors import DatabaseUnavailable
from gateway.db.session import Database
from gateway.di import provide_part
from gateway.usage.controllers import AdminUsageController, MyUsageController
from gateway.usage.service import UsageService
from gateway.usage.writer import LedgerWriter
from shared.logging import get_logger
from shared.settings import UsageSettings

_log = get_logger("tollgate.usage")

PRUNE_INTERVAL_S = 3600.0


def _no_ledger() -> Exception:
    return DatabaseUnavailable(
        "The usage ledger is not available on this gateway (it has no key database).",
        code="usage_unavailable",
    )


class UsagePlugin(InitPluginProtocol):
    def __init__(
        self,
        settings: UsageSettings,
        admin: AdminGuard,
        *,
        database: Database | None = None,
        writer: LedgerWriter | None = None,
        service: UsageService | None = None,
        first_prune_delay_s: float | None = None,
    ) -> None:
        """`first_prune_delay_s`: when retention first runs (default: 5-60 s after start, at
        random, so gateways started together do not all prune at once)."""
        self._settings = settings
        self._admin = admin
        self._database = database
        self._writer = writer
        self._service = service
        self._first_prune_delay_s = first_prune_delay_s

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        usage = {"usage": provide_part(self._service, missing=_no_ledger)}
        app_config.route_handlers.extend(
            [
                admin_router(self._admin, [AdminUsageController], dependencies=usage),
                Router(path="/", route_handlers=[MyUsageController], dependencies=usage),
            ]
        )
        if self._database is not None and self._writer is not None:
            app_config.lifespan.append(self._lifespan)
        else:
            _log.info("usage ledger off: this app has no key database")
        return app_config

    @contextlib.asynccontextmanager
    async def _lifespan(self, _app: Litestar) -> AsyncIterator[None]:
        writer, database = self._writer, self._database
        assert writer is not None and database is not None  # the lifespan is added with both
        writer.start(database.sessions)
        pruner: asyncio.Task[None] | None = None
        days = self._settings.retention_days
        if days is not None and self._service is not None:
            delay = self._first_prune_delay_s
            if delay is None:
                delay = random.uniform(5.0, 60.0)  # noqa: S311 - jitter, not security
            pruner = asyncio.create_task(
                _prune_forever(self._service, days, delay), name="usage-prune"
            )
        try:
            yield
        finally:
            if pruner is not None:
                await cancel_task(pruner)
            await writer.aclose()


async def _prune_forever(service: UsageService, days: int, delay_s: float) -> None:
    await asyncio.sleep(delay_s)
    while True:
        try:
            await service.prune(days)
        except Exception as exc:
            _log.warning("pruning the usage ledger failed; will retry", error=str(exc))
        await asyncio.sleep(PRUNE_INTERVAL_S)
