"""Fake engines serving different models, shared by the routing tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.fake_engine import FakeEngineConfig, RunningFakeEngine, running_fake_engine

# measure_*.py are scripts run by hand (docs/deploy.md), not tests: never collect them, even
# when named on the command line or matched by a wider `python_files`.
collect_ignore_glob = ["measure_*.py"]


@pytest.fixture
def alpha_engine() -> Iterator[RunningFakeEngine]:
    """Serves the base model `alpha`."""
    with running_fake_engine(FakeEngineConfig(models=("alpha",))) as url:
        yield url


@pytest.fixture
def beta_engine() -> Iterator[RunningFakeEngine]:
    """Serves `beta` and a LoRA adapter on it, listed by /v1/models as vLLM lists adapters."""
    with running_fake_engine(FakeEngineConfig(models=("beta", "beta-sql-lora"))) as url:
        yield url
