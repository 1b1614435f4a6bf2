"""Token limits reserve an estimate before the engine and settle to the engine's real usage after;
a client that leaves gives its slot back and is charged no more than what it got."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from services.fake_engine import RunningFakeEngine
from tests.gateway.limits.support import (
    auth,
    chat,
    limited_client,
    limited_gateway,
    principal,
    prompt_estimate,
)
from tests.gateway.proxy.support import wait_for

BUDGET = 1_000_000


def engine_tokens(engine: RunningFakeEngine) -> int:
    stats = engine.app.state.stats
    return int(stats.prompt_tokens + stats.generation_tokens)


def remaining(client: httpx.Client, name: str = "alice") -> dict[str, Any]:
    response = client.get("/tollgate/me", headers=auth(name))
    assert response.status_code == 200, response.text
    left: dict[str, Any] = response.json()["remaining"]
    return left


def day_used(client: httpx.Client) -> int:
    return BUDGET - int(remaining(client)["daily_tokens"]["remaining"])


def events(text: str) -> list[str]:
    return [line.removeprefix("data: ") for line in text.split("\n\n") if line.strip()]


@pytest.mark.parametrize("stream", [False, True])
def test_tokens_settle_to_the_engines_usage(
    fake_engine: RunningFakeEngine, store: str | None, stream: bool
) -> None:
    alice = principal("alice", daily_tokens=BUDGET, tpm=600)
    with limited_client(fake_engine, alice, redis_url=store) as client:
        for _ in range(3):
            answer = client.post(
                "/v1/chat/completions", json=chat(7, stream=stream), headers=auth("alice")
            )
            assert answer.status_code == 200
        used = engine_tokens(fake_engine)
        assert used > 0
        assert day_used(client) == used
        # The minute's bucket holds the same tokens, less what refilled since (10/s).
        tokens = remaining(client)["tokens"]
        assert tokens["limit"] == 600
        assert 600 - used <= tokens["remaining"] <= 600 - used + 20


def test_a_stream_whose_client_did_not_ask_for_usage_gets_none_but_is_settled(
    fake_engine: RunningFakeEngine, store: str | None
) -> None:
    alice = principal("alice", daily_tokens=BUDGET)
    with limited_client(fake_engine, alice, redis_url=store) as client:
        answer = client.post(
            "/v1/chat/completions", json=chat(5, stream=True), headers=auth("alice")
        )
        received = events(answer.text)
        assert received[-1] == "[DONE]"
        assert not any('"usage"' in event for event in received)
        chunks = [json.loads(event) for event in received[:-1]]
        assert all(chunk["choices"] for chunk in chunks)
        sent = fake_engine.app.state.stats.recent[-1].as_dict()["body"]
        assert sent["stream_options"] == {"include_usage": True}
        assert day_used(client) == engine_tokens(fake_engine)


def test_a_stream_whose_client_asked_for_usage_keeps_it(
    fake_engine: RunningFakeEngine, store: str | None
) -> None:
    alice = principal("alice", daily_tokens=BUDGET)
    body = chat(5, stream=True, stream_options={"include_usage": True})
    with limited_client(fake_engine, alice, redis_url=store) as client:
        received = events(
            client.post("/v1/chat/completions", json=body, headers=auth("alice")).text
        )
        usage = json.loads(received[-2])["usage"]
        assert day_used(client) == usage["prompt_tokens"] + usage["completion_tokens"]


def test_other_stream_options_of_the_client_are_kept(fake_engine: RunningFakeEngine) -> None:
    body = chat(
        3, stream=True, stream_options={"include_usage": False, "continuous_usage_stats": False}
    )
    with limited_gateway(fake_engine, principal("alice", daily_tokens=BUDGET)) as gateway:
        answer = httpx.post(f"{gateway}/v1/chat/completions", json=body, headers=auth("alice"))
        assert not any('"usage"' in event for event in events(answer.text))
    sent = fake_engine.app.state.stats.recent[-1].as_dict()["body"]
    assert sent["stream_options"] == {"include_usage": True, "continuous_usage_stats": False}


def test_a_client_that_leaves_a_stream_early_frees_its_slot_and_pays_only_its_prompt(
    slow_engine: RunningFakeEngine, store: str | None
) -> None:
    alice = principal("alice", daily_tokens=BUDGET, max_concurrency=1)
    body = chat(200, stream=True)
    prompt_only = prompt_estimate(body)
    with limited_client(slow_engine, alice, redis_url=store) as client:
        with client.stream(
            "POST", "/v1/chat/completions", json=body, headers=auth("alice")
        ) as answer:
            assert answer.status_code == 200  # headers came; the first token has not
            assert remaining(client)["concurrency"]["remaining"] == 0
            # While it runs, the whole estimate (prompt + 200) is reserved.
            assert day_used(client) == prompt_only + 200
        assert wait_for(lambda: remaining(client)["concurrency"]["remaining"] == 1)
        assert day_used(client) == prompt_only
        assert wait_for(lambda: slow_engine.app.state.stats.aborted == 1)


def test_a_client_that_leaves_before_a_plain_answer_frees_its_slot(
    slow_engine: RunningFakeEngine, store: str | None
) -> None:
    alice = principal("alice", daily_tokens=BUDGET, max_concurrency=1)
    body = chat(50)
    estimate = prompt_estimate(body) + 50
    with limited_client(slow_engine, alice, redis_url=store) as client:
        with pytest.raises(httpx.ReadTimeout):
            client.post("/v1/chat/completions", json=body, headers=auth("alice"), timeout=0.2)
        assert wait_for(lambda: remaining(client)["concurrency"]["remaining"] == 1)
        # The engine may have generated until the disconnect: charged the reservation.
        assert day_used(client) == estimate
        assert (
            client.post("/v1/chat/completions", json=chat(), headers=auth("alice")).status_code
            == 200
        )


def test_an_engine_refusal_costs_no_tokens(
    fake_engine: RunningFakeEngine, store: str | None
) -> None:
    alice = principal("alice", daily_tokens=BUDGET, rpm=100)
    with limited_client(fake_engine, alice, redis_url=store) as client:
        refused = client.post(
            "/v1/chat/completions",
            json=chat(),
            headers={**auth("alice"), "x-fake-fault": "status-400"},
        )
        assert refused.status_code == 400
        assert day_used(client) == 0
        # It was a request all the same.
        assert remaining(client)["requests"]["remaining"] == 99


def test_routes_that_generate_nothing_reserve_no_tokens(
    fake_engine: RunningFakeEngine, store: str | None
) -> None:
    # A spent budget does not stop listing models or tokenizing.
    alice = principal("alice", daily_tokens=20)
    with limited_client(fake_engine, alice, redis_url=store) as client:
        assert (
            client.post("/v1/chat/completions", json=chat(30), headers=auth("alice")).status_code
            == 200
        )
        spent = client.post("/v1/chat/completions", json=chat(30), headers=auth("alice"))
        assert spent.status_code == 429
        assert client.get("/v1/models", headers=auth("alice")).status_code == 200
        tokenize = {"model": "fake-model", "prompt": "hello there"}
        assert client.post("/tokenize", json=tokenize, headers=auth("alice")).status_code == 200
