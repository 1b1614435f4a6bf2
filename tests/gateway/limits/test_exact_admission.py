"""Limits hold exactly when many requests arrive at once: in-process and through Redis.

The engine answers slowly here (600 ms), so every request of a burst is admitted or refused
before the first one finishes and gives anything back.
"""

from __future__ import annotations

import asyncio

from services.fake_engine import RunningFakeEngine
from tests.gateway.limits.support import (
    burst,
    chat,
    limited_gateway,
    principal,
    prompt_estimate,
    set_teams,
    statuses,
)


async def test_rpm_10_admits_exactly_10_of_50_simultaneous_requests(
    slow_engine: RunningFakeEngine, store: str | None
) -> None:
    with limited_gateway(slow_engine, principal("alice", rpm=10), redis_url=store) as gateway:
        responses = await burst([gateway], 50, "alice", chat())
    assert statuses(responses) == {200: 10, 429: 40}
    assert slow_engine.app.state.stats.started == 10


async def test_tpm_admits_exactly_what_the_reservations_fit(
    slow_engine: RunningFakeEngine, store: str | None
) -> None:
    body = chat(max_tokens=100)
    # The gateway's estimate: request bytes / 4 (rounded up) + max_tokens.
    estimate = prompt_estimate(body) + 100
    tpm = estimate * 7 + estimate // 2
    with limited_gateway(slow_engine, principal("alice", tpm=tpm), redis_url=store) as gateway:
        responses = await burst([gateway], 50, "alice", body)
    assert statuses(responses) == {200: 7, 429: 43}


async def test_max_concurrency_3_lets_exactly_3_of_50_run_at_once(
    slow_engine: RunningFakeEngine, store: str | None
) -> None:
    with limited_gateway(
        slow_engine, principal("alice", max_concurrency=3), redis_url=store
    ) as gateway:
        responses = await burst([gateway], 50, "alice", chat())
        assert statuses(responses) == {200: 3, 429: 47}
        # The slots came back when the requests ended: the next three run.
        again = await burst([gateway], 3, "alice", chat())
    assert statuses(again) == {200: 3}


async def test_a_request_refused_by_one_limit_takes_nothing_from_the_others(
    slow_engine: RunningFakeEngine, store: str | None
) -> None:
    # Concurrency refuses 47 of 50; had they taken their rpm, the second burst would find
    # rpm=6 spent.
    with limited_gateway(
        slow_engine, principal("alice", rpm=6, max_concurrency=3), redis_url=store
    ) as gateway:
        first = await burst([gateway], 50, "alice", chat())
        second = await burst([gateway], 50, "alice", chat())
    assert statuses(first) == {200: 3, 429: 47}
    assert statuses(second) == {200: 3, 429: 47}


async def test_a_team_limit_is_shared_by_its_keys(
    slow_engine: RunningFakeEngine, store: str | None
) -> None:
    alice, bob = principal("alice", team="ml"), principal("bob", team="ml")
    with limited_gateway(slow_engine, alice, bob, redis_url=store) as gateway:
        set_teams(gateway, ml={"rpm": 8})
        first, second = await asyncio.gather(
            burst([gateway], 20, "alice", chat()), burst([gateway], 20, "bob", chat())
        )
    assert statuses(first + second) == {200: 8, 429: 32}
