"""The gateway limits failed authentications per client address, so keys cannot be guessed by
hammering it: past the limit that address gets 429, even with a valid key."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import httpx
import pytest

from gateway.app import GatewayApp, create_app
from gateway.keys.service import KeyService
from services.fake_engine import RunningFakeEngine
from shared.schemas.keys import KeyCreate
from shared.settings import LimitSettings
from tests.gateway.keys.helpers import serve
from tests.gateway.limits.support import keyed_settings

Client = Callable[[str], AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
async def gateway(
    tmp_path: Path, fake_engine: RunningFakeEngine, store: str | None
) -> AsyncIterator[tuple[GatewayApp, Client]]:
    settings = keyed_settings(
        tmp_path, fake_engine, store, limits=LimitSettings(auth_failures_per_ip="3/minute")
    )
    app = create_app(settings)
    async with serve(app):

        @asynccontextmanager
        async def client_from(address: str) -> AsyncIterator[httpx.AsyncClient]:
            transport = httpx.ASGITransport(app=app, client=(address, 40000))
            async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
                yield client

        yield app, client_from


def bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


WRONG = "tg-" + "x" * 43


def key_service(app: GatewayApp) -> KeyService:
    assert app.parts.keys is not None  # the keys are in the database here
    return app.parts.keys.service


async def test_past_the_limit_an_address_gets_429_even_with_a_valid_key(
    gateway: tuple[GatewayApp, Client],
) -> None:
    app, client_from = gateway
    key = (await key_service(app).create(KeyCreate(name="alice"))).key
    async with client_from("10.0.0.1") as client:
        assert (await client.get("/v1/models", headers=bearer(key))).status_code == 200
        guesses = [(await client.get("/v1/models", headers=bearer(WRONG))) for _ in range(3)]
        assert [g.status_code for g in guesses] == [401, 401, 401]
        blocked = await client.get("/v1/models", headers=bearer(key))
        assert blocked.status_code == 429
        error = blocked.json()["error"]
        assert error["type"] == "rate_limit_error" and error["code"] == "too_many_auth_failures"
        assert "3 per 1 minute" in error["message"]
        assert 1 <= int(blocked.headers["retry-after"]) <= 60
        assert WRONG not in blocked.text and key not in blocked.text
        assert (await client.post("/v1/chat/completions", headers=bearer(WRONG))).status_code == 429
    async with client_from("10.0.0.2") as other:
        assert (await other.get("/v1/models", headers=bearer(key))).status_code == 200


async def test_requests_without_a_key_are_not_counted_as_guesses(
    gateway: tuple[GatewayApp, Client],
) -> None:
    app, client_from = gateway
    key = (await key_service(app).create(KeyCreate(name="alice"))).key
    async with client_from("10.0.0.3") as client:
        for _ in range(5):
            assert (await client.get("/v1/models")).status_code == 401
        assert (await client.get("/tollgate/me", headers=bearer(key))).status_code == 200
