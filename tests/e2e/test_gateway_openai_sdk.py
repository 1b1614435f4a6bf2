"""The official OpenAI SDK through the gateway against the real vLLM engine: it must behave as
against vLLM itself, with keys checked and every error raising the SDK's matching class.

The engine is the session's (`engine_url`); `TOLLGATE_E2E_ENGINE_URL` points these tests at an
engine already running instead (a developer's, to skip the two-minute start).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from gateway.app import create_app
from services.fake_engine.server import free_port
from shared.settings import Settings
from tests.gateway.proxy.support import RunningGateway, running_gateway

pytestmark = pytest.mark.e2e

ADMIN = {"authorization": "Bearer e2e-admin-token"}
HELLO = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture(scope="module")
def engine(request: pytest.FixtureRequest) -> str:
    url = os.environ.get("TOLLGATE_E2E_ENGINE_URL")
    return url.rstrip("/") if url else str(request.getfixturevalue("engine_url"))


@pytest.fixture(scope="module")
def model(engine: str) -> str:
    served: str = httpx.get(f"{engine}/v1/models", timeout=30).json()["data"][0]["id"]
    return served


@pytest.fixture(scope="module")
def gateway(engine: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    data_dir: Path = tmp_path_factory.mktemp("gateway")
    settings = Settings(upstreams=[engine], data_dir=data_dir, admin_token="e2e-admin-token")
    with running_gateway(create_app(settings)) as url:
        yield url


def new_key(gateway: str, **fields: object) -> str:
    response = httpx.post(f"{gateway}/admin/keys", json={"name": "e2e", **fields}, headers=ADMIN)
    assert response.status_code == 201, response.text
    key: str = response.json()["key"]
    return key


@pytest.fixture(scope="module")
def sdk(gateway: RunningGateway) -> Iterator[openai.OpenAI]:
    client = openai.OpenAI(base_url=f"{gateway}/v1", api_key=new_key(gateway), max_retries=0)
    yield client
    client.close()


def test_chat_completion_through_the_gateway(sdk: openai.OpenAI, model: str) -> None:
    answer = sdk.chat.completions.create(model=model, messages=HELLO, max_tokens=24, temperature=0)  # type: ignore[arg-type]
    assert answer.choices[0].message.content
    assert answer.usage is not None and answer.usage.completion_tokens > 0


def test_streamed_chat_arrives_in_chunks_with_usage(sdk: openai.OpenAI, model: str) -> None:
    stream = sdk.chat.completions.create(
        model=model,
        messages=HELLO,  # type: ignore[arg-type]
        max_tokens=24,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.strip()
    assert len(chunks) > 3
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_models_lists_the_engines_model(sdk: openai.OpenAI, model: str) -> None:
    assert [m.id for m in sdk.models.list()] == [model]


def test_a_bad_key_raises_authentication_error(gateway: RunningGateway, model: str) -> None:
    bad = openai.OpenAI(base_url=f"{gateway}/v1", api_key="tg-" + "x" * 43, max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.chat.completions.create(model=model, messages=HELLO)  # type: ignore[arg-type]
    bad.close()


def test_a_model_outside_the_keys_list_raises_permission_denied(
    gateway: RunningGateway, model: str
) -> None:
    limited = openai.OpenAI(
        base_url=f"{gateway}/v1", api_key=new_key(gateway, models=["another"]), max_retries=0
    )
    with pytest.raises(openai.PermissionDeniedError):
        limited.chat.completions.create(model=model, messages=HELLO)  # type: ignore[arg-type]
    limited.close()


def test_an_unknown_model_raises_not_found_with_the_engines_message(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError, match="no-such-model"):
        sdk.chat.completions.create(model="no-such-model", messages=HELLO)  # type: ignore[arg-type]


def test_bad_requests_raise_bad_request_with_the_engines_message(
    sdk: openai.OpenAI, model: str
) -> None:
    with pytest.raises(openai.BadRequestError, match="max_tokens"):
        sdk.chat.completions.create(model=model, messages=HELLO, max_tokens=10**6)  # type: ignore[arg-type]
    with pytest.raises((openai.BadRequestError, openai.UnprocessableEntityError)):
        sdk.chat.completions.create(model=model, messages="not a list")  # type: ignore[arg-type]


def test_an_engine_that_is_down_raises_a_5xx_status_error(tmp_path: Path) -> None:
    dead = Settings(
        upstreams=[f"http://127.0.0.1:{free_port()}"],
        data_dir=tmp_path,
        admin_token="e2e-admin-token",
    )
    with running_gateway(create_app(dead)) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key=new_key(url), max_retries=0)
        with pytest.raises(openai.APIStatusError) as caught:
            client.chat.completions.create(model="any", messages=HELLO)  # type: ignore[arg-type]
        assert caught.value.status_code == 503
        client.close()


def test_leaving_a_stream_early_stops_the_generation(
    sdk: openai.OpenAI, model: str, engine: str
) -> None:
    stream = sdk.chat.completions.create(
        model=model,
        messages=HELLO,  # type: ignore[arg-type]
        max_tokens=1500,
        stream=True,
        extra_body={"ignore_eos": True},
    )
    next(iter(stream))
    stream.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        metrics = httpx.get(f"{engine}/metrics").text
        running = [
            float(line.rsplit(" ", 1)[1])
            for line in metrics.splitlines()
            if line.startswith("vllm:num_requests_running")
        ]
        if sum(running) == 0:
            return
        time.sleep(0.2)
    pytest.fail("the engine kept generating after the client left")
