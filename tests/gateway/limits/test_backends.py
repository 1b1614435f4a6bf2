"""The two counter stores behave the same: atomic all-or-nothing admission, buckets that refill,
settlement that refunds or leaves debt, budgets per window, and (Redis) slot leases."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio

from gateway.limits.checks import Check
from gateway.limits.memory import MemoryBackend
from gateway.limits.policy import Limit, LimitKind, Scope
from gateway.limits.redis_backend import RedisBackend, create_pool
from tests.gateway.limits.support import REDIS_URL

Backend = MemoryBackend | RedisBackend
# These tests are about counting, not failing fast: 50 connections opened at once on a busy CI
# machine must not meet a socket timeout (the fail-fast path has its own tests).
TIMEOUT_S = 5.0


@pytest.fixture(params=["memory", "redis"])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    store: Backend
    if request.param == "memory":
        store = MemoryBackend()
    else:
        request.getfixturevalue("redis_url")  # flushed before and after
        store = RedisBackend(create_pool(REDIS_URL, TIMEOUT_S), timeout_s=TIMEOUT_S, lease_s=1.0)
    await store.start()
    try:
        yield store
    finally:
        await store.aclose()


def limit(kind: LimitKind, capacity: int) -> Limit:
    return Limit(kind, Scope("key", "key_t", "t"), capacity)


def rate(key: str, capacity: int, need: int = 1, period_s: float = 60.0) -> Check:
    return Check(limit("rpm", capacity), "rate", f"t:{key}", need, period_s)


def budget(key: str, capacity: int, need: int, window_end: float = 4102444800.0) -> Check:
    return Check(limit("daily_tokens", capacity), "budget", f"t:{key}", need, window_end)


def slot(key: str, capacity: int) -> Check:
    return Check(limit("max_concurrency", capacity), "slot", f"t:{key}", 1)


async def test_exactly_capacity_of_many_simultaneous_acquisitions_pass(backend: Backend) -> None:
    checks = (rate("r", 10), slot("c", 25), budget("b", 1000, 40))
    verdicts = await asyncio.gather(*(backend.acquire(checks, f"l{i}") for i in range(50)))
    assert sum(v.admitted for v in verdicts) == 10


async def test_admission_is_all_or_nothing(backend: Backend) -> None:
    roomy, tight = rate("roomy", 100), rate("tight", 1)
    assert (await backend.acquire((roomy, tight), "a")).admitted
    refused = await backend.acquire((roomy, tight), "b")
    assert not refused.admitted
    assert refused.used[0] == pytest.approx(1, abs=0.01)  # what each counter held
    assert refused.used[1] == pytest.approx(1, abs=0.01)
    # The refused request took nothing from the roomy counter.
    after = await backend.peek((roomy,))
    assert after.used[0] == pytest.approx(1, abs=0.01)


async def test_a_bucket_refills_over_its_period(backend: Backend) -> None:
    bucket = rate("fast", 2, period_s=0.5)  # one unit back every 0.25 s
    assert [(await backend.acquire((bucket,), f"l{i}")).admitted for i in range(3)] == [
        True,
        True,
        False,
    ]
    await asyncio.sleep(0.35)
    assert (await backend.acquire((bucket,), "later")).admitted


async def test_settling_refunds_unused_tokens_and_leaves_debt_for_overruns(
    backend: Backend,
) -> None:
    tpm = Check(limit("tpm", 100), "rate", "t:tpm", 60, 60.0)
    assert (await backend.acquire((tpm,), "a")).admitted
    await backend.settle((tpm,), [-50], "a")  # used 10 of the 60 reserved
    assert (await backend.peek((tpm,))).used[0] == pytest.approx(10, abs=0.1)
    assert (await backend.acquire((tpm,), "b")).admitted
    await backend.settle((tpm,), [+100], "b")  # used 160 of the 60 reserved: debt
    used = (await backend.peek((tpm,))).used[0]
    assert used == pytest.approx(170, abs=0.5)
    small = Check(limit("tpm", 100), "rate", "t:tpm", 1, 60.0)
    assert not (await backend.acquire((small,), "c")).admitted


async def test_budgets_count_exactly_and_never_go_below_zero(backend: Backend) -> None:
    day = budget("day", 100, 30)
    assert (await backend.acquire((day,), "a")).admitted
    await backend.settle((day,), [-5], "a")
    assert (await backend.peek((day,))).used == (25.0,)
    await backend.settle((day,), [-500], "a")
    assert (await backend.peek((day,))).used == (0.0,)


async def test_slots_come_back_when_settled(backend: Backend) -> None:
    one = slot("one", 1)
    assert (await backend.acquire((one,), "a")).admitted
    assert not (await backend.acquire((one,), "b")).admitted
    await backend.settle((one,), [0], "a")
    assert (await backend.acquire((one,), "c")).admitted


async def test_a_settlement_after_the_budget_window_ended_does_not_revive_it(
    redis_url: str,
) -> None:
    store = RedisBackend(create_pool(redis_url, TIMEOUT_S), timeout_s=TIMEOUT_S, lease_s=3.0)
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        day = budget("gone", 100, 30)
        assert (await store.acquire((day,), "a")).admitted
        await client.delete(day.key)  # what expiry does when the window ends
        await store.settle((day,), [20], "a")
        assert await client.exists(day.key) == 0
    finally:
        await client.aclose()
        await store.aclose()


async def test_a_slot_whose_lease_is_not_renewed_expires(redis_url: str) -> None:
    # As if the gateway holding it died: nothing renews the lease (no start()).
    store = RedisBackend(create_pool(redis_url, TIMEOUT_S), timeout_s=TIMEOUT_S, lease_s=0.5)
    try:
        one = slot("lease", 1)
        assert (await store.acquire((one,), "dead")).admitted
        assert not (await store.acquire((one,), "b")).admitted
        await asyncio.sleep(0.7)
        assert (await store.acquire((one,), "c")).admitted
    finally:
        await store.aclose()


async def test_slots_of_running_requests_are_renewed(redis_url: str) -> None:
    store = RedisBackend(create_pool(redis_url, TIMEOUT_S), timeout_s=TIMEOUT_S, lease_s=1.2)
    await store.start()
    try:
        one = slot("renewed", 1)
        assert (await store.acquire((one,), "alive")).admitted
        await asyncio.sleep(2.6)  # more than twice the lease
        assert not (await store.acquire((one,), "b")).admitted
        await store.settle((one,), [0], "alive")
        assert store.leases_held == 0
        assert (await store.acquire((one,), "c")).admitted
    finally:
        await store.aclose()


async def test_a_redis_that_forgot_the_scripts_gets_them_again(redis_url: str) -> None:
    store = RedisBackend(create_pool(redis_url, TIMEOUT_S), timeout_s=TIMEOUT_S, lease_s=3.0)
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        assert (await store.acquire((rate("s", 5),), "a")).admitted
        await client.script_flush()  # as after a Redis restart
        assert (await store.acquire((rate("s", 5),), "b")).admitted
    finally:
        await client.aclose()
        await store.aclose()
