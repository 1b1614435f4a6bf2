"""The official OpenAI SDK parses everything the fake engine answers, as it does vLLM's."""

from __future__ import annotations

import math

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from services.fake_engine import FakeEngineConfig, running_fake_engine

CHAT: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Say hello"}]


def test_models_list_every_served_name_with_its_context_length(sdk: openai.OpenAI) -> None:
    models = sdk.models.list().data
    assert [m.id for m in models] == ["fake-model", "other-model"]
    assert all(m.model_extra and m.model_extra["max_model_len"] == 2048 for m in models)


def test_chat_completion_has_the_requested_length_and_usage(sdk: openai.OpenAI) -> None:
    answer = sdk.chat.completions.create(model="fake-model", messages=CHAT, max_tokens=5)
    assert answer.object == "chat.completion"
    assert answer.choices[0].message.role == "assistant"
    assert answer.choices[0].message.content == "The quick brown fox jumps"
    assert answer.choices[0].finish_reason == "length"
    assert answer.usage is not None
    assert answer.usage.completion_tokens == 5
    assert answer.usage.total_tokens == answer.usage.prompt_tokens + 5


def test_chat_logprobs_give_each_token_and_its_top_alternatives(sdk: openai.OpenAI) -> None:
    answer = sdk.chat.completions.create(
        model="fake-model", messages=CHAT, max_tokens=3, logprobs=True, top_logprobs=2
    )
    logprobs = answer.choices[0].logprobs
    assert logprobs is not None and logprobs.content is not None
    tokens = logprobs.content
    assert [t.token for t in tokens] == ["The", " quick", " brown"]
    assert [round(math.exp(t.logprob), 3) for t in tokens] == [0.9, 0.5, 0.2]
    assert tokens[0].bytes == list(b"The")
    # vLLM lists the chosen token first, then the alternatives.
    assert [alt.token for alt in tokens[0].top_logprobs] == ["The", " quick"]
    assert math.exp(tokens[0].top_logprobs[1].logprob) == pytest.approx(0.05)
    plain = sdk.chat.completions.create(model="fake-model", messages=CHAT, max_tokens=3)
    assert plain.choices[0].logprobs is None


def test_top_logprobs_without_logprobs_is_refused_as_vllm_does(http: httpx.Client) -> None:
    response = http.post("/v1/chat/completions", json={"messages": CHAT, "top_logprobs": 2})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "top_logprobs"


def test_chat_without_max_tokens_stops_at_the_default_length(sdk: openai.OpenAI) -> None:
    answer = sdk.chat.completions.create(model="fake-model", messages=CHAT, n=2)
    assert [c.finish_reason for c in answer.choices] == ["stop", "stop"]
    assert answer.usage is not None and answer.usage.completion_tokens == 2 * 16


def test_streamed_chat_sends_role_then_deltas_then_usage(sdk: openai.OpenAI) -> None:
    stream = sdk.chat.completions.create(
        model="fake-model",
        messages=CHAT,
        max_tokens=4,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    content_chunks = [c for c in chunks if c.choices]
    text = "".join(c.choices[0].delta.content or "" for c in content_chunks)
    assert text == "The quick brown fox"
    finishes = [c.choices[0].finish_reason for c in content_chunks]
    assert finishes[-1] == "length" and set(finishes[:-1]) == {None}
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 4
    assert len({c.id for c in chunks}) == 1


def test_streamed_chat_without_include_usage_has_no_usage_chunk(sdk: openai.OpenAI) -> None:
    chunks = list(
        sdk.chat.completions.create(model="fake-model", messages=CHAT, max_tokens=2, stream=True)
    )
    assert all(c.choices for c in chunks)
    assert all(c.usage is None for c in chunks)


def test_completions_streamed_and_not(sdk: openai.OpenAI) -> None:
    answer = sdk.completions.create(model="fake-model", prompt="one two three", max_tokens=3)
    assert answer.choices[0].text == "The quick brown"
    assert answer.usage is not None and answer.usage.prompt_tokens == 3
    chunks = list(
        sdk.completions.create(
            model="fake-model",
            prompt="one two three",
            max_tokens=3,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert "".join(c.choices[0].text for c in chunks if c.choices) == "The quick brown"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 3


def test_raw_stream_ends_with_done(http: httpx.Client) -> None:
    body = {"messages": CHAT, "max_tokens": 2, "stream": True}
    with http.stream("POST", "/v1/chat/completions", json=body) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line]
    assert all(line.startswith("data: ") for line in lines)
    assert lines[-1] == "data: [DONE]"


def test_prompt_longer_than_the_context_is_a_bad_request(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.completions.create(model="fake-model", prompt="word " * 3000, max_tokens=3)
    assert "maximum context length is 2048 tokens" in caught.value.message
    assert caught.value.body["param"] == "input_tokens"  # type: ignore[index]


def test_max_tokens_over_the_context_is_a_bad_request(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.chat.completions.create(model="fake-model", messages=CHAT, max_tokens=5000)
    assert "cannot be greater than max_model_len=2048" in caught.value.message


def test_unknown_model_is_not_found(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        sdk.chat.completions.create(model="nope", messages=CHAT)


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[1, 2]",
        b'{"messages": "hi"}',
        b'{"messages": []}',
        b'{"messages": [{"role": "user", "content": "x"}], "max_tokens": 0}',
        b'{"messages": [{"role": "user", "content": "x"}], "max_tokens": "3"}',
        b'{"messages": [{"role": "user", "content": "x"}], "stream": "yes"}',
    ],
)
def test_bad_chat_bodies_get_a_vllm_shaped_400(http: httpx.Client, body: bytes) -> None:
    response = http.post("/v1/chat/completions", content=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["code"] == 400


def test_embeddings_in_floats_and_base64(sdk: openai.OpenAI) -> None:
    floats = sdk.embeddings.create(model="fake-model", input=["a", "b"], encoding_format="float")
    assert [len(d.embedding) for d in floats.data] == [16, 16]
    # The SDK asks for base64 by default and decodes it.
    decoded = sdk.embeddings.create(model="fake-model", input=["a", "b"])
    assert decoded.data[0].embedding == pytest.approx(floats.data[0].embedding, abs=1e-6)
    assert floats.data[0].embedding != floats.data[1].embedding


def test_tokenize_and_detokenize_round_trip(http: httpx.Client) -> None:
    tokens = http.post("/tokenize", json={"prompt": "hello big world"}).json()
    assert tokens["count"] == 3 and tokens["max_model_len"] == 2048
    assert http.post("/detokenize", json={"tokens": tokens["tokens"]}).json() == {
        "prompt": "hello big world"
    }
    chat = http.post("/tokenize", json={"messages": CHAT, "return_token_strs": True}).json()
    assert "".join(chat["token_strs"]).endswith("<|im_start|>assistant\n")


def test_render_returns_the_templated_prompt_ids(http: httpx.Client) -> None:
    rendered = http.post("/v1/chat/completions/render", json={"messages": CHAT}).json()
    text = http.post("/detokenize", json={"tokens": rendered["token_ids"]}).json()["prompt"]
    assert "Say hello" in text and text.startswith("<|im_start|>user")


def test_health_and_unknown_routes(http: httpx.Client) -> None:
    assert http.get("/health").status_code == 200
    assert http.get("/v1/nothing").status_code == 404
    assert http.get("/v1/chat/completions").status_code == 405


def test_metrics_expose_vllm_series(sdk: openai.OpenAI, http: httpx.Client) -> None:
    sdk.chat.completions.create(model="fake-model", messages=CHAT, max_tokens=3)
    text = http.get("/metrics").text
    for name in ("num_requests_running", "num_requests_waiting", "kv_cache_usage_perc"):
        assert f'vllm:{name}{{engine="0",model_name="fake-model"}} 0.0' in text
    assert 'vllm:generation_tokens_total{engine="0",model_name="fake-model"} 3.0' in text


def test_configured_api_key_is_required_on_v1_routes() -> None:
    with running_fake_engine(FakeEngineConfig(api_key="engine-secret")) as url:
        wrong = openai.OpenAI(base_url=f"{url}/v1", api_key="other", max_retries=0)
        with pytest.raises(openai.AuthenticationError):
            wrong.models.list()
        right = openai.OpenAI(base_url=f"{url}/v1", api_key="engine-secret", max_retries=0)
        assert right.models.list().data[0].id == "fake-model"
        assert httpx.get(f"{url}/health").status_code == 200  # as vLLM: only /v1 is guarded
