"""Is the engine busy? vLLM's own count of waiting requests and its KV-cache use, polled.

Polled from each upstream's `/metrics` (the same parser as `GET /tollgate/engine`) only while
the gateway has generation requests in flight or queued, so an idle gateway costs the engines
nothing. The engines count as saturated while every one that answered reports more waiting
requests than the threshold, or KV-cache use at or above its threshold; one with room is enough
to send work on. A sample older than three intervals (an engine that stopped answering) holds
nothing back: the in-flight cap and the queue's time bound still apply.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import httpx

from gateway.proxy.engine_state import MetricsSample, parse_metrics
from gateway.proxy.upstreams import Upstream, UpstreamPool
from shared.logging import get_logger

_log = get_logger("tollgate.scheduling")


@dataclass(frozen=True, slots=True)
class Thresholds:
    waiting: int | None  # hold while num_requests_waiting > this
    kv_cache: float | None  # hold while kv_cache_usage_perc >= this

    def over(self, sample: MetricsSample) -> bool:
        if self.waiting is not None and sample.waiting is not None:
            if sample.waiting > self.waiting:
                return True
        return (
            self.kv_cache is not None
            and sample.kv_usage is not None
            and sample.kv_usage >= self.kv_cache
        )


class EngineLoadWatch:
    """Keeps `saturated` current while `busy()` is true; calls `on_change` after each poll."""

    def __init__(
        self,
        pool: UpstreamPool,
        client: Callable[[], httpx.AsyncClient],
        headers: dict[str, str],
        thresholds: Thresholds,
        *,
        interval_s: float,
        busy: Callable[[], bool],
        on_change: Callable[[], None],
    ) -> None:
        self._pool = pool
        self._client = client
        self._headers = headers
        self.thresholds = thresholds
        self._interval_s = interval_s
        self._busy = busy
        self._on_change = on_change
        self._wakeup = asyncio.Event()
        self._saturated = False
        self._sampled_at = 0.0
        self.samples: dict[str, MetricsSample] = {}

    @property
    def saturated(self) -> bool:
        if time.monotonic() - self._sampled_at > 3 * self._interval_s:
            return False  # stale: nothing known holds requests back
        return self._saturated

    def wake(self) -> None:
        """Traffic arrived: start polling if the loop is idle."""
        self._wakeup.set()

    async def _sample(self, upstream: Upstream) -> MetricsSample | None:
        try:
            response = await self._client().get(
                upstream.url("/metrics"), headers=self._headers, timeout=self._interval_s * 2
            )
        except httpx.HTTPError:
            return None
        if response.status_code != 200:
            return None
        try:
            return parse_metrics(response.text, time.monotonic())
        except ValueError:
            return None  # not Prometheus text: nothing learnt

    async def poll(self) -> None:
        """One sample of every upstream; updates `saturated`."""
        upstreams = [u for u in self._pool.upstreams if u.healthy] or self._pool.upstreams
        found = await asyncio.gather(*(self._sample(u) for u in upstreams))
        samples = {u.name: s for u, s in zip(upstreams, found, strict=True) if s is not None}
        self.samples = samples
        if samples:
            self._saturated = all(self.thresholds.over(s) for s in samples.values())
            self._sampled_at = time.monotonic()

    async def run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._busy():
                try:
                    await self.poll()
                except Exception:  # a poll must never end the loop
                    _log.exception("engine load poll failed")
                self._on_change()
                await asyncio.sleep(self._interval_s)
            self._saturated = False
            self._on_change()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        task = asyncio.create_task(self.run(), name="tollgate-engine-load")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
