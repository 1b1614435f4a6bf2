"""The whole app as `tollgate gateway` builds it: real keys in a database, the proxy, the logs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from gateway.app import create_app
from services.fake_engine import FakeEngineConfig, RunningFakeEngine, running_fake_engine
from shared.settings import Settings
from tests.gateway.proxy.support import RunningGateway, running_gateway


@pytest.fixture
def engine() -> Iterator[RunningFakeEngine]:
    with running_fake_engine(FakeEngineConfig(models=("fake-model", "other-model"))) as url:
        yield url


@pytest.fixture
def gateway(engine: RunningFakeEngine, tmp_path: Path) -> Iterator[RunningGateway]:
    settings = Settings(upstreams=[engine], data_dir=tmp_path, admin_token="admin-token-for-tests")
    with running_gateway(create_app(settings)) as url:
        yield url


ADMIN = {"authorization": "Bearer admin-token-for-tests"}


def create_key(gateway: RunningGateway, **fields: object) -> tuple[str, str]:
    """(id, key) of a new key, made through the admin API."""
    response = httpx.post(f"{gateway}/admin/keys", json={"name": "t", **fields}, headers=ADMIN)
    assert response.status_code == 201, response.text
    return response.json()["id"], response.json()["key"]


def revoke(gateway: RunningGateway, key_id: str) -> None:
    response = httpx.delete(f"{gateway}/admin/keys/{key_id}", headers=ADMIN)
    assert response.status_code == 200, response.text


def test_a_database_key_works_through_the_sdk_and_revoking_it_stops_it(
    gateway: RunningGateway,
) -> None:
    key_id, key = create_key(gateway, models=["other-model"])
    sdk = openai.OpenAI(base_url=f"{gateway}/v1", api_key=key, max_retries=0)
    answer = sdk.chat.completions.create(
        model="other-model", messages=[{"role": "user", "content": "hi"}]
    )
    assert answer.choices[0].message.content
    assert [m.id for m in sdk.models.list()] == ["other-model"]
    with pytest.raises(openai.PermissionDeniedError):
        sdk.chat.completions.create(model="fake-model", messages=[{"role": "user", "content": "x"}])
    revoke(gateway, key_id)
    with pytest.raises(openai.AuthenticationError):
        sdk.models.list()
    sdk.close()


def test_me_and_engine_state_answer_with_a_database_key(gateway: RunningGateway) -> None:
    _, key = create_key(gateway)
    headers = {"authorization": f"Bearer {key}"}
    assert httpx.get(f"{gateway}/tollgate/me", headers=headers).json()["name"] == "t"
    state = httpx.get(f"{gateway}/tollgate/engine", headers=headers).json()
    assert state["upstreams"][0]["healthy"] is True
