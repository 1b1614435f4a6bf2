"""How much room the engines have: vLLM's own counts of running and waiting requests (and,
optionally, KV-cache use), polled.

Polled from each upstream's `/metrics` (the same parser as `GET /tollgate/engine`) only while
the gateway has generation requests in flight or queued, so an idle gateway costs the engines
nothing. `room()` is how many more requests an engine takes before more than the threshold
wait in it (negative: that many too many wait): the threshold minus its waiting count, plus,
when nothing waits, its free sequences, where the engine's batch size is learnt as the most
requests seen running while others waited in two polls in a row (a burst's first step also
leaves some waiting); before it is known, a quarter of what runs. The engine with the most
room counts, since one with room is enough to send work on; KV-cache use at or above its
threshold means one too many. A sample older than three intervals (an engine that stopped
answering) says nothing: the configured cap and the queue's time bound still apply.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import httpx

from gateway.background import cancel_task
from gateway.proxy.engine_state import MetricsSample, scrape_metrics
from gateway.proxy.upstreams import Upstream, UpstreamPool
from shared.logging import get_logger

_log = get_logger("tollgate.scheduling")


@dataclass(frozen=True, slots=True)
class Thresholds:
    waiting: int | None  # hold back while num_requests_waiting > this
    kv_cache: float | None  # hold back while kv_cache_usage_perc >= this

    def room(self, sample: MetricsSample, batch_size: float | None) -> int:
        """Requests one engine takes before it holds more than the threshold waiting."""
        room = 0
        if self.waiting is not None and sample.waiting is not None:
            room = self.waiting - int(sample.waiting)
            if sample.waiting == 0 and sample.running is not None:
                if batch_size is not None:
                    room += max(0, int(batch_size - sample.running))  # free sequences
                else:  # never seen full: a quarter more than what runs is a fair guess
                    room = max(room, int(sample.running) // 4)
        if self.kv_cache is not None and (sample.kv_usage or 0.0) >= self.kv_cache:
            room = min(room, -1)
        return room


class EngineLoadWatch:
    """Keeps `samples` current while `busy()` is true; calls `on_change` after each poll."""

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
        self._sampled_at = 0.0
        self.samples: dict[str, MetricsSample] = {}
        self.batch_sizes: dict[str, float] = {}  # per upstream: most seen running while full
        self._full_before: set[str] = set()

    def room(self) -> int | None:
        """Room in the engine with the most (negative: excess); None when nothing fresh is known."""
        if not self.samples or time.monotonic() - self._sampled_at > 3 * self._interval_s:
            return None
        return max(
            self.thresholds.room(sample, self.batch_sizes.get(name))
            for name, sample in self.samples.items()
        )

    def wake(self) -> None:
        """Traffic arrived: start polling if the loop is idle."""
        self._wakeup.set()

    async def _sample(self, upstream: Upstream) -> MetricsSample | None:
        return await scrape_metrics(self._client(), upstream, self._headers, self._interval_s * 2)

    async def poll(self) -> None:
        """One sample of every upstream."""
        upstreams = [u for u in self._pool.upstreams if u.healthy] or self._pool.upstreams
        found = await asyncio.gather(*(self._sample(u) for u in upstreams))
        self.samples = {u.name: s for u, s in zip(upstreams, found, strict=True) if s is not None}
        self._sampled_at = time.monotonic()
        full = {name for name, s in self.samples.items() if s.waiting and s.running}
        for name in full & self._full_before:  # full twice in a row, not a burst's first step
            running = self.samples[name].running or 0.0
            self.batch_sizes[name] = max(self.batch_sizes.get(name, 0.0), running)
        self._full_before = full

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
            self.samples = {}
            self._on_change()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        task = asyncio.create_task(self.run(), name="tollgate-engine-load")
        try:
            yield
        finally:
            await cancel_task(task)
