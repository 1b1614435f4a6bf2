"""Turning what the gateway sees into metric updates.

- `observe(outcome)`: a proxy observer (one finished proxied request);
- `admit(request)`: a proxy admission that only counts the request as in flight until done;
- `http_finished(record, scope)`: every HTTP request, from the request-context middleware;
- `LedgerMetrics`: how the usage-ledger writer reports written, failed and dropped rows;
- `sample_upstreams(pool)`: engine health and load, refreshed by a background task.
"""

from __future__ import annotations

from typing import Any

from gateway.metrics.labels import CodeLabels, ModelLabels, method_label, status_label, tier_label
from gateway.metrics.registry import GatewayMetrics
from gateway.observability.context import RequestRecord
from gateway.proxy.hooks import ProxyOutcome, ProxyRequest, Ticket
from gateway.proxy.upstreams import UpstreamPool
from gateway.usage.records import estimate_tokens, needs_estimate

UNMATCHED = "unmatched"


class MetricsRecorder:
    def __init__(self, metrics: GatewayMetrics, pool: UpstreamPool | None = None) -> None:
        self.metrics = metrics
        self.models = ModelLabels(lambda: _served_models(pool) if pool is not None else ())
        self._codes = CodeLabels()
        # Labelled children by (metric, labels): prometheus_client's own lookup takes a lock
        # and builds a tuple per call; the label values are bounded, so this dict is too.
        self._children: dict[tuple[Any, ...], Any] = {}

    def _child(self, metric: Any, *labels: str) -> Any:
        key = (metric, *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    # -- proxied requests --------------------------------------------------------------------

    def observe(self, outcome: ProxyOutcome) -> None:
        m = self.metrics
        route = outcome.route
        model = self.models(outcome.model)
        child = self._child
        child(m.requests, route, model, status_label(outcome.status)).inc()
        child(m.latency, route, model).observe(outcome.latency_ms / 1000.0)
        if outcome.stream and outcome.ttfb_ms is not None:
            child(m.ttft, route, model).observe(outcome.ttfb_ms / 1000.0)
        if outcome.queued_ms is not None:
            tier = tier_label(outcome.principal.tier)
            child(m.admission_wait, tier).observe(outcome.queued_ms / 1000.0)
        self._tokens(outcome, model)
        if outcome.client_disconnected:
            m.client_disconnects.labels(route).inc()
        elif outcome.status == 429:
            m.rate_limited.labels(self._codes(outcome.error or "rate_limited")).inc()
        elif outcome.status >= 500:
            kind = self._codes(outcome.error or f"status_{outcome.status}")
            m.upstream_errors.labels(outcome.upstream or "none", kind).inc()

    def _tokens(self, outcome: ProxyOutcome, model: str) -> None:
        m = self.metrics
        usage = outcome.usage
        prompt: int | None
        completion: int | None
        cached: int | None
        if needs_estimate(outcome):
            prompt, completion = estimate_tokens(outcome)
            cached = None
            m.estimated.labels(model).inc()
        elif usage is not None:
            prompt, completion, cached = (
                usage.prompt_tokens,
                usage.completion_tokens,
                usage.cached_tokens,
            )
        else:
            return
        if prompt:
            self._child(m.prompt_tokens, model).inc(prompt)
        if completion:
            self._child(m.completion_tokens, model).inc(completion)
        if cached:
            self._child(m.cached_tokens, model).inc(cached)

    async def admit(self, request: ProxyRequest) -> Ticket:
        gauge = self._child(self.metrics.in_flight, request.route)
        gauge.inc()

        async def release(_outcome: ProxyOutcome | None) -> None:
            gauge.dec()

        return Ticket(release=release)

    # -- every HTTP request -------------------------------------------------------------------

    def http_finished(self, record: RequestRecord, scope: dict[str, Any]) -> None:
        # Litestar's route template once routed; an unknown path is one label, not its text.
        route = record.route or scope.get("path_template") or UNMATCHED
        self.metrics.http_requests.labels(
            route, method_label(record.method), status_label(record.status or 500)
        ).inc()

    # -- engines ------------------------------------------------------------------------------

    def sample_upstreams(self, pool: UpstreamPool) -> None:
        for upstream in pool:
            self.metrics.upstream_healthy.labels(upstream.name).set(1 if upstream.healthy else 0)
            self.metrics.upstream_in_flight.labels(upstream.name).set(upstream.in_flight)


def _served_models(pool: UpstreamPool) -> list[str]:
    return [model for upstream in pool for model in upstream.models]


class LedgerMetrics:
    """The usage-ledger writer's `LedgerSink`."""

    def __init__(self, metrics: GatewayMetrics) -> None:
        self._m = metrics

    def written(self, rows: int) -> None:
        self._m.ledger_written.inc(rows)

    def dropped(self, rows: int, reason: str) -> None:
        if rows:
            self._m.ledger_dropped.labels(reason).inc(rows)

    def write_failed(self) -> None:
        self._m.ledger_failures.inc()

    def buffered(self, rows: int) -> None:
        self._m.ledger_pending.set(rows)
