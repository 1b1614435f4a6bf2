"""The UI's contract with the gateway (ui/routes.py), checked against the real gateway app.

- every route the UI calls is served, with the method the UI uses (the app's OpenAPI document);
- where the gateway documents its answer, it is the very model the UI reads it with (one
  definition, in shared/schemas/); where it documents none, the answer is the engine's, relayed;
- real answers to the UI's own calls (every public method of `GatewayClient`, through a
  transport that keeps what came back) parse with the route's model, carry every field that
  model reads (a renamed field must not slip through as a default), and still parse with a
  field added to every object, as a newer gateway may add them (reading ignores unknown fields);
- failures come in OpenAI's error shape, which the UI's error messages are read from.
"""

from __future__ import annotations

import json
import re
import types
import typing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from shared.schemas.errors import ErrorResponse
from shared.schemas.keys import KeyCreated
from tests.ui.stack import ADMIN_TOKEN, MODEL, Stack, wait_for
from ui.client import ChatRequest, GatewayClient
from ui.routes import ROUTES, GatewayRoute


@dataclass(frozen=True)
class Answer:
    method: str
    path: str
    status: int
    content_type: str
    body: bytes


class KeepingTransport(httpx.AsyncBaseTransport):
    """Sends each request to the real gateway and keeps the raw answer (read in full first)."""

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self.answers: list[Answer] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        body = b"".join([chunk async for chunk in response.aiter_raw()])
        await response.aclose()
        headers = [
            (k, v)
            for k, v in response.headers.multi_items()
            if k.lower() not in ("content-length", "transfer-encoding", "content-encoding")
        ]
        content_type = response.headers.get("content-type", "")
        self.answers.append(
            Answer(request.method, request.url.path, response.status_code, content_type, body)
        )
        return httpx.Response(response.status_code, headers=headers, content=body)

    async def aclose(self) -> None:
        await self._inner.aclose()


def _template(route: GatewayRoute[BaseModel]) -> re.Pattern[str]:
    return re.compile(re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(route.path)) + "$")


def route_of(answer: Answer) -> GatewayRoute[BaseModel]:
    streamed = answer.content_type.startswith("text/event-stream")
    [route] = [
        r
        for r in ROUTES
        if r.method == answer.method and _template(r).match(answer.path) and r.streamed == streamed
    ]
    return route


def events(body: bytes) -> list[Any]:
    """The JSON data of each server-sent event, `[DONE]` left out."""
    data = [line[5:].strip() for line in body.decode().splitlines() if line.startswith("data:")]
    return [json.loads(item) for item in data if item != "[DONE]"]


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds (itself, in a list, or optional), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (list, typing.Union, types.UnionType):
        found = [m for arg in typing.get_args(annotation) if (m := _nested_model(arg))]
        return found[0] if found else None
    return None


def declared(model: type[BaseModel], at: str = "") -> set[str]:
    """Every field a model reads, nested ones as `outer.inner` (list items without an index)."""
    paths = set()
    for name, info in model.model_fields.items():
        paths.add(at + name)
        if (inner := _nested_model(info.annotation)) is not None:
            paths |= declared(inner, f"{at}{name}.")
    return paths


def present(value: BaseModel, at: str = "") -> set[str]:
    """The fields an answer really carried (an explicit null counts, with what it would hold)."""
    paths = set()
    for name in value.model_fields_set:
        paths.add(at + name)
        held = getattr(value, name)
        inner = _nested_model(type(value).model_fields[name].annotation)
        if held is None and inner is not None:
            paths |= declared(inner, f"{at}{name}.")
        for item in held if isinstance(held, list) else [held]:
            if isinstance(item, BaseModel):
                paths |= present(item, f"{at}{name}.")
    return paths


@pytest.fixture
async def answers(stack: Stack, alice: KeyCreated) -> list[Answer]:
    """The real gateway's answers to every call the UI's client can make."""
    keeping = KeepingTransport()
    key = alice.key
    messages = [{"role": "user", "content": "hi"}]
    async with GatewayClient(stack.gateway_url, timeout_s=10, transport=keeping) as client:
        await client.me(key)
        await client.models(key)
        await client.engine(key)
        await client.tokenize(key, MODEL, text="Hello big world")
        await client.render_prompt(key, MODEL, messages)  # render, then detokenize
        await client.complete(key, ChatRequest(MODEL, messages, logprobs=True, top_logprobs=2))
        _ = [e async for e in client.stream_chat(key, ChatRequest(MODEL, messages, max_tokens=3))]
        created = await client.create_key(ADMIN_TOKEN, {"name": "contract", "rpm": 5})
        await client.list_keys(ADMIN_TOKEN)
        await client.revoke_key(ADMIN_TOKEN, created.id)
        since = datetime.now(UTC) - timedelta(days=1)
        # The ledger writes in the background: ask until it has alice's requests.
        wait_for(lambda: _ledger_has(stack, key))
        await client.usage(key, since=since, bucket="day")
        await client.usage_by_key(ADMIN_TOKEN, since=since)
    return keeping.answers


def _ledger_has(stack: Stack, key: str) -> bool:
    headers = {"authorization": f"Bearer {key}"}
    report = httpx.get(f"{stack.gateway_url}/tollgate/usage", headers=headers, timeout=10).json()
    return bool(report["buckets"])


def test_every_route_the_ui_calls_is_served_by_the_gateway(stack: Stack) -> None:
    document = httpx.get(f"{stack.gateway_url}/schema/openapi.json", timeout=30).json()
    for route in ROUTES:
        operations = document["paths"].get(route.path, {})
        assert route.method.lower() in operations, f"{route.method} {route.path} is not served"


def test_the_gateways_own_answers_are_read_with_the_gateways_models(stack: Stack) -> None:
    document = httpx.get(f"{stack.gateway_url}/schema/openapi.json", timeout=30).json()
    for route in ROUTES:
        responses = document["paths"][route.path][route.method.lower()]["responses"]
        [success] = [spec for status, spec in responses.items() if status.startswith("2")]
        documented = success.get("content", {}).get("application/json", {}).get("schema", {})
        reference = documented.get("$ref")
        if route.answer.__module__.startswith("shared.schemas."):
            assert reference == f"#/components/schemas/{route.answer.__name__}", route
        else:  # the engine's answer, relayed as it is: the gateway declares no model of it
            assert reference is None and route.answer.__module__ == "ui.schemas", route


def test_real_answers_parse_whole_with_the_models_the_ui_reads(answers: list[Answer]) -> None:
    seen: set[GatewayRoute[BaseModel]] = set()
    for answer in answers:
        route = route_of(answer)
        seen.add(route)
        assert 200 <= answer.status < 300, (route, answer.body)
        bodies = events(answer.body) if route.streamed else [json.loads(answer.body)]
        parsed = [route.answer.model_validate(body) for body in bodies]
        carried = set().union(*(present(p) for p in parsed))
        missing = declared(route.answer) - carried
        assert not missing, f"{route.method} {route.path}: the answer lacks {sorted(missing)}"
    assert seen == set(ROUTES), "a route of ui/routes.py was never called here"


def grown(body: Any) -> Any:
    """`body` with a field added to every object in it, at any depth."""
    if isinstance(body, dict):
        return {**{k: grown(v) for k, v in body.items()}, "added_later": {"any": ["thing"]}}
    if isinstance(body, list):
        return [grown(item) for item in body]
    return body


def test_answers_with_fields_the_ui_does_not_know_still_parse(answers: list[Answer]) -> None:
    for answer in answers:
        route = route_of(answer)
        bodies = events(answer.body) if route.streamed else [json.loads(answer.body)]
        for body in bodies:
            assert route.answer.model_validate(grown(body)) == route.answer.model_validate(body)


async def test_refusals_come_in_openais_error_shape(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=10) as http:
        for route in ROUTES:
            path = route.path.format(key_id="key_nope")
            body = {"model": MODEL, "messages": [], "tokens": [], "prompt": ""}
            wrong = {"authorization": "Bearer tg-" + "x" * 43}
            response = await http.request(
                route.method, path, headers=wrong, json=body if route.method == "POST" else None
            )
            assert response.status_code == 401, route
            error = ErrorResponse.model_validate(response.json()).error
            assert error.message and error.type, route
