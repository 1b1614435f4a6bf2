"""Every metric the gateway exports, defined once on a registry of its own.

One registry per app (not prometheus_client's global one), so tests and several apps in one
process never collide. With several worker processes, prometheus_client's multiprocess mode
(PROMETHEUS_MULTIPROC_DIR, set by the gateway launcher) keeps each value in a per-process
file and `/metrics` sums them; gauges say how (`livesum`: in-flight counts add up across
workers; `livemostrecent`: health is whatever a worker saw last).

Labels are bounded: routes are the gateway's route templates, models only those the engines
serve (else "other"), statuses are numbers, error kinds are the gateway's own codes. Never a
key, a key id, a team name or any text a client typed.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# Seconds. Latency spans instant errors to long generations; TTFT is mostly sub-second.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
TTFT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 10, 30, 60)
WAIT_BUCKETS = (0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60)


class GatewayMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "tollgate_requests",
            "Proxied requests, by route, model and the status the client got (499: it left)",
            ["route", "model", "status"],
            registry=r,
        )
        self.http_requests = Counter(
            "tollgate_http_requests",
            "Every HTTP request the gateway answered, by route template, method and status",
            ["route", "method", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "tollgate_request_duration_seconds",
            "Time from a proxied request's arrival to its last byte (streams: the whole stream)",
            ["route", "model"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.ttft = Histogram(
            "tollgate_time_to_first_token_seconds",
            "Time from a streamed request's arrival to the engine's first chunk",
            ["route", "model"],
            buckets=TTFT_BUCKETS,
            registry=r,
        )
        self.admission_wait = Histogram(
            "tollgate_admission_wait_seconds",
            "Time a request spent in admission (rate limits, queueing) before the engine",
            ["tier"],
            buckets=WAIT_BUCKETS,
            registry=r,
        )
        self.prompt_tokens = Counter(
            "tollgate_prompt_tokens",
            "Prompt (input) tokens, as the engine reported them or estimated when it did not",
            ["model"],
            registry=r,
        )
        self.completion_tokens = Counter(
            "tollgate_completion_tokens",
            "Completion (output) tokens, as the engine reported them or estimated when it did not",
            ["model"],
            registry=r,
        )
        self.cached_tokens = Counter(
            "tollgate_cached_prompt_tokens",
            "Prompt tokens the engine served from its prefix cache (when it reports them)",
            ["model"],
            registry=r,
        )
        self.estimated = Counter(
            "tollgate_usage_estimated_requests",
            "Requests whose token counts were estimated because the engine reported none",
            ["model"],
            registry=r,
        )
        self.in_flight = Gauge(
            "tollgate_requests_in_flight",
            "Proxied requests admitted and not yet finished",
            ["route"],
            multiprocess_mode="livesum",
            registry=r,
        )
        self.rate_limited = Counter(
            "tollgate_rate_limited",
            "Requests refused with 429, by the limit's error code",
            ["reason"],
            registry=r,
        )
        self.upstream_errors = Counter(
            "tollgate_upstream_errors",
            "Proxied requests that failed at or behind the engine, by upstream and kind",
            ["upstream", "kind"],
            registry=r,
        )
        self.client_disconnects = Counter(
            "tollgate_client_disconnects",
            "Proxied requests whose client went away before the answer ended",
            ["route"],
            registry=r,
        )
        self.upstream_healthy = Gauge(
            "tollgate_upstream_healthy",
            "1 while an engine passes its health checks, else 0",
            ["upstream"],
            multiprocess_mode="livemostrecent",
            registry=r,
        )
        self.upstream_in_flight = Gauge(
            "tollgate_upstream_in_flight",
            "Requests under way at each engine (sampled)",
            ["upstream"],
            multiprocess_mode="livesum",
            registry=r,
        )
        self.ledger_written = Counter(
            "tollgate_usage_rows_written",
            "Usage-ledger rows written to the database",
            registry=r,
        )
        self.ledger_dropped = Counter(
            "tollgate_usage_rows_dropped",
            "Usage-ledger rows lost (buffer full while the database was down, or shutdown)",
            ["reason"],
            registry=r,
        )
        self.ledger_failures = Counter(
            "tollgate_usage_write_failures",
            "Failed usage-ledger batch writes (retried)",
            registry=r,
        )
        self.ledger_pending = Gauge(
            "tollgate_usage_rows_pending",
            "Usage-ledger rows waiting to be written",
            multiprocess_mode="livesum",
            registry=r,
        )
