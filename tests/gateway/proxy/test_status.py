"""Health, readiness, live engine state and the API's own documentation."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx

from gateway.proxy.engine_state import parse_metrics
from services.fake_engine import RunningFakeEngine
from services.fake_engine.server import free_port
from tests.gateway.proxy.support import auth, build_app, running_gateway

VLLM_METRICS = """\
# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="m"} 3.0
vllm:num_requests_running{engine="1",model_name="m"} 2.0
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="m"} 1.0
# TYPE vllm:num_requests_waiting_by_reason gauge
vllm:num_requests_waiting_by_reason{engine="0",model_name="m",reason="capacity"} 1.0
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{engine="0",model_name="m"} 0.5
vllm:kv_cache_usage_perc{engine="1",model_name="m"} 0.25
# TYPE vllm:prompt_tokens_total counter
vllm:prompt_tokens_total{engine="0",model_name="m"} 1200.0
# TYPE vllm:prompt_tokens_created gauge
vllm:prompt_tokens_created{engine="0",model_name="m"} 1.7e9
# TYPE vllm:generation_tokens_total counter
vllm:generation_tokens_total{engine="0",model_name="m"} 800.0
# TYPE vllm:time_to_first_token_seconds histogram
vllm:time_to_first_token_seconds_bucket{engine="0",le="0.001",model_name="m"} 0.0
"""


def test_vllm_metrics_are_summed_over_engines() -> None:
    sample = parse_metrics(VLLM_METRICS, at=1.0)
    assert (sample.running, sample.waiting) == (5.0, 1.0)
    assert sample.kv_usage == 0.375
    assert (sample.prompt_tokens, sample.generation_tokens) == (1200.0, 800.0)


def test_health_answers_without_a_key(client: httpx.Client) -> None:
    response = client.get("/health")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_ready_when_an_engine_answers(client: httpx.Client) -> None:
    response = client.get("/ready")
    assert response.status_code == 200
    assert response.json()["upstreams_healthy"] == 1


def test_not_ready_while_no_engine_answers() -> None:
    with running_gateway(build_app([f"http://127.0.0.1:{free_port()}"])) as url:
        response = httpx.get(f"{url}/ready")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "not_ready"


def test_engine_state_reports_load_and_token_rates(
    client: httpx.Client, fake_engine: RunningFakeEngine
) -> None:
    assert client.get("/tollgate/engine").status_code == 401
    body = {"model": "fake-model", "messages": [{"role": "user", "content": "hi"}]}
    client.post("/v1/chat/completions", json=body, headers=auth())
    state = client.get("/tollgate/engine", headers=auth()).json()
    (engine,) = state["upstreams"]
    assert engine["healthy"] is True
    assert engine["name"] == fake_engine.removeprefix("http://")
    assert set(engine["models"]) == {"fake-model", "other-model"}
    assert engine["requests_running"] == 0 and engine["requests_waiting"] == 0
    assert 0.0 <= engine["kv_cache_usage"] <= 1.0
    assert engine["prompt_tokens_per_s"] >= 0 and engine["generation_tokens_per_s"] >= 0
    assert datetime.fromisoformat(state["sampled_at"]).utcoffset() == timedelta(0)  # UTC


def test_engine_state_says_unhealthy_for_an_engine_that_is_down() -> None:
    with running_gateway(build_app([f"http://127.0.0.1:{free_port()}"])) as url:
        state = httpx.get(f"{url}/tollgate/engine", headers=auth()).json()
    (engine,) = state["upstreams"]
    assert engine["healthy"] is False and engine["requests_running"] is None


def test_openapi_schema_and_docs_page_are_served(client: httpx.Client) -> None:
    schema = client.get("/schema/openapi.json").json()
    for path in ("/v1/chat/completions", "/v1/models", "/tokenize", "/health", "/tollgate/engine"):
        assert path in schema["paths"]
    docs = client.get("/schema")
    assert docs.status_code == 200 and "text/html" in docs.headers["content-type"]
