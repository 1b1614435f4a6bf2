"""Streams through the gateway: chunk by chunk, disconnects reach the engine, failures end them."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import openai
import pytest

from services.fake_engine import FakeEngineConfig, RunningFakeEngine, running_fake_engine
from tests.gateway.proxy.conftest import MODELS
from tests.gateway.proxy.support import (
    ALICE_KEY,
    LogCapture,
    RunningGateway,
    auth,
    build_app,
    running_gateway,
    wait_for,
)


def chat(stream: bool = True, **extra: Any) -> dict[str, Any]:
    return {
        "model": "fake-model",
        "messages": [{"role": "user", "content": "hello"}],
        "stream": stream,
        **extra,
    }


def events(text: str) -> list[str]:
    return [block.removeprefix("data: ") for block in text.split("\n\n") if block.strip()]


def test_chunks_reach_the_client_as_the_engine_produces_them(
    client: httpx.Client, fake_engine: RunningFakeEngine
) -> None:
    headers = {**auth(), "x-fake-itl-ms": "150"}
    arrivals: list[tuple[float, bytes]] = []
    with client.stream(
        "POST", "/v1/chat/completions", json=chat(max_tokens=6), headers=headers
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for chunk in response.iter_raw():
            arrivals.append((time.monotonic(), chunk))
    body = b"".join(c for _, c in arrivals).decode()
    assert events(body)[-1] == "[DONE]"
    content = [t for t, c in arrivals if b'"content"' in c]
    # Six tokens 150 ms apart: a buffering proxy would deliver them all at once at the end.
    assert len(arrivals) >= 5
    assert content[-1] - content[0] >= 0.45


def test_client_disconnect_mid_stream_aborts_the_engine_request(
    client: httpx.Client, fake_engine: RunningFakeEngine, logs: LogCapture
) -> None:
    stats = fake_engine.app.state.stats
    headers = {**auth(), "x-fake-itl-ms": "50"}
    with client.stream(
        "POST", "/v1/chat/completions", json=chat(max_tokens=1000), headers=headers
    ) as response:
        next(response.iter_raw())  # the stream has started; now walk away
    assert wait_for(lambda: stats.aborted == 1), "the engine never saw the client leave"
    assert stats.completed == 0
    assert wait_for(lambda: any(line["client_disconnected"] for line in logs.access()))
    line = logs.access()[-1]
    assert line["stream"] is True and line["client_disconnected"] is True


def test_client_giving_up_on_a_non_streamed_answer_aborts_the_engine_request(
    gateway: RunningGateway, fake_engine: RunningFakeEngine
) -> None:
    stats = fake_engine.app.state.stats
    headers = {**auth(), "x-fake-ttft-ms": "5000"}
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{gateway}/v1/chat/completions", json=chat(stream=False), headers=headers, timeout=0.5
        )
    assert wait_for(lambda: stats.aborted == 1), "the engine kept generating for nobody"


def test_engine_dying_mid_stream_ends_with_an_openai_error_event(client: httpx.Client) -> None:
    headers = {**auth(), "x-fake-fault": "die-mid-stream:3"}
    response = client.post("/v1/chat/completions", json=chat(), headers=headers)
    assert response.status_code == 200  # the stream had started
    received = events(response.text)
    final = json.loads(received[-1])
    assert set(final["error"]) == {"message", "type", "param", "code"}
    assert final["error"]["code"] == "engine_stream_error"
    assert any('"content"' in e for e in received[:-1]), "the tokens before the failure arrive"


def test_sdk_raises_on_a_stream_the_engine_broke_off(gateway: RunningGateway) -> None:
    sdk = openai.OpenAI(base_url=f"{gateway}/v1", api_key=ALICE_KEY, max_retries=0)
    stream = sdk.chat.completions.create(
        model="fake-model",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        extra_headers={"x-fake-fault": "die-mid-stream:2"},
    )
    with pytest.raises(openai.APIError, match="broke off"):
        for _ in stream:
            pass
    sdk.close()


def test_engine_error_event_mid_stream_passes_through_unchanged(client: httpx.Client) -> None:
    headers = {**auth(), "x-fake-fault": "error-mid-stream:2"}
    received = events(client.post("/v1/chat/completions", json=chat(), headers=headers).text)
    assert received[-1] == "[DONE]"
    assert "error" in json.loads(received[-2])  # vLLM's own event, as vLLM sent it


def test_engine_falling_silent_ends_the_stream_after_the_idle_limit(
    fake_engine: RunningFakeEngine,
) -> None:
    app = build_app([fake_engine], idle_timeout_s=0.3)
    headers = {**auth(), "x-fake-itl-ms": "3000"}
    with running_gateway(app) as url:
        response = httpx.post(
            f"{url}/v1/chat/completions", json=chat(max_tokens=5), headers=headers, timeout=10
        )
    final = json.loads(events(response.text)[-1])
    assert final["error"]["code"] == "engine_idle_timeout"
    assert final["error"]["type"] == "upstream_timeout"


def test_a_stream_longer_than_the_total_limit_is_ended_with_an_error_event(
    fake_engine: RunningFakeEngine,
) -> None:
    app = build_app([fake_engine], total_timeout_s=0.5, idle_timeout_s=5)
    headers = {**auth(), "x-fake-itl-ms": "100"}
    with running_gateway(app) as url:
        response = httpx.post(
            f"{url}/v1/chat/completions", json=chat(max_tokens=50), headers=headers, timeout=10
        )
    final = json.loads(events(response.text)[-1])
    assert final["error"]["code"] == "engine_timeout"


def test_stream_usage_is_logged_from_the_final_usage_chunk(
    client: httpx.Client, logs: LogCapture
) -> None:
    body = chat(max_tokens=4, stream_options={"include_usage": True})
    assert client.post("/v1/chat/completions", json=body, headers=auth()).status_code == 200
    assert wait_for(lambda: logs.access())
    line = logs.access()[-1]
    assert line["stream"] is True
    assert line["completion_tokens"] == 4 and line["prompt_tokens"] > 0
    assert line["ttfb_ms"] is not None and line["ttfb_ms"] <= line["latency_ms"]


def test_many_concurrent_streams_each_arrive_whole() -> None:
    config = FakeEngineConfig(models=MODELS, itl_ms=5, output_tokens=20)
    with running_fake_engine(config) as engine, running_gateway(build_app([engine])) as url:
        import concurrent.futures

        def one(_: int) -> str:
            return httpx.post(
                f"{url}/v1/chat/completions", json=chat(), headers=auth(), timeout=20
            ).text

        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            bodies = list(pool.map(one, range(32)))
    for body in bodies:
        received = events(body)
        assert received[-1] == "[DONE]"
        assert sum('"content"' in e for e in received) >= 20
