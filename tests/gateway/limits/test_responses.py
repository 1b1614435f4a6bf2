"""What clients see of limits: OpenAI's 429 (the SDK raises RateLimitError and can wait the right
time), OpenAI's x-ratelimit-* headers on every answer of a limited key, and none for others."""

from __future__ import annotations

import asyncio
import re

import httpx
import openai
import pytest

from services.fake_engine import RunningFakeEngine
from tests.gateway.limits.support import (
    auth,
    burst,
    chat,
    key_for,
    limited_client,
    limited_gateway,
    principal,
)

_DURATION = re.compile(r"^(\d+h)?(\d+m)?(\d+(\.\d+)?s|\d+ms)$")


def sdk(gateway: str, name: str = "alice", retries: int = 0) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway}/v1", api_key=key_for(name), max_retries=retries)


def ask(client: openai.OpenAI) -> object:
    return client.chat.completions.create(
        model="fake-model", messages=[{"role": "user", "content": "hi"}], max_tokens=3
    )


def test_the_openai_sdk_raises_rate_limit_error_naming_the_limit_and_its_reset(
    fake_engine: RunningFakeEngine, store: str | None
) -> None:
    with limited_gateway(fake_engine, principal("alice", rpm=2), redis_url=store) as gateway:
        client = sdk(gateway)
        ask(client)
        ask(client)
        with pytest.raises(openai.RateLimitError) as refused:
            ask(client)
    error = refused.value
    assert error.status_code == 429
    assert error.code == "rate_limit_exceeded"
    assert error.type == "rate_limit_error"
    assert error.param == "rpm"
    message = error.message
    assert "requests per minute (RPM)" in message and "key 'alice'" in message
    assert "Limit 2, Used 2, Requested 1" in message
    assert re.search(r"try again in (\d+(\.\d+)?s|\d+ms)", message)
    headers = error.response.headers
    # rpm=2 refills one request every 30 s.
    assert 1 <= int(headers["retry-after"]) <= 30
    assert 0 < int(headers["retry-after-ms"]) <= 30_000
    assert headers["x-ratelimit-limit-requests"] == "2"
    assert headers["x-ratelimit-remaining-requests"] == "0"
    assert _DURATION.match(headers["x-ratelimit-reset-requests"])
    assert "x-should-retry" not in headers


def test_the_sdks_own_retry_waits_for_the_limit_and_then_succeeds(
    fake_engine: RunningFakeEngine, store: str | None
) -> None:
    # rpm=60: one request a second. The SDK's retry honours retry-after-ms.
    with limited_gateway(fake_engine, principal("alice", rpm=60), redis_url=store) as gateway:
        with httpx.Client(base_url=gateway) as http:
            for _ in range(60):
                http.post("/v1/chat/completions", json=chat(), headers=auth("alice"))
        completion = ask(sdk(gateway, retries=2))
    assert completion is not None


def test_every_answer_of_a_limited_key_carries_openais_rate_limit_headers(
    fake_engine: RunningFakeEngine, store: str | None
) -> None:
    alice = principal("alice", rpm=10, tpm=10_000)
    with limited_client(fake_engine, alice, principal("bob"), redis_url=store) as client:
        answer = client.post("/v1/chat/completions", json=chat(), headers=auth("alice"))
        streamed = client.post(
            "/v1/chat/completions", json=chat(stream=True), headers=auth("alice")
        )
        models = client.get("/v1/models", headers=auth("alice"))
        unlimited = client.post("/v1/chat/completions", json=chat(), headers=auth("bob"))
    for response in (answer, streamed, models):
        assert response.status_code == 200
        assert response.headers["x-ratelimit-limit-requests"] == "10"
        assert _DURATION.match(response.headers["x-ratelimit-reset-requests"])
    assert answer.headers["x-ratelimit-remaining-requests"] == "9"
    assert streamed.headers["x-ratelimit-remaining-requests"] == "8"
    assert answer.headers["x-ratelimit-limit-tokens"] == "10000"
    assert int(answer.headers["x-ratelimit-remaining-tokens"]) < 10_000
    assert "x-ratelimit-limit-requests" not in unlimited.headers


def test_an_admitted_request_that_fails_at_the_engine_still_carries_the_headers(
    fake_engine: RunningFakeEngine,
) -> None:
    with limited_gateway(
        fake_engine, principal("alice", rpm=10), gateway={"first_byte_timeout_s": 0.2}
    ) as gateway:
        timed_out = httpx.post(
            f"{gateway}/v1/chat/completions",
            json=chat(),
            headers={**auth("alice"), "x-fake-fault": "slow-first-byte:2000"},
        )
    assert timed_out.status_code == 504
    assert timed_out.headers["x-ratelimit-remaining-requests"] == "9"


def test_a_spent_daily_budget_says_when_it_resets_and_asks_sdks_not_to_retry(
    fake_engine: RunningFakeEngine, store: str | None
) -> None:
    with limited_client(
        fake_engine, principal("alice", daily_tokens=40), redis_url=store
    ) as client:
        assert (
            client.post("/v1/chat/completions", json=chat(30), headers=auth("alice")).status_code
            == 200
        )
        refused = client.post("/v1/chat/completions", json=chat(30), headers=auth("alice"))
    assert refused.status_code == 429
    error = refused.json()["error"]
    assert error["code"] == "token_budget_exceeded" and error["param"] == "daily_tokens"
    assert "daily token budget" in error["message"]
    assert re.search(r"It resets at \d{4}-\d\d-\d\dT00:00:00Z", error["message"])
    assert refused.headers["x-should-retry"] == "false"
    assert int(refused.headers["retry-after"]) <= 86_400


def test_the_default_limit_applies_to_keys_without_their_own_and_says_so(
    fake_engine: RunningFakeEngine, store: str | None
) -> None:
    with limited_client(
        fake_engine, principal("alice"), principal("bob", rpm=5), redis_url=store, default_rpm=1
    ) as client:
        first = client.post("/v1/chat/completions", json=chat(), headers=auth("alice"))
        second = client.post("/v1/chat/completions", json=chat(), headers=auth("alice"))
        own = [
            client.post("/v1/chat/completions", json=chat(), headers=auth("bob")) for _ in range(3)
        ]
    assert first.status_code == 200 and second.status_code == 429
    assert "default limit" in second.json()["error"]["message"]
    assert [r.status_code for r in own] == [200, 200, 200]


def test_a_per_model_limit_replaces_the_keys_own_for_that_model(
    fake_engine: RunningFakeEngine, store: str | None
) -> None:
    alice = principal("alice", rpm=1, model_limits={"small-model": {"rpm": 3}})
    small = {**chat(), "model": "small-model"}
    with limited_client(fake_engine, alice, redis_url=store) as client:
        on_small = [
            client.post("/v1/chat/completions", json=small, headers=auth("alice")).status_code
            for _ in range(4)
        ]
        # The small model's requests did not use the key-wide rpm.
        on_default = [
            client.post("/v1/chat/completions", json=chat(), headers=auth("alice")).status_code
            for _ in range(2)
        ]
        refused = client.post("/v1/chat/completions", json=small, headers=auth("alice"))
    assert on_small == [200, 200, 200, 429]
    assert on_default == [200, 429]
    assert "on model 'small-model'" in refused.json()["error"]["message"]


def test_concurrency_refusals_name_the_limit(
    slow_engine: RunningFakeEngine, store: str | None
) -> None:
    with limited_gateway(
        slow_engine, principal("alice", max_concurrency=1), redis_url=store
    ) as gateway:
        responses = asyncio.run(burst([gateway], 2, "alice", chat()))
    refused = next(r for r in responses if r.status_code == 429)
    error = refused.json()["error"]
    assert error["code"] == "concurrency_limit_exceeded" and error["param"] == "max_concurrency"
    assert "Limit 1 requests in flight" in error["message"]
    assert refused.headers["retry-after"] == "1"
