"""`SchedulingPlugin`: the fair queue's lifespan in the app.

The composition root builds the `Scheduler` (`build_scheduler`) and puts its admission stage
after the rate limits' (gateway/wiring.py: a request the limits refuse never takes a place in
the queue). When an engine threshold is set, this plugin polls the engines' `/metrics` while
the app runs and requests are in flight or waiting.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.config.app import AppConfig
from litestar.plugins import InitPluginProtocol

from gateway.proxy.service import ProxyService
from gateway.scheduling.engine_load import EngineLoadWatch, Thresholds
from gateway.scheduling.scheduler import Scheduler
from shared.logging import get_logger
from shared.secret_files import UI_TOKEN
from shared.settings import Settings

_log = get_logger("tollgate.scheduling")


def sends_priority(settings: Settings) -> bool:
    chosen = settings.scheduling.send_priority
    return chosen if chosen is not None else settings.engine.scheduling_policy == "priority"


def _ui_token(settings: Settings) -> str | None:
    token = UI_TOKEN.resolve(settings)
    return token.get_secret_value() if token is not None else None


def build_scheduler(settings: Settings) -> Scheduler:
    return Scheduler(
        settings.scheduling,
        workers=settings.gateway.workers,
        send_priority=sends_priority(settings),
        ui_token=_ui_token(settings),
    )


class SchedulingPlugin(InitPluginProtocol):
    def __init__(self, scheduler: Scheduler, proxy: ProxyService, settings: Settings) -> None:
        """`proxy`: whose client and engines the load watch polls."""
        self._settings = settings
        self._scheduler = scheduler
        self._proxy = proxy

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config.lifespan.append(self._lifespan)
        return app_config

    @asynccontextmanager
    async def _lifespan(self, _app: Litestar) -> AsyncIterator[None]:
        settings = self._settings.scheduling
        thresholds = Thresholds(
            settings.engine_waiting_threshold, settings.engine_kv_cache_threshold
        )
        scheduler = self._scheduler
        _log.info(
            "fair queueing ready",
            fair_by=settings.fair_by,
            in_flight_cap=scheduler.cap,
            workers=self._settings.gateway.workers,
            engine_waiting_threshold=thresholds.waiting,
            engine_kv_cache_threshold=thresholds.kv_cache,
            send_priority=scheduler.send_priority,
            ui_token_configured=scheduler.trusts_ui,
        )
        if thresholds.waiting is None and thresholds.kv_cache is None:
            yield
            return
        service = self._proxy
        scheduler.load = EngineLoadWatch(
            service.pool,
            lambda: service.client,
            service.engine_headers,
            thresholds,
            interval_s=settings.engine_poll_interval_s,
            busy=scheduler.busy,
            on_change=scheduler.engine_sampled,
        )
        try:
            async with scheduler.load.running():
                yield
        finally:
            scheduler.load = None
