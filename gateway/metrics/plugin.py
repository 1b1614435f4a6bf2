"""`MetricsPlugin`: Prometheus metrics of the gateway at `/metrics`.

It hooks into the proxy (an observer for finished requests, an admission that counts requests
in flight), into the request context (every HTTP request's status), and samples the engines'
health in the background. It puts `GatewayMetrics` on app state under `"metrics"`, where the
usage ledger finds it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from litestar import Litestar, Response, get
from litestar.config.app import AppConfig
from litestar.plugins import InitPluginProtocol
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

from gateway.background import cancel_task
from gateway.metrics.multiprocess import active_dir, forget_dead_workers, worker_exiting
from gateway.metrics.recorder import MetricsRecorder
from gateway.metrics.registry import GatewayMetrics
from gateway.proxy.hooks import ProxyHooks
from gateway.proxy.upstreams import UpstreamPool
from shared.logging import get_logger

_log = get_logger("tollgate.metrics")

STATE_KEY = "metrics"
RECORDER_KEY = "metrics_recorder"
_SAMPLE_INTERVAL_S = 2.0


def render(metrics: GatewayMetrics) -> bytes:
    """The exposition text: this app's metrics and prometheus_client's default registry (the
    rate limiter's metrics, process CPU and memory), or in multiprocess mode every worker's
    values added up."""
    directory = active_dir()
    if directory is None:
        return generate_latest(metrics.registry) + generate_latest(REGISTRY)
    from prometheus_client import multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(directory))
    return generate_latest(registry)


class MetricsPlugin(InitPluginProtocol):
    def __init__(self, metrics: GatewayMetrics | None = None) -> None:
        self.metrics = metrics or GatewayMetrics()
        self.recorder: MetricsRecorder | None = None

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        pool: UpstreamPool | None = app_config.state.get("upstreams")
        recorder = self.recorder = MetricsRecorder(self.metrics, pool)
        app_config.state[STATE_KEY] = self.metrics
        app_config.state[RECORDER_KEY] = recorder
        hooks: ProxyHooks | None = app_config.state.get("proxy_hooks")
        if hooks is not None:
            hooks.observers.append(recorder.observe)
            hooks.admissions.append(recorder.admit)
        listeners: list[Any] | None = app_config.state.get("request_listeners")
        if listeners is not None:
            listeners.append(recorder.http_finished)
        metrics = self.metrics

        @get(
            "/metrics",
            summary="Prometheus metrics of this gateway (all worker processes together)",
            tags=["Operations"],
            media_type=CONTENT_TYPE_LATEST,
        )
        async def metrics_endpoint() -> Response[bytes]:
            return Response(content=render(metrics), media_type=CONTENT_TYPE_LATEST)

        app_config.route_handlers.append(metrics_endpoint)
        app_config.lifespan.append(self._lifespan)
        return app_config

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Litestar) -> AsyncIterator[None]:
        directory = active_dir()
        if directory is not None:
            forget_dead_workers(directory)
        pool: UpstreamPool | None = app.state.get("upstreams")
        sampler = (
            asyncio.create_task(self._sample_forever(pool), name="tollgate-metrics-sampler")
            if pool is not None
            else None
        )
        try:
            yield
        finally:
            await cancel_task(sampler)
            if directory is not None:
                worker_exiting(directory)

    async def _sample_forever(self, pool: UpstreamPool) -> None:
        recorder = self.recorder
        assert recorder is not None  # made by on_app_init, which added the lifespan
        while True:
            try:
                recorder.sample_upstreams(pool)
            except Exception:  # a metrics fault must never stop the gateway
                _log.exception("sampling upstreams for metrics failed")
            await asyncio.sleep(_SAMPLE_INTERVAL_S)
