"""`tollgate bench limiter`: the latency the rate limiter adds to one request, in-process and
with Redis.

It drives the limiter's admission hook exactly as the proxy does (`admit` before the engine,
`release` with the outcome after it), without HTTP or an engine, so nothing else is in the
numbers. The key has every kind of limit (rpm, tpm, concurrency, daily and monthly tokens) and
a team with rpm and tpm: seven counters checked and reserved per request, the worst case, with
capacities large enough that every request is admitted. An unlimited key is measured too: the
cost every request of a key without limits pays.

Redis keys get a prefix of their own per run and are deleted afterwards, so a Redis in use is
not disturbed.
"""

from __future__ import annotations

import asyncio
import platform
import secrets
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry
from redis.asyncio import ConnectionPool

from gateway.db.engine import redact_url
from gateway.keys.principal import KeyLimits, KeyPrincipal
from gateway.limits.admission import Limiter
from gateway.limits.backend import LimitBackend
from gateway.limits.memory import MemoryBackend
from gateway.limits.metrics import LimiterMetrics
from gateway.limits.policy import LimitPolicy, TeamLimits
from gateway.limits.redis_backend import RedisBackend, create_pool
from gateway.observability.context import Usage
from gateway.proxy.hooks import ProxyOutcome, ProxyRequest
from shared.settings import LimitSettings

FORMAT = "tollgate-bench-limiter/1"
_BIG = 2_000_000_000
_LIMITED = KeyPrincipal(
    id="key_bench",
    name="bench",
    prefix="tg-bench",
    team="bench-team",
    limits=KeyLimits(
        rpm=_BIG, tpm=_BIG, max_concurrency=_BIG, daily_tokens=_BIG, monthly_tokens=_BIG
    ),
)
_UNLIMITED = KeyPrincipal(id="key_free", name="free", prefix="tg-free")


_TEAM = TeamLimits(KeyLimits(rpm=_BIG, tpm=_BIG))


class _Teams:
    def get(self, team: str) -> TeamLimits | None:
        return _TEAM if team == "bench-team" else None


def _outcome(request: ProxyRequest) -> ProxyOutcome:
    return ProxyOutcome(
        request_id=request.request_id,
        principal=request.principal,
        route=request.route,
        model=request.model,
        upstream="127.0.0.1:8000",
        status=200,
        usage=Usage(prompt_tokens=120, completion_tokens=64),
        started_at=datetime.now(UTC),
        latency_ms=1.0,
        ttfb_ms=1.0,
        stream=False,
        client_disconnected=False,
        error=None,
        request_bytes=request.body_bytes,
    )


def _summary(samples_ns: list[int]) -> dict[str, float]:
    ordered = sorted(samples_ns)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1e6

    return {
        "p50_ms": round(at(0.50), 4),
        "p90_ms": round(at(0.90), 4),
        "p99_ms": round(at(0.99), 4),
        "mean_ms": round(statistics.fmean(ordered) / 1e6, 4),
        "max_ms": round(ordered[-1] / 1e6, 4),
    }


async def _measure(
    limiter: Limiter, who: KeyPrincipal, requests: int, concurrency: int, warmup: int
) -> dict[str, Any]:
    admit_ns: list[int] = []
    release_ns: list[int] = []
    total_ns: list[int] = []
    refused = 0
    counter = iter(range(requests + warmup))

    async def worker() -> None:
        nonlocal refused
        clock = time.perf_counter_ns
        for i in counter:
            request = ProxyRequest(
                f"r{i}", who, "/v1/chat/completions", "bench-model", 600, max_tokens=64
            )
            started = clock()
            try:
                ticket = await limiter.admit(request)
            except Exception:  # a refusal would mean the bench limits are too small
                refused += 1
                continue
            admitted = clock()
            if ticket is not None and ticket.release is not None:
                await ticket.release(_outcome(request))
            done = clock()
            if i >= warmup:
                admit_ns.append(admitted - started)
                release_ns.append(done - admitted)
                total_ns.append(done - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - started
    return {
        "requests": len(total_ns),
        "refused": refused,
        "requests_per_s": round((requests + warmup) / wall, 1),
        "admit": _summary(admit_ns),
        "release": _summary(release_ns),
        "total": _summary(total_ns),
    }


async def _bench_backend(
    name: str, redis_url: str | None, requests: int, concurrency: int, warmup: int
) -> dict[str, Any]:
    prefix = f"tollgate:bench:{secrets.token_hex(4)}:"
    settings = LimitSettings(redis_prefix=prefix)
    backend: LimitBackend
    pool = None
    if name == "redis":
        assert redis_url is not None
        pool = create_pool(redis_url, settings.redis_timeout_s)
        await _check_redis(pool, redis_url)
        backend = RedisBackend(
            pool, timeout_s=settings.redis_timeout_s, lease_s=settings.concurrency_lease_s
        )
    else:
        backend = MemoryBackend()
    # Metrics on a registry of their own, apart from any other in this process.
    limiter = Limiter(
        settings, backend, LimitPolicy(teams=_Teams()), LimiterMetrics(CollectorRegistry())
    )
    await limiter.start()
    try:
        limited = await _measure(limiter, _LIMITED, requests, concurrency, warmup)
        unlimited = await _measure(limiter, _UNLIMITED, requests, concurrency, warmup)
    finally:
        if isinstance(backend, RedisBackend):
            client = backend.client
            keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=1000)]
            if keys:
                await client.delete(*keys)
        await limiter.aclose()
        if pool is not None:
            await pool.aclose()
    return {"backend": name, "limited_key": limited, "unlimited_key": unlimited}


class LimiterBenchError(Exception):
    """The bench cannot run (e.g. Redis is unreachable); the message says why."""


async def _check_redis(pool: ConnectionPool, url: str) -> None:
    from redis.asyncio import Redis
    from redis.exceptions import RedisError

    client = Redis(connection_pool=pool)
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        raise LimiterBenchError(f"Redis at {redact_url(url)} does not answer: {exc}") from None


def _run(coroutine_factory: Callable[[], Any]) -> Any:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - the gateway's own loop; plain asyncio otherwise
        return asyncio.run(coroutine_factory())
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coroutine_factory())


def run_limiter_bench(
    backends: list[str],
    redis_url: str | None,
    *,
    requests: int = 20_000,
    concurrency: int = 1,
    warmup: int = 500,
) -> dict[str, Any]:
    """Measure each backend in turn; a JSON-ready dict (FORMAT)."""

    async def main() -> list[dict[str, Any]]:
        return [
            await _bench_backend(name, redis_url, requests, concurrency, warmup)
            for name in backends
        ]

    results = _run(main)
    return {
        "format": FORMAT,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "cpu": platform.processor() or platform.machine(),
        },
        "requests": requests,
        "concurrency": concurrency,
        "counters_per_limited_request": 7,
        "results": results,
    }
