"""`SchedulingPlugin(settings)`: the fair queue wired into the gateway app.

It appends the scheduler's admission hook after the rate limits' (request -> auth -> limits ->
queue -> upstream -> usage: a request the limits refuse never takes a place in the queue), puts
the scheduler on app state (`"scheduler"`), and, when an engine threshold is set, polls the
engines' `/metrics` during the app's lifespan while requests are in flight or waiting.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.config.app import AppConfig
from litestar.plugins import InitPluginProtocol

from gateway.proxy.hooks import ProxyHooks
from gateway.scheduling.engine_load import EngineLoadWatch, Thresholds
from gateway.scheduling.scheduler import Scheduler
from shared.logging import get_logger
from shared.secret_files import UI_TOKEN
from shared.settings import Settings

_log = get_logger("tollgate.scheduling")

SCHEDULER_STATE_KEY = "scheduler"


def sends_priority(settings: Settings) -> bool:
    chosen = settings.scheduling.send_priority
    return chosen if chosen is not None else settings.engine.scheduling_policy == "priority"


def _ui_token(settings: Settings) -> str | None:
    token = UI_TOKEN.resolve(settings)
    return token.get_secret_value() if token is not None else None


class SchedulingPlugin(InitPluginProtocol):
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.scheduler = Scheduler(
            settings.scheduling,
            workers=settings.gateway.workers,
            send_priority=sends_priority(settings),
            ui_token=_ui_token(settings),
        )

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        if not self._settings.scheduling.enabled:
            return app_config
        hooks: ProxyHooks | None = app_config.state.get("proxy_hooks")
        if hooks is not None:
            hooks.admissions.append(self.scheduler.admit)
        app_config.state[SCHEDULER_STATE_KEY] = self.scheduler
        app_config.lifespan.append(self._lifespan)
        return app_config

    @asynccontextmanager
    async def _lifespan(self, app: Litestar) -> AsyncIterator[None]:
        settings = self._settings.scheduling
        thresholds = Thresholds(
            settings.engine_waiting_threshold, settings.engine_kv_cache_threshold
        )
        scheduler = self.scheduler
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
        service = app.state["proxy"]
        scheduler.load = EngineLoadWatch(
            app.state["upstreams"],
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
