"""Optional OpenTelemetry tracing: off by default; when on, one trace per request with spans for
auth, admission and the upstream call, each carrying the request id."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from gateway import tracing
from gateway.app import create_app
from gateway.wiring import StandIns
from services.fake_engine import FakeEngineConfig, RunningFakeEngine, running_fake_engine
from shared.settings import Settings, TracingSettings
from tests.gateway.proxy.support import RunningGateway, running_gateway

ADMIN = {"authorization": "Bearer admin-token-for-tracing"}
CHAT = {"model": "fake-model", "messages": [{"role": "user", "content": "hi"}]}
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.fixture
def engine() -> Iterator[RunningFakeEngine]:
    with running_fake_engine(FakeEngineConfig()) as url:
        yield url


def settings(engine: str, data_dir: Path) -> Settings:
    return Settings(upstreams=[engine], data_dir=data_dir, admin_token="admin-token-for-tracing")


def test_tracing_is_off_by_default(engine: RunningFakeEngine, tmp_path: Path) -> None:
    assert Settings().tracing.enabled is False
    with running_gateway(create_app(settings(engine, tmp_path))):
        assert tracing.enabled() is False
        assert tracing.span("anything") is tracing.span("else")  # one shared no-op


def test_a_request_becomes_one_trace_with_auth_admission_and_upstream_spans(
    engine: RunningFakeEngine, tmp_path: Path
) -> None:
    exporter = InMemorySpanExporter()
    traced = settings(engine, tmp_path).model_copy(
        update={"tracing": TracingSettings(enabled=True)}
    )
    app = create_app(traced, stand_ins=StandIns(span_exporter=exporter))
    gateway: RunningGateway
    with running_gateway(app) as gateway:
        created = httpx.post(f"{gateway}/admin/keys", json={"name": "t"}, headers=ADMIN).json()
        exporter.clear()
        response = httpx.post(
            f"{gateway}/v1/chat/completions",
            json=CHAT,
            headers={
                "authorization": f"Bearer {created['key']}",
                "traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-01",
            },
        )
        assert response.status_code == 200
    assert tracing.enabled() is False  # the app's shutdown switched it off again
    request_id = response.headers["x-request-id"]
    spans = {span.name: span for span in exporter.get_finished_spans()}
    assert {"tollgate.auth", "tollgate.admission", "tollgate.upstream"} <= set(spans)
    server = spans["POST /v1/chat/completions"]
    assert format(server.context.trace_id, "032x") == TRACE_ID  # the caller's trace goes on
    assert server.attributes["tollgate.request_id"] == request_id
    assert server.attributes["http.response.status_code"] == 200
    assert server.attributes["tollgate.key_id"] == created["id"]
    for name in ("tollgate.auth", "tollgate.admission", "tollgate.upstream"):
        child = spans[name]
        assert child.parent is not None and child.parent.span_id == server.context.span_id
        assert child.attributes["tollgate.request_id"] == request_id
    assert spans["tollgate.upstream"].attributes["upstream"] == httpx.URL(engine).netloc.decode()
    for span in spans.values():  # the key never becomes an attribute
        assert created["key"] not in str(dict(span.attributes or {}))
