"""`UsagePlugin(settings)`: the usage ledger wired into an app.

It registers the ledger writer as a proxy observer, starts it (and the retention task) with
the app and flushes it at shutdown, and adds `GET /admin/usage` and `GET /tollgate/usage`. The
database is the keys plugin's (`app.state.db`, opened before this lifespan and closed after
it); an app without one (tests of other parts with a stand-in auth) runs without a ledger.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator

from litestar import Litestar
from litestar.config.app import AppConfig
from litestar.plugins import InitPluginProtocol

from gateway.background import cancel_task
from gateway.db.session import Database
from gateway.proxy.hooks import ProxyHooks
from gateway.usage.controllers import AdminUsageController, MyUsageController
from gateway.usage.service import UsageService
from gateway.usage.writer import LedgerSink, LedgerWriter
from shared.logging import get_logger
from shared.settings import Settings

_log = get_logger("tollgate.usage")

PRUNE_INTERVAL_S = 3600.0


class UsagePlugin(InitPluginProtocol):
    def __init__(
        self,
        settings: Settings,
        *,
        sink: LedgerSink | None = None,
        first_prune_delay_s: float | None = None,
    ) -> None:
        """`first_prune_delay_s`: when retention first runs (default: 5-60 s after start, at
        random, so gateways started together do not all prune at once)."""
        self._settings = settings
        self._sink = sink
        self._first_prune_delay_s = first_prune_delay_s
        self.writer: LedgerWriter | None = None

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        usage = self._settings.usage
        if not usage.enabled:
            _log.info("usage ledger disabled (TOLLGATE_USAGE__ENABLED=false)")
            return app_config
        sink = self._sink
        if sink is None and app_config.state.get("metrics") is not None:
            from gateway.metrics import LedgerMetrics

            sink = LedgerMetrics(app_config.state["metrics"])
        self.writer = LedgerWriter(usage, sink=sink)
        hooks: ProxyHooks | None = app_config.state.get("proxy_hooks")
        if hooks is not None:
            hooks.observers.append(self.writer.record)
        app_config.route_handlers.extend([AdminUsageController, MyUsageController])
        app_config.lifespan.append(self._lifespan)
        return app_config

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Litestar) -> AsyncIterator[None]:
        writer = self.writer
        assert writer is not None  # set by on_app_init, which added this lifespan
        db: Database | None = app.state.get("db")
        if db is None:
            # A stand-in auth without the key database (tests of other parts): no ledger.
            _log.info("usage ledger off: this app has no key database")
            hooks: ProxyHooks | None = app.state.get("proxy_hooks")
            if hooks is not None and writer.record in hooks.observers:
                hooks.observers.remove(writer.record)
            yield
            return
        service = UsageService(db.sessions)
        app.state.usage_service = service
        writer.start(db.sessions)
        pruner: asyncio.Task[None] | None = None
        days = self._settings.usage.retention_days
        if days is not None:
            delay = self._first_prune_delay_s
            if delay is None:
                delay = random.uniform(5.0, 60.0)  # noqa: S311 - jitter, not security
            pruner = asyncio.create_task(_prune_forever(service, days, delay), name="usage-prune")
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
