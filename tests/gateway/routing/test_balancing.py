"""Requests for a model are spread over the engines that serve it, fewest outstanding first."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import httpx

from services.fake_engine import FakeEngineConfig, RunningFakeEngine, running_fake_engine
from tests.gateway.routing.support import auth, burst, chat, routed_gateway, served


@contextlib.contextmanager
def engines(*configs: FakeEngineConfig) -> Iterator[list[RunningFakeEngine]]:
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(running_fake_engine(c)) for c in configs]


async def test_a_burst_is_spread_evenly_over_three_engines() -> None:
    # Slow enough that the whole burst arrives before any answer frees an engine.
    config = FakeEngineConfig(models=("shared",), ttft_ms=1000)
    with engines(config, config, config) as urls, routed_gateway(urls) as gateway:
        answers = await burst(gateway, 30, "shared")
        assert [a.status_code for a in answers] == [200] * 30
        assert sorted(served(u) for u in urls) == [10, 10, 10]


async def test_a_busy_engine_gets_no_more_while_an_idle_one_is_free() -> None:
    slow = FakeEngineConfig(models=("shared",), ttft_ms=3000)
    fast = FakeEngineConfig(models=("shared",))
    with engines(slow, fast) as (slow_url, fast_url), routed_gateway([slow_url, fast_url]) as gw:
        async with httpx.AsyncClient(base_url=gw, timeout=30) as client:
            first = [
                asyncio.create_task(
                    client.post("/v1/chat/completions", json=chat("shared"), headers=auth())
                )
                for _ in range(2)
            ]
            await asyncio.sleep(0.3)  # one of the two now waits on the slow engine
            for _ in range(10):  # round robin would send half of these to the slow engine
                answer = await client.post(
                    "/v1/chat/completions", json=chat("shared"), headers=auth()
                )
                assert answer.status_code == 200
            assert [r.status_code for r in await asyncio.gather(*first)] == [200, 200]
        assert served(slow_url) == 1
        assert served(fast_url) == 11
