"""Engine trouble becomes a clear, quick answer in OpenAI's shape: 502, 503, 504, or the
engine's own error with its message intact."""

from __future__ import annotations

import httpx
import openai
import pytest
from litestar.testing import TestClient

from gateway.app import create_app
from services.fake_engine import FakeEngineConfig, RunningFakeEngine, running_fake_engine
from services.fake_engine.server import free_port
from tests.gateway.proxy.conftest import MODELS
from tests.gateway.proxy.support import (
    ALICE_KEY,
    FixedKeys,
    auth,
    build_app,
    gateway_settings,
    running_gateway,
)

CHAT = {"model": "fake-model", "messages": [{"role": "user", "content": "hi"}]}


def assert_openai_error(response: httpx.Response, status: int, code: str | int | None) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["message"]
    assert error["code"] == code


def test_engine_down_answers_503_at_once() -> None:
    with running_gateway(build_app([f"http://127.0.0.1:{free_port()}"])) as url:
        response = httpx.post(f"{url}/v1/chat/completions", json=CHAT, headers=auth(), timeout=10)
        assert_openai_error(response, 503, "engine_unavailable")
        assert "x-request-id" in response.headers


def test_engine_down_raises_the_sdks_status_error() -> None:
    with running_gateway(build_app([f"http://127.0.0.1:{free_port()}"])) as url:
        sdk = openai.OpenAI(base_url=f"{url}/v1", api_key=ALICE_KEY, max_retries=0)
        with pytest.raises(openai.InternalServerError) as caught:
            sdk.chat.completions.create(model="fake-model", messages=[])
        assert caught.value.status_code == 503
        sdk.close()


def test_a_second_upstream_takes_over_when_the_first_is_down(
    fake_engine: RunningFakeEngine,
) -> None:
    app = build_app([f"http://127.0.0.1:{free_port()}", fake_engine])
    with running_gateway(app) as url:
        for _ in range(2):
            response = httpx.post(f"{url}/v1/chat/completions", json=CHAT, headers=auth())
            assert response.status_code == 200


def test_engine_closing_the_connection_before_answering_is_a_502(client: httpx.Client) -> None:
    headers = {**auth(), "x-fake-fault": "close-before-headers"}
    response = client.post("/v1/chat/completions", json=CHAT, headers=headers)
    assert_openai_error(response, 502, "bad_gateway")


def test_engine_too_slow_to_answer_is_a_504(fake_engine: RunningFakeEngine) -> None:
    with running_gateway(build_app([fake_engine], first_byte_timeout_s=0.3)) as url:
        headers = {**auth(), "x-fake-fault": "hang"}
        response = httpx.post(f"{url}/v1/chat/completions", json=CHAT, headers=headers, timeout=10)
        assert_openai_error(response, 504, "engine_timeout")
        assert response.json()["error"]["type"] == "upstream_timeout"


def test_engine_errors_keep_their_status_and_message(client: httpx.Client) -> None:
    too_long = {**CHAT, "max_tokens": 100_000}
    response = client.post("/v1/chat/completions", json=too_long, headers=auth())
    assert_openai_error(response, 400, 400)  # vLLM's own code field
    assert "max_tokens=100000" in response.json()["error"]["message"]

    unknown = client.post("/v1/chat/completions", json={**CHAT, "model": "nope"}, headers=auth())
    assert_openai_error(unknown, 404, 404)
    assert "nope" in unknown.json()["error"]["message"]

    overloaded = client.post(
        "/v1/chat/completions", json=CHAT, headers={**auth(), "x-fake-fault": "status-503"}
    )
    assert overloaded.status_code == 503


def test_engine_errors_not_in_openai_shape_are_wrapped_into_it() -> None:
    def engine(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/health":
            return httpx.Response(200)
        return httpx.Response(404, json={"detail": "Not Found"})

    app = create_app(
        gateway_settings(["http://engine:8000"]),
        stand_ins=FixedKeys().stand_ins(upstream_transport=httpx.MockTransport(engine)),
    )
    with TestClient(app) as test_client:
        response = test_client.post(
            "/v1/embeddings", json={"model": "m", "input": "x"}, headers=auth()
        )
    assert_openai_error(response, 404, 404)
    assert response.json()["error"] == {
        "message": "Not Found",
        "type": "not_found_error",
        "param": None,
        "code": 404,
    }


def test_engine_refusing_the_gateways_engine_key_is_a_502_not_the_clients_fault() -> None:
    config = FakeEngineConfig(models=MODELS, api_key="engine-secret")
    with running_fake_engine(config) as engine, running_gateway(build_app([engine])) as url:
        response = httpx.post(f"{url}/v1/chat/completions", json=CHAT, headers=auth())
        assert_openai_error(response, 502, "engine_auth_failed")
