"""The real vLLM engine on the embedded default model, as users' scripts see it."""

from __future__ import annotations

import json

import httpx
import pytest

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def client(engine_url: str) -> httpx.Client:
    return httpx.Client(base_url=engine_url, timeout=120)


@pytest.fixture(scope="module")
def model(client: httpx.Client) -> str:
    """The served name (the session engine says `default`; a developer's engine may differ)."""
    return str(client.get("/v1/models").json()["data"][0]["id"])


def test_models_lists_the_served_model_with_its_context_length(client: httpx.Client) -> None:
    models = client.get("/v1/models").json()["data"]
    assert len(models) == 1
    assert models[0]["root"].rstrip("/").endswith("SmolLM2-135M-Instruct")
    assert models[0]["max_model_len"] == 2048


def test_chat_completion_answers_with_text_finish_reason_and_usage(
    client: httpx.Client, model: str
) -> None:
    response = client.post(
        "/v1/chat/completions",
        json={
            "model": model,
            "messages": [{"role": "user", "content": "What is the capital of France?"}],
            "max_tokens": 32,
            "temperature": 0,
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    choice = body["choices"][0]
    assert choice["message"]["role"] == "assistant"
    assert choice["message"]["content"].strip()
    assert choice["finish_reason"] in ("stop", "length")
    usage = body["usage"]
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_chat_completion_streams_token_by_token(client: httpx.Client, model: str) -> None:
    payload = {
        "model": model,
        "messages": [{"role": "user", "content": "Count from one to five."}],
        "max_tokens": 16,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    events = []
    with client.stream("POST", "/v1/chat/completions", json=payload) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data: "):
                events.append(line.removeprefix("data: "))
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    deltas = [c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"]]
    assert sum(1 for d in deltas if d) > 1  # more than one content chunk: real streaming
    assert (
        chunks[-1]["usage"]["completion_tokens"] == 16
        or chunks[-1]["usage"]["completion_tokens"] > 0
    )


def test_text_completion(client: httpx.Client, model: str) -> None:
    response = client.post(
        "/v1/completions",
        json={
            "model": model,
            "prompt": "The capital of France is",
            "max_tokens": 8,
            "temperature": 0,
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "text_completion"
    assert body["choices"][0]["text"].strip()
    assert body["usage"]["completion_tokens"] > 0


def test_tokenize_returns_ids_and_count(client: httpx.Client, model: str) -> None:
    response = client.post("/tokenize", json={"model": model, "prompt": "Hello world"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["count"] == len(body["tokens"]) > 0
    assert body["max_model_len"] == 2048
    back = client.post("/detokenize", json={"model": model, "tokens": body["tokens"]}).json()
    assert back["prompt"] == "Hello world"


def test_prompt_over_the_context_length_is_a_clear_400(client: httpx.Client, model: str) -> None:
    response = client.post(
        "/v1/completions",
        json={"model": model, "prompt": "hello " * 3000, "max_tokens": 4},
    )
    assert response.status_code == 400
    assert "error" in response.json()
