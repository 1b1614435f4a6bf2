"""`/metrics` after known traffic: requests, latency and TTFT histograms, tokens, errors, health,
with bounded labels that never carry a key."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from services.fake_engine import FakeEngineConfig, RunningFakeEngine, running_fake_engine
from tests.gateway.proxy.support import (
    ALICE,
    ALICE_KEY,
    RunningGateway,
    auth,
    build_app,
    running_gateway,
)

CHAT = {"model": "fake-model", "messages": [{"role": "user", "content": "hi"}]}
ROUTE = "/v1/chat/completions"


@pytest.fixture
def gateway() -> Iterator[RunningGateway]:
    config = FakeEngineConfig(models=("fake-model", "other-model"))
    engine: RunningFakeEngine
    with running_fake_engine(config) as engine, running_gateway(build_app([engine])) as url:
        yield url


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """(sample name, labels) -> value."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(
    found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def test_metrics_count_known_traffic(gateway: RunningGateway) -> None:
    prompt = completion = 0
    with httpx.Client(base_url=gateway, headers=auth(), timeout=30) as client:
        for _ in range(3):
            usage = client.post(ROUTE, json=CHAT).json()["usage"]
            prompt += usage["prompt_tokens"]
            completion += usage["completion_tokens"]
        for _ in range(2):
            body = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}
            text = client.post(ROUTE, json=body).text
            usage = json.loads([line for line in text.splitlines() if '"usage"' in line][-1][5:])[
                "usage"
            ]
            prompt += usage["prompt_tokens"]
            completion += usage["completion_tokens"]
        assert (
            client.post(ROUTE, json=CHAT, headers={"x-fake-fault": "status-503"}).status_code == 503
        )
        assert client.post(ROUTE, json={**CHAT, "model": "made-up"}).status_code == 404
        assert client.post(ROUTE, json=CHAT, headers=auth("tg-" + "z" * 43)).status_code == 401
        assert client.get("/no/such/route").status_code == 404
        response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    found = samples(response.text)

    assert (
        value(found, "tollgate_requests_total", route=ROUTE, model="fake-model", status="200") == 5
    )
    assert (
        value(found, "tollgate_requests_total", route=ROUTE, model="fake-model", status="503") == 1
    )
    assert value(found, "tollgate_requests_total", route=ROUTE, model="other", status="404") == 1
    assert (
        value(found, "tollgate_request_duration_seconds_count", route=ROUTE, model="fake-model")
        == 6
    )
    assert (
        value(found, "tollgate_time_to_first_token_seconds_count", route=ROUTE, model="fake-model")
        == 2
    )
    assert value(found, "tollgate_prompt_tokens_total", model="fake-model") == prompt
    assert value(found, "tollgate_completion_tokens_total", model="fake-model") == completion
    upstream = gateway.app.parts.router.pool.upstreams[0].name
    assert value(found, "tollgate_upstream_errors_total", upstream=upstream, kind="engine_503") == 1
    assert value(found, "tollgate_requests_in_flight", route=ROUTE) == 0
    assert (
        value(found, "tollgate_http_requests_total", route=ROUTE, method="POST", status="401") == 1
    )
    assert (
        value(found, "tollgate_http_requests_total", route="unmatched", method="GET", status="404")
        == 1
    )
    assert value(found, "tollgate_upstream_healthy", upstream=upstream) == 1
    # No key, key id, key name or prompt text anywhere in the exposition.
    for secret in (ALICE_KEY, ALICE.id, ALICE.name, "made-up", 'hi"'):
        assert secret not in response.text


def test_made_up_model_names_share_one_label(gateway: RunningGateway) -> None:
    with httpx.Client(base_url=gateway, headers=auth(), timeout=30) as client:
        for i in range(30):
            client.post(ROUTE, json={**CHAT, "model": f"guess-{i}"})
        found = samples(client.get("/metrics").text)
    models = {dict(labels)["model"] for name, labels in found if name == "tollgate_requests_total"}
    assert models == {"other"}
    assert value(found, "tollgate_requests_total", route=ROUTE, model="other", status="404") == 30


def test_rate_limited_and_abandoned_requests_are_counted() -> None:
    from gateway.errors import RateLimited
    from gateway.proxy.hooks import ProxyRequest, Stage, Ticket
    from gateway.wiring import StandIns

    async def refuse_second(request: ProxyRequest) -> Ticket | None:
        if request.model == "other-model":
            raise RateLimited("Too many requests.", code="rpm")
        return None

    config = FakeEngineConfig(models=("fake-model", "other-model"))
    stand_ins = StandIns(admissions=[Stage("refuse_second", refuse_second)])
    with (
        running_fake_engine(config) as engine,
        running_gateway(build_app([engine], stand_ins=stand_ins)) as gateway,
        httpx.Client(base_url=gateway, headers=auth(), timeout=30) as client,
    ):
        assert client.post(ROUTE, json={**CHAT, "model": "other-model"}).status_code == 429
        body = {**CHAT, "max_tokens": 500, "stream": True}
        with client.stream("POST", ROUTE, json=body, headers={"x-fake-itl-ms": "20"}) as stream:
            for _ in stream.iter_lines():
                break
        found: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
        for _ in range(100):  # the disconnect is noticed a moment later
            found = samples(client.get("/metrics").text)
            if value(found, "tollgate_client_disconnects_total", route=ROUTE):
                break
    assert value(found, "tollgate_rate_limited_total", reason="rpm") == 1
    assert value(found, "tollgate_client_disconnects_total", route=ROUTE) == 1
    assert value(found, "tollgate_usage_estimated_requests_total", model="fake-model") == 1
    assert value(found, "tollgate_requests_in_flight", route=ROUTE) == 0
