"""Fixtures for the limit tests: the test Redis database (flushed per test), the backend to run
on (in-process and Redis in turn) and fake engines, instant or slow enough that every request of
a burst is admitted or refused before the first one finishes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.fake_engine import FakeEngineConfig, RunningFakeEngine, running_fake_engine
from tests.gateway.limits.support import REDIS_URL, flush_test_redis
from tests.gateway.proxy.conftest import logs  # the JSON log lines of a test


@pytest.fixture
def redis_url() -> Iterator[str]:
    flush_test_redis()
    try:
        yield REDIS_URL
    finally:
        flush_test_redis()


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None (in-process counters) or the test Redis URL."""
    if request.param == "memory":
        yield None
    else:
        yield request.getfixturevalue("redis_url")


@pytest.fixture
def fake_engine() -> Iterator[RunningFakeEngine]:
    with running_fake_engine(FakeEngineConfig(models=("fake-model", "small-model"))) as url:
        yield url


@pytest.fixture
def slow_engine() -> Iterator[RunningFakeEngine]:
    config = FakeEngineConfig(models=("fake-model", "small-model"), ttft_ms=600)
    with running_fake_engine(config) as url:
        yield url


__all__ = ["logs"]
