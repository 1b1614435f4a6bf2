"""`MetricsPlugin`: Prometheus metrics of the gateway at `/metrics`.

It serves `/metrics` and samples the engines' health in the background. The composition root
(gateway/wiring.py) puts the recorder into the proxy's pipeline (an observer of finished
requests, an admission stage counting requests in flight) and into the request context (every
HTTP request's status), and hands the metrics to the usage ledger.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from litestar import Litestar, Response, get
from litestar.config.app import AppConfig
from litestar.plugins import InitPluginProtocol
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

from gateway.background import cancel_task
from gateway.metrics.multiprocess import active_dir, forget_dead_workers, worker_exiting
from gateway.metrics.recorder import MetricsRecorder
from gateway.metrics.registry import GatewayMetrics
from gateway.proxy.upstreams import UpstreamPool
from shared.logging import get_logger

_log = get_logger("tollgate.metrics")

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
    def __init__(self, recorder: MetricsRecorder, pool: UpstreamPool) -> None:
        self._recorder = recorder
        self._pool = pool

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        metrics = self._recorder.metrics

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
    async def _lifespan(self, _app: Litestar) -> AsyncIterator[None]:
        directory = active_dir()
        if directory is not None:
            forget_dead_workers(directory)
        sampler = asyncio.create_task(self._sample_forever(), name="tollgate-metrics-sampler")
        try:
            yield
        finally:
            await cancel_task(sampler)
            if directory is not None:
                worker_exiting(directory)

    async def _sample_forever(self) -> None:
        while True:
            try:
                self._recorder.sample_upstreams(self._pool)
            except Exception:  # a metrics fault must never stop the gateway
                _log.exception("sampling upstreams for metrics failed")
            await asyncio.sleep(_SAMPLE_INTERVAL_S)
