"""One `tollgate gateway` process over a fake engine per test module, with a key and the admin token."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from services.fake_engine import FakeEngineConfig, running_fake_engine
from tests.gateway.reliability.support import CHAT, GatewayProcess, bearer, gateway_process

MAX_BODY_BYTES = 65_536


@dataclass(frozen=True)
class Served:
    gateway: GatewayProcess
    key: str
    key_id: str

    @property
    def url(self) -> str:
        return self.gateway.url

    @property
    def port(self) -> int:
        return self.gateway.port

    def assert_still_serving(self) -> None:
        """The next good request after something hostile is answered as usual."""
        response = httpx.post(
            f"{self.url}/v1/chat/completions",
            json={**CHAT, "max_tokens": 3},
            headers=bearer(self.key),
            timeout=15,
        )
        assert response.status_code == 200, response.text


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    data_dir = tmp_path_factory.mktemp("reliability")
    with (
        running_fake_engine(FakeEngineConfig(models=("fake-model", "other-model"))) as engine,
        gateway_process(
            engine,
            data_dir,
            TOLLGATE_GATEWAY__MAX_BODY_BYTES=str(MAX_BODY_BYTES),
            TOLLGATE_GATEWAY__REQUEST_READ_TIMEOUT_S="2",
            # Only the throttle's own test (from 127.0.0.2) should ever meet it.
            TOLLGATE_LIMITS__AUTH_FAILURES_PER_IP="5/minute",
        ) as gateway,
    ):
        key_id, key = gateway.create_key()
        yield Served(gateway, key, key_id)
