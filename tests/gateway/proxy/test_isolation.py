"""What crosses the gateway: never the client's credentials or hop-by-hop headers; always a
request id, on every response and on the request to the engine."""

from __future__ import annotations

import re

import httpx
import pytest

from services.fake_engine import RunningFakeEngine
from tests.gateway.proxy.support import ALICE_KEY, auth, gateway_over

CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
ANSWER = {"object": "chat.completion", "choices": [], "usage": None}


class Engine:
    """A fake engine that records what reached it."""

    def __init__(self, headers: dict[str, str] | None = None) -> None:
        self.seen: list[httpx.Request] = []
        self.response_headers = headers or {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET":  # the gateway's health monitor
            return httpx.Response(200, json={"object": "list", "data": []})
        self.seen.append(request)
        return httpx.Response(200, json=ANSWER, headers=self.response_headers)


def test_the_clients_credentials_never_reach_the_engine() -> None:
    engine = Engine()
    with gateway_over(engine) as client:
        headers = {
            **auth(),
            "x-api-key": ALICE_KEY,
            "api-key": ALICE_KEY,
            "cookie": "session=abc",
            "proxy-authorization": "Basic c2VjcmV0",
        }
        assert client.post("/v1/chat/completions", json=CHAT, headers=headers).status_code == 200
    sent = engine.seen[-1].headers
    for name in ("authorization", "x-api-key", "api-key", "cookie", "proxy-authorization"):
        assert name not in sent
    assert ALICE_KEY not in str(engine.seen[-1].headers.raw)


def test_the_engine_gets_its_own_key_instead_when_one_is_configured() -> None:
    engine = Engine()
    with gateway_over(engine, engine_api_key="engine-secret") as client:
        client.post("/v1/chat/completions", json=CHAT, headers=auth())
    assert engine.seen[-1].headers.get_list("authorization") == ["Bearer engine-secret"]


def test_no_client_authorization_reaches_a_real_upstream(
    client: httpx.Client, fake_engine: RunningFakeEngine
) -> None:
    body = {"model": "fake-model", "messages": [{"role": "user", "content": "hi"}]}
    assert client.post("/v1/chat/completions", json=body, headers=auth()).status_code == 200
    seen = fake_engine.app.state.stats.recent[-1]
    names = {name.lower() for name, _ in seen.raw_headers}
    assert b"authorization" not in names
    assert ALICE_KEY.encode() not in b"".join(v for _, v in seen.raw_headers)


def test_hop_by_hop_headers_are_dropped_on_the_way_in() -> None:
    engine = Engine()
    with gateway_over(engine) as client:
        headers = {
            **auth(),
            "connection": "keep-alive, x-per-hop",
            "x-per-hop": "1",
            "keep-alive": "timeout=5",
            "te": "trailers",
            "upgrade": "websocket",
            "x-end-to-end": "kept",
            "user-agent": "OpenAI/Python 9.9",
        }
        client.post("/v1/chat/completions", json=CHAT, headers=headers)
    sent = engine.seen[-1].headers
    for name in ("x-per-hop", "keep-alive", "te", "upgrade"):
        assert name not in sent
    assert sent["x-end-to-end"] == "kept"
    assert sent["user-agent"] == "OpenAI/Python 9.9"


def test_hop_by_hop_and_engine_server_headers_are_dropped_on_the_way_out() -> None:
    engine = Engine(
        headers={
            "connection": "close",
            "keep-alive": "timeout=5",
            "server": "engine-internal",
            "set-cookie": "engine=1",
            "x-engine-info": "kept",
        }
    )
    with gateway_over(engine) as client:
        response = client.post("/v1/chat/completions", json=CHAT, headers=auth())
    assert response.status_code == 200
    for name in ("keep-alive", "set-cookie"):
        assert name not in response.headers
    assert response.headers.get("server") != "engine-internal"
    assert response.headers.get("connection") != "close"
    assert response.headers["x-engine-info"] == "kept"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_a_clients_request_id_is_returned_and_forwarded_to_the_engine() -> None:
    engine = Engine(headers={"x-request-id": "engine-made-this"})
    with gateway_over(engine) as client:
        response = client.post(
            "/v1/chat/completions", json=CHAT, headers={**auth(), "x-request-id": "trace-42"}
        )
    assert response.headers.get_list("x-request-id") == ["trace-42"]
    assert engine.seen[-1].headers.get_list("x-request-id") == ["trace-42"]


def test_a_request_id_is_made_when_the_client_sends_none_or_an_unsafe_one() -> None:
    engine = Engine()
    with gateway_over(engine) as client:
        made = client.post("/v1/chat/completions", json=CHAT, headers=auth())
        unsafe = client.post(
            "/v1/chat/completions", json=CHAT, headers={**auth(), "x-request-id": 'a b"<x>'}
        )
    for response, sent in zip((made, unsafe), engine.seen, strict=True):
        request_id = response.headers["x-request-id"]
        assert re.fullmatch(r"[0-9a-f]{32}", request_id)
        assert sent.headers["x-request-id"] == request_id
    assert made.headers["x-request-id"] != unsafe.headers["x-request-id"]


@pytest.mark.parametrize(
    ("method", "path", "headers", "body", "status"),
    [
        ("POST", "/v1/chat/completions", {}, CHAT, 401),
        ("POST", "/v1/chat/completions", auth(), {"model": "m"}, 400),
        ("GET", "/no/such/route", auth(), None, 404),
        ("DELETE", "/v1/chat/completions", auth(), None, 405),
    ],
)
def test_every_error_response_carries_a_request_id_and_openai_shape(
    method: str, path: str, headers: dict[str, str], body: object, status: int
) -> None:
    with gateway_over(Engine()) as client:
        response = client.request(method, path, headers=headers, json=body)
    assert response.status_code == status
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}
