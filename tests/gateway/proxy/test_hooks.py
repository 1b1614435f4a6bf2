"""Later modules (limits, usage ledger, queueing) plug into the proxy through its hooks."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from gateway.errors import RateLimited
from gateway.proxy.hooks import ProxyHooks, ProxyOutcome, ProxyRequest, Ticket
from services.fake_engine import RunningFakeEngine
from tests.gateway.proxy.support import (
    BOB_KEY,
    RunningGateway,
    auth,
    build_app,
    running_gateway,
    wait_for,
)

CHAT = {"model": "fake-model", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3}


def hooks_of(gateway: RunningGateway) -> ProxyHooks:
    hooks: ProxyHooks = gateway.app.state["proxy_hooks"]
    return hooks


def test_observers_get_one_outcome_per_request_with_usage(
    gateway: RunningGateway, client: httpx.Client
) -> None:
    outcomes: list[ProxyOutcome] = []
    hooks_of(gateway).observers.append(outcomes.append)
    client.post("/v1/chat/completions", json=CHAT, headers=auth())
    stream = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}
    client.post("/v1/chat/completions", json=stream, headers=auth())
    client.post("/v1/chat/completions", json=CHAT, headers=auth(BOB_KEY))  # refused: 403
    assert wait_for(lambda: len(outcomes) == 3)
    plain, streamed, refused = outcomes
    assert plain.status == 200 and not plain.stream
    assert plain.usage is not None and plain.usage.completion_tokens == 3
    assert plain.principal.name == "alice" and plain.model == "fake-model"
    assert plain.upstream is not None and plain.ttfb_ms is not None
    assert streamed.stream and streamed.usage is not None and streamed.usage.completion_tokens == 3
    # role chunk, three tokens, the usage chunk, [DONE]
    assert (plain.stream_events, streamed.stream_events) == (0, 6)
    assert plain.request_bytes == len(httpx.Request("POST", "/", json=CHAT).content)
    assert (refused.status, refused.error, refused.upstream) == (403, "model_not_allowed", None)


def test_an_observer_that_fails_does_not_fail_the_request(
    gateway: RunningGateway, client: httpx.Client
) -> None:
    def broken(_: ProxyOutcome) -> None:
        raise RuntimeError("ledger down")

    hooks_of(gateway).observers.append(broken)
    assert client.post("/v1/chat/completions", json=CHAT, headers=auth()).status_code == 200


def test_an_admission_hook_can_refuse_before_the_engine_is_called(
    gateway: RunningGateway, client: httpx.Client, fake_engine: RunningFakeEngine
) -> None:
    async def limit(request: ProxyRequest) -> Ticket | None:
        raise RateLimited("Slow down.", headers={"retry-after": "7"})

    hooks_of(gateway).admissions.append(limit)
    response = client.post("/v1/chat/completions", json=CHAT, headers=auth())
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert response.json()["error"]["type"] == "rate_limit_error"
    assert fake_engine.app.state.stats.started == 0


@pytest.mark.parametrize("stream", [False, True])
def test_an_admission_ticket_adds_headers_and_is_released_once_when_the_request_ends(
    fake_engine: RunningFakeEngine, stream: bool
) -> None:
    released: list[ProxyOutcome | None] = []

    async def release(outcome: ProxyOutcome | None) -> None:
        released.append(outcome)

    async def admit(request: ProxyRequest) -> Ticket | None:
        assert request.model == "fake-model" and request.principal.name == "alice"
        return Ticket(headers=[(b"x-ratelimit-remaining-requests", b"9")], release=release)

    app = build_app([fake_engine])
    app.state["proxy_hooks"].admissions.append(admit)
    with running_gateway(app) as url:
        response = httpx.post(
            f"{url}/v1/chat/completions", json={**CHAT, "stream": stream}, headers=auth()
        )
        assert response.headers["x-ratelimit-remaining-requests"] == "9"
        assert wait_for(lambda: len(released) == 1)
    assert released[0] is not None and released[0].status == 200


def test_queue_time_in_admission_hooks_is_reported(
    gateway: RunningGateway, client: httpx.Client
) -> None:
    outcomes: list[ProxyOutcome] = []

    async def queue(_: ProxyRequest) -> None:
        await asyncio.sleep(0.05)  # a fair queue waiting for a slot

    hooks_of(gateway).admissions.append(queue)
    hooks_of(gateway).observers.append(outcomes.append)
    client.post("/v1/chat/completions", json=CHAT, headers=auth())
    assert wait_for(lambda: len(outcomes) == 1)
    assert (
        outcomes[0].queued_ms is not None and outcomes[0].queued_ms >= 45
    )  # uvloop may fire a timer a fraction early


def test_request_listeners_see_every_http_request(
    gateway: RunningGateway, client: httpx.Client
) -> None:
    seen: list[tuple[str | None, int]] = []
    listeners = gateway.app.state["request_listeners"]
    listeners.append(lambda record, scope: seen.append((record.route, record.status)))
    listeners.append(lambda record, scope: 1 / 0)  # a broken listener is skipped
    client.get("/health")
    client.get("/no/such/path")
    client.post("/v1/chat/completions", json=CHAT, headers=auth())
    assert wait_for(lambda: len(seen) == 3)
    assert seen == [("/health", 200), (None, 404), ("/v1/chat/completions", 200)]
