"""An engine of N slots: the rest wait in order, and /metrics shows running and waiting."""

from __future__ import annotations

import asyncio
import re

import httpx

from services.fake_engine import FakeEngineConfig, running_fake_engine
from services.fake_engine.state import Slots


def gauge(text: str, name: str) -> float:
    match = re.search(rf"^vllm:{name}\{{[^}}]*\}} (\S+)$", text, re.MULTILINE)
    assert match, name
    return float(match.group(1))


async def test_requests_past_capacity_wait_and_metrics_show_it() -> None:
    config = FakeEngineConfig(capacity=2, ttft_ms=400)
    with running_fake_engine(config) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            body = {"prompt": "x", "max_tokens": 1}
            tasks = [
                asyncio.create_task(client.post("/v1/completions", json=body)) for _ in range(5)
            ]
            for _ in range(200):
                metrics = (await client.get("/metrics")).text
                if gauge(metrics, "num_requests_waiting") == 3:
                    break
                await asyncio.sleep(0.01)
            assert gauge(metrics, "num_requests_running") == 2
            assert gauge(metrics, "num_requests_waiting") == 3
            assert gauge(metrics, "kv_cache_usage_perc") == 1.0
            answers = await asyncio.gather(*tasks)
            assert [a.status_code for a in answers] == [200] * 5
            done = (await client.get("/fake/stats")).json()
            assert (done["requests_completed"], done["running"], done["waiting"]) == (5, 0, 0)


async def test_raising_capacity_at_run_time_lets_waiting_requests_in() -> None:
    with running_fake_engine(FakeEngineConfig(capacity=1, ttft_ms=300)) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            body = {"prompt": "x", "max_tokens": 1}
            tasks = [
                asyncio.create_task(client.post("/v1/completions", json=body)) for _ in range(4)
            ]
            for _ in range(200):
                if (await client.get("/fake/stats")).json()["waiting"] == 3:
                    break
                await asyncio.sleep(0.01)
            await client.post("/fake/control", json={"capacity": 4})
            seen = (await client.get("/fake/stats")).json()
            assert (seen["running"], seen["waiting"]) == (4, 0)
            await asyncio.gather(*tasks)


async def test_slots_are_fifo_and_a_cancelled_waiter_leaves_the_queue() -> None:
    slots = Slots(1)
    await slots.acquire()
    order: list[int] = []

    async def take(i: int) -> None:
        await slots.acquire()
        order.append(i)
        slots.release()

    first = asyncio.create_task(take(1))
    quitter = asyncio.create_task(take(2))
    last = asyncio.create_task(take(3))
    await asyncio.sleep(0)
    assert slots.waiting == 3
    quitter.cancel()
    await asyncio.sleep(0)
    assert slots.waiting == 2
    slots.release()
    await asyncio.gather(first, last)
    assert order == [1, 3]
    assert (slots.running, slots.waiting) == (0, 0)
