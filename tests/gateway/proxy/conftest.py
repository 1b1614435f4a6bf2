"""A fake engine and a gateway in front of it, both served for real, per test."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import pytest

from services.fake_engine import FakeEngineConfig, RunningFakeEngine, running_fake_engine
from shared.logging import configure_logging
from tests.gateway.proxy.support import (
    TRANSPORT,
    LogCapture,
    RunningGateway,
    build_app,
    running_gateway,
)

MODELS = ("fake-model", "other-model")


@pytest.fixture(autouse=True, params=["httpx", "aiohttp"])
def transport(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every proxy test runs over both upstream transports."""
    monkeypatch.setitem(TRANSPORT, "name", request.param)
    name: str = request.param
    return name


@pytest.fixture
def fake_engine() -> Iterator[RunningFakeEngine]:
    with running_fake_engine(FakeEngineConfig(models=MODELS)) as url:
        yield url


@pytest.fixture
def gateway(fake_engine: RunningFakeEngine) -> Iterator[RunningGateway]:
    with running_gateway(build_app([fake_engine])) as url:
        yield url


@pytest.fixture
def client(gateway: RunningGateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway, timeout=10) as http:
        yield http


@pytest.fixture
def logs() -> Iterator[LogCapture]:
    """The JSON log lines written while the test runs (the production format)."""
    root = logging.getLogger()
    before = (root.handlers[:], root.level)
    configure_logging("json", "INFO")
    capture = LogCapture()
    capture.setFormatter(root.handlers[0].formatter)
    root.addHandler(capture)
    try:
        yield capture
    finally:
        root.handlers[:], level = before
        root.setLevel(level)
