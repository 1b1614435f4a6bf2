"""Limits, the fair queue, metrics and the ledger join the proxy as stages of its pipeline,
written down once by the composition root (gateway/wiring.py)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from gateway.errors import RateLimited
from gateway.proxy.hooks import (
    Admission,
    Observer,
    ProxyOutcome,
    ProxyPipeline,
    ProxyRequest,
    Stage,
    Ticket,
)
from gateway.wiring import StandIns
from services.fake_engine import RunningFakeEngine
from shared.settings import SchedulingSettings, Settings
from tests.gateway.proxy.support import (
    BOB,
    BOB_KEY,
    auth,
    build_app,
    running_gateway,
    wait_for,
)

CHAT = {"model": "fake-model", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 3}


@contextlib.contextmanager
def client_with(
    engine: str,
    *,
    admissions: tuple[Admission, ...] = (),
    observers: tuple[Observer, ...] = (),
    **stand_ins: Any,
) -> Iterator[httpx.Client]:
    """A client of a gateway whose pipeline ends with these extra stages."""
    extra = StandIns(
        admissions=[Stage(f"test{i}", run) for i, run in enumerate(admissions)],
        observers=[Stage(f"test{i}", run) for i, run in enumerate(observers)],
        **stand_ins,
    )
    with (
        running_gateway(build_app([engine], stand_ins=extra)) as gateway,
        httpx.Client(base_url=gateway, timeout=10) as client,
    ):
        yield client


def test_the_pipeline_is_written_down_once_in_order() -> None:
    from gateway.app import create_app

    app = create_app(Settings(upstreams=["http://127.0.0.1:9"]))
    assert app.parts.pipeline.names() == (
        ("limits", "fair_queue", "in_flight_metric"),
        ("metrics", "ledger"),
    )
    # Fair queueing off: the root leaves its stage out, nobody removes it later.
    off = Settings(upstreams=["http://127.0.0.1:9"], scheduling=SchedulingSettings(enabled=False))
    assert create_app(off).parts.pipeline.names()[0] == ("limits", "in_flight_metric")


async def test_releases_run_in_reverse_order_of_admission() -> None:
    order: list[str] = []

    def stage(name: str) -> Stage[Admission]:
        async def admit(_: ProxyRequest) -> Ticket:
            order.append(f"admit {name}")

            async def release(_: ProxyOutcome | None) -> None:
                order.append(f"release {name}")

            return Ticket(release=release)

        return Stage(name, admit)

    async def refuse(_: ProxyRequest) -> Ticket | None:
        raise RateLimited("Slow down.")

    pipeline = ProxyPipeline([stage("a"), stage("b"), Stage("refuse", refuse)])
    request = ProxyRequest("r", BOB, "/v1/chat/completions", "m", 2)
    with pytest.raises(RateLimited):
        await pipeline.admit(request)
    assert order == ["admit a", "admit b", "release b", "release a"]


def test_observers_get_one_outcome_per_request_with_usage(
    fake_engine: RunningFakeEngine,
) -> None:
    outcomes: list[ProxyOutcome] = []
    with client_with(fake_engine, observers=(outcomes.append,)) as client:
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


def test_an_observer_that_fails_does_not_fail_the_request(fake_engine: RunningFakeEngine) -> None:
    def broken(_: ProxyOutcome) -> None:
        raise RuntimeError("ledger down")

    with client_with(fake_engine, observers=(broken,)) as client:
        assert client.post("/v1/chat/completions", json=CHAT, headers=auth()).status_code == 200


def test_an_admission_hook_can_refuse_before_the_engine_is_called(
    fake_engine: RunningFakeEngine,
) -> None:
    async def limit(request: ProxyRequest) -> Ticket | None:
        raise RateLimited("Slow down.", headers={"retry-after": "7"})

    with client_with(fake_engine, admissions=(limit,)) as client:
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

    app = build_app([fake_engine], stand_ins=StandIns(admissions=[Stage("test", admit)]))
    with running_gateway(app) as url:
        response = httpx.post(
            f"{url}/v1/chat/completions", json={**CHAT, "stream": stream}, headers=auth()
        )
        assert response.headers["x-ratelimit-remaining-requests"] == "9"
        assert wait_for(lambda: len(released) == 1)
    assert released[0] is not None and released[0].status == 200


def test_queue_time_in_admission_hooks_is_reported(fake_engine: RunningFakeEngine) -> None:
    outcomes: list[ProxyOutcome] = []

    async def queue(_: ProxyRequest) -> None:
        await asyncio.sleep(0.05)  # a fair queue waiting for a slot

    with client_with(fake_engine, admissions=(queue,), observers=(outcomes.append,)) as client:
        client.post("/v1/chat/completions", json=CHAT, headers=auth())
        assert wait_for(lambda: len(outcomes) == 1)
    assert (
        outcomes[0].queued_ms is not None and outcomes[0].queued_ms >= 45
    )  # uvloop may fire a timer a fraction early


def test_request_listeners_see_every_http_request(fake_engine: RunningFakeEngine) -> None:
    seen: list[tuple[str | None, int]] = []
    listeners = (
        lambda record, scope: seen.append((record.route, record.status)),
        lambda record, scope: 1 / 0,  # a broken listener is skipped
    )
    with client_with(fake_engine, request_listeners=listeners) as client:
        client.get("/health")
        client.get("/no/such/path")
        client.post("/v1/chat/completions", json=CHAT, headers=auth())
        assert wait_for(lambda: len(seen) == 3)
    assert seen == [("/health", 200), (None, 404), ("/v1/chat/completions", 200)]
