"""A fake engine per test, in a thread on a free port (starting one takes milliseconds)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import openai
import pytest

from services.fake_engine import FakeEngineConfig, RunningFakeEngine, running_fake_engine


@pytest.fixture
def fake_engine() -> Iterator[RunningFakeEngine]:
    with running_fake_engine(FakeEngineConfig(models=("fake-model", "other-model"))) as url:
        yield url


@pytest.fixture
def sdk(fake_engine: str) -> Iterator[openai.OpenAI]:
    client = openai.OpenAI(base_url=f"{fake_engine}/v1", api_key="unused", max_retries=0)
    yield client
    client.close()


@pytest.fixture
def http(fake_engine: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fake_engine, timeout=10) as client:
        yield client
