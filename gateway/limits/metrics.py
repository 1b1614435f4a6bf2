"""The limiter's Prometheus metrics. Labels are bounded: operations, limit kinds, scope levels,
fail modes; never a key, key id or team name."""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter


class LimiterMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.backend_errors = Counter(
            "tollgate_ratelimit_backend_errors",
            "Failed calls to the rate-limit backend (Redis), by operation",
            ["operation"],
            registry=registry,
        )
        self.unenforced = Counter(
            "tollgate_ratelimit_unenforced",
            "Requests of limited keys the backend could not check: served (open) or refused "
            "with 503 (closed), by fail mode",
            ["fail_mode"],
            registry=registry,
        )
        self.rejections = Counter(
            "tollgate_ratelimit_rejections",
            "Requests refused with 429, by the limit that was hit and whose it was",
            ["limit", "scope"],
            registry=registry,
        )
        self.auth_blocked = Counter(
            "tollgate_auth_failures_blocked",
            "Requests refused with 429 because their address failed authentication too often",
            registry=registry,
        )


_default: LimiterMetrics | None = None


def default_metrics() -> LimiterMetrics:
    """The metrics on prometheus_client's default registry, created once per process (several
    apps in one process, as in tests, share them)."""
    global _default
    if _default is None:
        _default = LimiterMetrics(REGISTRY)
    return _default
