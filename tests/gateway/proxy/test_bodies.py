"""Bodies are checked before the engine is called, and otherwise reach it byte for byte."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest

from gateway.errors import InvalidRequest
from gateway.proxy.routes import PROXY_ROUTES
from services.fake_engine import RunningFakeEngine
from tests.gateway.proxy.support import (
    ALICE_KEY,
    BOB_KEY,
    RunningGateway,
    auth,
    build_app,
    running_gateway,
)

ROUTES = {route.path: route for route in PROXY_ROUTES}
MESSAGES = [{"role": "user", "content": "hi"}]


def check(path: str, body: Any) -> str:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    spec = ROUTES[path].body
    assert spec is not None
    return spec.check(raw)


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        (b"", None, "invalid_json"),
        (b"{not json", None, "invalid_json"),
        (b"[1, 2]", None, "invalid_json"),
        ({"messages": MESSAGES}, "model", "missing_required_parameter"),
        ({"model": None, "messages": MESSAGES}, "model", "missing_required_parameter"),
        ({"model": 5, "messages": MESSAGES}, "model", "invalid_type"),
        ({"model": "  ", "messages": MESSAGES}, "model", "invalid_value"),
        ({"model": "m"}, "messages", "missing_required_parameter"),
        ({"model": "m", "messages": "hi"}, "messages", "invalid_type"),
        ({"model": "m", "messages": {"role": "user"}}, "messages", "invalid_type"),
    ],
)
def test_bad_chat_bodies_are_refused_with_the_field_named(
    body: Any, param: str | None, code: str
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        check("/v1/chat/completions", body)
    assert (caught.value.param, caught.value.code, caught.value.status) == (param, code, 400)


def test_each_route_checks_its_own_required_fields() -> None:
    assert check("/v1/completions", {"model": "m", "prompt": ["a", "b"]}) == "m"
    with pytest.raises(InvalidRequest, match="'prompt'"):
        check("/v1/completions", {"model": "m", "prompt": 3})
    with pytest.raises(InvalidRequest, match="'input'"):
        check("/v1/embeddings", {"model": "m"})
    with pytest.raises(InvalidRequest, match="'max_tokens'.*integer"):
        check("/v1/messages", {"model": "m", "messages": MESSAGES, "max_tokens": 1.5})
    assert check("/tokenize", {"model": "m", "prompt": "text"}) == "m"
    assert check("/tokenize", {"model": "m", "messages": MESSAGES}) == "m"
    with pytest.raises(InvalidRequest, match="one of 'prompt' or 'messages'"):
        check("/tokenize", {"model": "m"})
    with pytest.raises(InvalidRequest, match="'tokens'"):
        check("/detokenize", {"model": "m", "tokens": "1 2"})


def test_invalid_body_never_reaches_the_engine_and_the_sdk_raises_bad_request(
    gateway: RunningGateway, fake_engine: RunningFakeEngine
) -> None:
    sdk = openai.OpenAI(base_url=f"{gateway}/v1", api_key=ALICE_KEY, max_retries=0)
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.chat.completions.create(model="fake-model", messages="hi")  # type: ignore[arg-type]
    assert caught.value.body["param"] == "messages"  # type: ignore[index]
    sdk.close()
    assert fake_engine.app.state.stats.by_path.get("/v1/chat/completions") is None


def test_unknown_fields_reach_the_engine_byte_for_byte(
    client: httpx.Client, fake_engine: RunningFakeEngine
) -> None:
    raw = (
        b'{"model": "fake-model",  "messages": [{"role": "user", "content": "hi \\u00e9"}],'
        b' "top_k": 5, "min_p": 0.1, "guided_json": {"type": "object"}, "x_unknown": [1, 2.50]}'
    )
    headers = {**auth(), "content-type": "application/json"}
    response = client.post("/v1/chat/completions", content=raw, headers=headers)
    assert response.status_code == 200
    assert fake_engine.app.state.stats.recent[-1].raw_body == raw


def test_a_body_over_the_limit_is_refused_with_413(fake_engine: RunningFakeEngine) -> None:
    big = {"model": "fake-model", "messages": [{"role": "user", "content": "x" * 4096}]}
    with running_gateway(build_app([fake_engine], max_body_bytes=2048)) as url:
        response = httpx.post(f"{url}/v1/chat/completions", json=big, headers=auth())
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "request_too_large"

        def chunks() -> Any:  # no Content-Length: counted as it arrives
            yield b'{"model": "fake-model", "messages": [{"content": "'
            for _ in range(8):
                yield b"x" * 512
            yield b'"}]}'

        streamed = httpx.post(f"{url}/v1/chat/completions", content=chunks(), headers=auth())
        assert streamed.status_code == 413
    assert fake_engine.app.state.stats.by_path.get("/v1/chat/completions") is None


def test_a_key_may_not_use_a_model_outside_its_list(
    gateway: RunningGateway, fake_engine: RunningFakeEngine
) -> None:
    sdk = openai.OpenAI(base_url=f"{gateway}/v1", api_key=BOB_KEY, max_retries=0)
    with pytest.raises(openai.PermissionDeniedError) as caught:
        sdk.chat.completions.create(model="fake-model", messages=MESSAGES)  # type: ignore[arg-type]
    assert caught.value.code == "model_not_allowed"
    answer = sdk.chat.completions.create(model="other-model", messages=MESSAGES)  # type: ignore[arg-type]
    assert answer.choices[0].message.content
    sdk.close()


def test_model_list_shows_only_the_models_a_key_may_use(client: httpx.Client) -> None:
    everything = client.get("/v1/models", headers=auth()).json()
    assert {m["id"] for m in everything["data"]} == {"fake-model", "other-model"}
    limited = client.get("/v1/models", headers=auth(BOB_KEY)).json()
    assert [m["id"] for m in limited["data"]] == ["other-model"]
    assert limited["object"] == "list"


def test_inspection_routes_are_proxied(client: httpx.Client) -> None:
    tokens = client.post(
        "/tokenize", json={"model": "fake-model", "prompt": "one two three"}, headers=auth()
    )
    assert tokens.status_code == 200 and tokens.json()["count"] > 0
    text = client.post(
        "/detokenize",
        json={"model": "fake-model", "tokens": tokens.json()["tokens"]},
        headers=auth(),
    )
    assert text.status_code == 200 and "prompt" in text.json()
    rendered = client.post(
        "/v1/chat/completions/render",
        json={"model": "fake-model", "messages": MESSAGES},
        headers=auth(),
    )
    assert rendered.status_code == 200
