"""Fixtures for the UI's tests: one fake gateway and one UI served on free ports."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from shared.secret_files import UI_TOKEN
from shared.settings import Settings
from tests.ui.fake_gateway import FakeGatewayState, create_fake_gateway, serve
from ui.client import GatewayClient


@dataclass(frozen=True)
class Served:
    url: str
    state: FakeGatewayState


@pytest.fixture(scope="session")
def _fake_gateway_server() -> Iterator[Served]:
    state = FakeGatewayState()
    with serve(create_fake_gateway(state)) as url:
        yield Served(url, state)


@pytest.fixture
def fake_gateway(_fake_gateway_server: Served) -> Served:
    """The running fake gateway, its state reset for this test."""
    _fake_gateway_server.state.reset()
    return _fake_gateway_server


@pytest.fixture
async def client(fake_gateway: Served) -> AsyncIterator[GatewayClient]:
    async with GatewayClient(fake_gateway.url, timeout_s=10) as gateway_client:
        yield gateway_client


def ui_settings(gateway_url: str, **ui: object) -> Settings:
    return Settings().with_section("ui", gateway_url=gateway_url, **ui)


@pytest.fixture(scope="session")
def ui_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The served UI's DATA_DIR, with the UI token `tollgate up` generates on first start."""
    data_dir = tmp_path_factory.mktemp("ui-data")
    UI_TOKEN.generate(Settings(data_dir=data_dir))
    return data_dir


@pytest.fixture(scope="session")
def ui_url(_fake_gateway_server: Served, ui_data_dir: Path) -> Iterator[str]:
    """The real UI app (security middleware, Gradio queue) served in front of the fake gateway."""
    from ui.app import create_app

    # Every test signs in from 127.0.0.1: a generous limit here; its own test uses a strict one.
    settings = ui_settings(_fake_gateway_server.url, sign_in_rate_limit="1000/minute")
    # No TOLLGATE_UI_TOKEN: the UI finds the generated file, as under `tollgate up`.
    settings = settings.model_copy(update={"data_dir": ui_data_dir, "ui_token": None})
    with serve(create_app(settings)) as url:
        yield url
