"""Fixtures for the UI's tests: the real gateway in front of a fake engine, real keys, and the
real UI app served in front of that gateway (see tests/ui/stack.py)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shared.schemas.keys import KeyCreated
from shared.secret_files import UI_TOKEN
from shared.settings import Settings
from tests.ui.stack import (
    RecordingTransport,
    Stack,
    running_degraded_gateway,
    running_stack,
    serving,
)
from ui.client import GatewayClient


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """DATA_DIR of the gateway and the UI alike, with the UI token `tollgate up` generates on
    first start (both find it there, as under `tollgate up`)."""
    data_dir = tmp_path_factory.mktemp("ui-stack")
    UI_TOKEN.generate(Settings(data_dir=data_dir))
    return data_dir


@pytest.fixture(scope="session")
def _stack(data_dir: Path) -> Iterator[Stack]:
    with running_stack(data_dir) as stack:
        yield stack


@pytest.fixture(scope="session")
def degraded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A second gateway: no engine answers it, and it keeps no usage ledger."""
    with running_degraded_gateway(tmp_path_factory.mktemp("degraded")) as stack:
        yield stack


@pytest.fixture
def stack(_stack: Stack) -> Stack:
    """The running gateway and engine, the engine back to its start-up state for this test."""
    _stack.reset()
    return _stack


@pytest.fixture
def alice(stack: Stack) -> KeyCreated:
    """A fresh key for this test, so no other test's requests count against its limits."""
    return stack.create_key(
        name="alice",
        team="data",
        rpm=600,
        tpm=100_000,
        max_concurrency=4,
        daily_tokens=50_000,
    )


@pytest.fixture(scope="session")
def expired_key(_stack: Stack) -> str:
    created = _stack.create_key(name="expired", expires_in_days=0.5 / 86_400)
    assert created.expires_at is not None
    time.sleep(max(0.0, (created.expires_at - datetime.now(UTC)).total_seconds()) + 0.05)
    return created.key


@pytest.fixture(scope="session")
def revoked_key(_stack: Stack) -> str:
    created = _stack.create_key(name="revoked")
    _stack.revoke(created.id)
    return created.key


@pytest.fixture
def sent() -> RecordingTransport:
    """What the client under test sends, on its way to the real gateway."""
    return RecordingTransport()


@pytest.fixture
async def client(stack: Stack, sent: RecordingTransport) -> AsyncIterator[GatewayClient]:
    async with GatewayClient(stack.gateway_url, timeout_s=10, transport=sent) as gateway_client:
        yield gateway_client


def ui_settings(stack: Stack, data_dir: Path, **ui: object) -> Settings:
    # No TOLLGATE_UI_TOKEN: the UI finds the generated file, as under `tollgate up`.
    settings = Settings(data_dir=data_dir, ui_token=None)
    return settings.with_section("ui", gateway_url=stack.gateway_url, **ui)


@pytest.fixture(scope="session")
def ui_sent() -> RecordingTransport:
    """What the served UI sends to the gateway, across the session (tests read the last)."""
    return RecordingTransport()


@pytest.fixture(scope="session")
def ui_url(_stack: Stack, data_dir: Path, ui_sent: RecordingTransport) -> Iterator[str]:
    """The real UI app (security middleware, Gradio queue) served in front of the gateway."""
    from ui.app import create_app

    # Every test signs in from 127.0.0.1: a generous limit here; its own test uses a strict one.
    settings = ui_settings(_stack, data_dir, sign_in_rate_limit="1000/minute")
    with serving(create_app(settings, transport=ui_sent)) as url:
        yield url
