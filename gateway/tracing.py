"""Optional OpenTelemetry tracing: off by default, spans exported over OTLP when configured.

With `TOLLGATE_TRACING__ENABLED=true` (and the `otel` extra installed) every routed HTTP request
gets a server span (continuing a caller's `traceparent`), with child spans where time goes:
`tollgate.auth` (the key lookup), `tollgate.admission` (rate limits, queueing) and
`tollgate.upstream` (the engine, until its response headers). Every span carries the request
id, so a trace and the request's log line and ledger row find each other.

OpenTelemetry is imported only when tracing is enabled. `span()` is what the call sites use:
while tracing is off it returns one shared no-op context manager, so the hot path pays a
function call. The tracer is module state because OpenTelemetry's provider is process-global.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import structlog
from litestar import Litestar
from litestar.config.app import AppConfig
from litestar.plugins import InitPluginProtocol

from gateway.observability.context import record_of
from shared.logging import get_logger
from shared.settings import TracingSettings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

_log = get_logger("tollgate.tracing")
_NOOP: contextlib.nullcontext[None] = contextlib.nullcontext()
REQUEST_ID_ATTRIBUTE = "tollgate.request_id"


class _State:
    tracer: Any | None = None
    provider: TracerProvider | None = None


_state = _State()


class TracingUnavailable(RuntimeError):
    """Tracing is enabled but OpenTelemetry is not installed."""


def enabled() -> bool:
    return _state.tracer is not None


def span(name: str, **attributes: Any) -> contextlib.AbstractContextManager[Any]:
    """A child span of the current request (a no-op while tracing is off)."""
    tracer = _state.tracer
    if tracer is None:
        return _NOOP
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    if request_id is not None:
        attributes[REQUEST_ID_ATTRIBUTE] = request_id
    return tracer.start_as_current_span(
        name, attributes={k: v for k, v in attributes.items() if v is not None}
    )


def _exporter(settings: TracingSettings) -> SpanExporter:
    if settings.protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # type: ignore[assignment]
            OTLPSpanExporter,
        )
    return OTLPSpanExporter(endpoint=settings.endpoint) if settings.endpoint else OTLPSpanExporter()


def configure_tracing(
    settings: TracingSettings, *, exporter: SpanExporter | None = None
) -> TracerProvider:
    """Install a tracer provider exporting to OTLP (or to `exporter`, e.g. in tests)."""
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
        from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
    except ImportError as exc:
        raise TracingUnavailable(
            "tracing is enabled but OpenTelemetry is not installed: "
            "pip install 'tollgate[otel]' (or set TOLLGATE_TRACING__ENABLED=false)"
        ) from exc
    provider = TracerProvider(
        resource=Resource.create({"service.name": settings.service_name}),
        sampler=ParentBased(TraceIdRatioBased(settings.sample_ratio)),
    )
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        provider.add_span_processor(BatchSpanProcessor(_exporter(settings)))
    _state.provider = provider
    _state.tracer = provider.get_tracer("tollgate.gateway")
    return provider


def shutdown_tracing() -> None:
    """Export what is pending and switch tracing off."""
    provider = _state.provider
    _state.tracer = None
    _state.provider = None
    if provider is not None:
        provider.shutdown()


class TracingMiddleware:
    """The server span around one routed request (auth, admission, upstream are its children)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        tracer = _state.tracer
        if tracer is None or scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from opentelemetry import propagate
        from opentelemetry.trace import SpanKind, Status, StatusCode

        carrier = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        route = scope.get("path_template") or scope["path"]
        status = 500

        async def send_status(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        with tracer.start_as_current_span(
            f"{scope['method']} {route}",
            context=propagate.extract(carrier),
            kind=SpanKind.SERVER,
            attributes={"http.request.method": scope["method"], "http.route": route},
        ) as server_span:
            try:
                await self.app(scope, receive, send_status)
            finally:
                server_span.set_attribute("http.response.status_code", status)
                _describe(server_span, scope)
                if status >= 500:
                    server_span.set_status(Status(StatusCode.ERROR))


def _describe(server_span: Any, scope: Any) -> None:
    record = record_of(scope)
    if record is None:
        return
    server_span.set_attribute(REQUEST_ID_ATTRIBUTE, record.request_id)
    values = {
        "tollgate.key_id": record.principal.id if record.principal else None,
        "tollgate.model": record.model,
        "tollgate.upstream": record.upstream,
        "tollgate.stream": record.stream,
        "tollgate.error": record.error,
        "gen_ai.usage.input_tokens": record.usage.prompt_tokens if record.usage else None,
        "gen_ai.usage.output_tokens": record.usage.completion_tokens if record.usage else None,
    }
    for key, value in values.items():
        if value is not None:
            server_span.set_attribute(key, value)


class TracingPlugin(InitPluginProtocol):
    """Sets up tracing when enabled; does nothing otherwise."""

    def __init__(self, settings: TracingSettings, *, exporter: SpanExporter | None = None) -> None:
        self._settings = settings
        self._exporter = exporter

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        if not self._settings.enabled:
            return app_config
        try:
            configure_tracing(self._settings, exporter=self._exporter)
        except TracingUnavailable as exc:
            # Observability must not take the gateway down: serve, and say so loudly.
            _log.error("tracing not started", reason=str(exc))
            return app_config
        _log.info(
            "tracing enabled",
            endpoint=self._settings.endpoint or "OTEL_EXPORTER_OTLP_* / default",
            protocol=self._settings.protocol,
            sample_ratio=self._settings.sample_ratio,
        )
        app_config.middleware.append(TracingMiddleware)
        app_config.lifespan.append(self._lifespan)
        return app_config

    @contextlib.asynccontextmanager
    async def _lifespan(self, _app: Litestar) -> AsyncIterator[None]:
        try:
            yield
        finally:
            shutdown_tracing()
