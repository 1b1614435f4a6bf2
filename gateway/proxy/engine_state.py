"""`GET /tollgate/engine`: what the engines are doing right now, from vLLM's `/metrics`.

Token rates need two samples of vLLM's counters; the previous one is kept per upstream, and
a first call (or one after a long pause) takes a second sample half a second later. Answers
are shared for a second, so many dashboards polling at once cost the engine one scrape.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from prometheus_client.parser import text_string_to_metric_families

from gateway.proxy.upstreams import Upstream, UpstreamPool
from shared.schemas.engine import EngineState, UpstreamState

RUNNING = "vllm:num_requests_running"
WAITING = "vllm:num_requests_waiting"
KV_USAGE = "vllm:kv_cache_usage_perc"
KV_USAGE_OLD = "vllm:gpu_cache_usage_perc"  # vLLM's V0 engine
PROMPT_TOKENS = "vllm:prompt_tokens_total"
GENERATION_TOKENS = "vllm:generation_tokens_total"
_WANTED = frozenset({RUNNING, WAITING, KV_USAGE, KV_USAGE_OLD, PROMPT_TOKENS, GENERATION_TOKENS})

_RATE_BASELINE_MAX_AGE_S = 60.0
_RATE_BASELINE_GAP_S = 0.5
_RATE_MIN_WINDOW_S = 2.0  # frequent pollers still get rates over a couple of seconds


@dataclass(frozen=True, slots=True)
class MetricsSample:
    at: float  # time.monotonic()
    running: float | None
    waiting: float | None
    kv_usage: float | None
    prompt_tokens: float | None
    generation_tokens: float | None


def parse_metrics(text: str, at: float) -> MetricsSample:
    """The few vLLM metrics the gateway reports, summed (or, for KV usage, averaged) over
    engines and models. Lines of other metrics are dropped before parsing: vLLM's page is
    dominated by histograms nobody here needs."""
    kept: list[str] = []
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            name = line[7:].split(" ", 1)[0]
        elif line and not line.startswith("#"):
            name = line.split("{", 1)[0].split(" ", 1)[0]
        else:
            continue
        if name in _WANTED:
            kept.append(line)
    values: dict[str, list[float]] = {}
    for family in text_string_to_metric_families("\n".join(kept) + "\n"):
        for sample in family.samples:
            if sample.name in _WANTED:
                values.setdefault(sample.name, []).append(float(sample.value))

    def total(name: str) -> float | None:
        found = values.get(name)
        return sum(found) if found else None

    kv = values.get(KV_USAGE) or values.get(KV_USAGE_OLD)
    return MetricsSample(
        at=at,
        running=total(RUNNING),
        waiting=total(WAITING),
        kv_usage=sum(kv) / len(kv) if kv else None,
        prompt_tokens=total(PROMPT_TOKENS),
        generation_tokens=total(GENERATION_TOKENS),
    )


async def scrape_metrics(
    client: httpx.AsyncClient, upstream: Upstream, headers: dict[str, str], timeout_s: float
) -> MetricsSample | None:
    """One engine's `/metrics`, parsed; None when it cannot be read (down, not 200, not
    Prometheus text): the caller then knows nothing of that engine."""
    try:
        response = await client.get(upstream.url("/metrics"), headers=headers, timeout=timeout_s)
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    try:
        return parse_metrics(response.text, time.monotonic())
    except ValueError:
        return None


def _rate(now: float | None, before: float | None, seconds: float) -> float | None:
    if now is None or before is None or seconds <= 0:
        return None
    return round(max(0.0, now - before) / seconds, 2)  # a restarted engine resets its counters


class EngineStateSampler:
    def __init__(
        self,
        pool: UpstreamPool,
        client: Callable[[], httpx.AsyncClient],
        headers: dict[str, str],
        *,
        timeout_s: float = 3.0,
        min_interval_s: float = 1.0,
    ) -> None:
        self._pool = pool
        self._client = client
        self._headers = headers
        self._timeout_s = timeout_s
        self._min_interval_s = min_interval_s
        self._previous: dict[str, MetricsSample] = {}
        self._lock = asyncio.Lock()
        self._cached: EngineState | None = None
        self._cached_at = 0.0

    async def _sample(self, upstream: Upstream) -> MetricsSample | None:
        return await scrape_metrics(self._client(), upstream, self._headers, self._timeout_s)

    async def snapshot(self) -> EngineState:
        """The `/tollgate/engine` document (its schema is shared with the UI)."""
        async with self._lock:
            if (
                self._cached is not None
                and time.monotonic() - self._cached_at < self._min_interval_s
            ):
                return self._cached
            upstreams = self._pool.upstreams
            samples = await asyncio.gather(*(self._sample(u) for u in upstreams))
            if any(
                s is not None and not self._has_baseline(u, s)
                for u, s in zip(upstreams, samples, strict=True)
            ):
                for u, s in zip(upstreams, samples, strict=True):
                    if s is not None:
                        self._previous[u.name] = s
                await asyncio.sleep(_RATE_BASELINE_GAP_S)
                samples = await asyncio.gather(*(self._sample(u) for u in upstreams))
            document = EngineState(
                upstreams=[self._describe(u, s) for u, s in zip(upstreams, samples, strict=True)],
                sampled_at=datetime.now(UTC),
            )
            self._cached, self._cached_at = document, time.monotonic()
            return document

    def _has_baseline(self, upstream: Upstream, sample: MetricsSample) -> bool:
        before = self._previous.get(upstream.name)
        return before is not None and 0 < sample.at - before.at <= _RATE_BASELINE_MAX_AGE_S

    def _describe(self, upstream: Upstream, sample: MetricsSample | None) -> UpstreamState:
        if sample is None:
            return UpstreamState(name=upstream.name, healthy=False, models=list(upstream.models))
        before = self._previous.get(upstream.name)
        seconds = sample.at - before.at if before is not None else 0.0
        state = UpstreamState(
            name=upstream.name,
            healthy=upstream.healthy,
            models=list(upstream.models),
            requests_running=int(sample.running) if sample.running is not None else None,
            requests_waiting=int(sample.waiting) if sample.waiting is not None else None,
            kv_cache_usage=round(sample.kv_usage, 4) if sample.kv_usage is not None else None,
            prompt_tokens_per_s=_rate(
                sample.prompt_tokens, before.prompt_tokens if before else None, seconds
            ),
            generation_tokens_per_s=_rate(
                sample.generation_tokens, before.generation_tokens if before else None, seconds
            ),
        )
        if before is None or seconds >= _RATE_MIN_WINDOW_S:
            self._previous[upstream.name] = sample
        return state
