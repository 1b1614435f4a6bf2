"""The admission hook on its own: what a finished request is charged, the fail modes, and
settlements replayed once the backend is back."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from gateway.errors import RateLimited
from gateway.limits.admission import Limiter, charged_tokens
from gateway.limits.backend import BackendUnavailable
from gateway.limits.checks import Check, Verdict
from gateway.limits.errors import LimiterUnavailable
from gateway.limits.estimate import TokenEstimator
from gateway.limits.memory import MemoryBackend
from gateway.limits.metrics import LimiterMetrics
from gateway.limits.policy import LimitPolicy
from gateway.observability.context import Usage
from gateway.proxy.hooks import ProxyOutcome, ProxyRequest
from shared.settings import LimitSettings
from tests.gateway.limits.support import principal

ALICE = principal("alice", rpm=5, daily_tokens=10_000)


class FlakyBackend(MemoryBackend):
    """The in-process store, with an off switch."""

    def __init__(self) -> None:
        super().__init__()
        self.broken = False
        self.calls = 0

    def _maybe_fail(self) -> None:
        self.calls += 1
        if self.broken:
            raise BackendUnavailable("ConnectionError: refused")

    async def acquire(self, checks: Sequence[Check], lease: str) -> Verdict:
        self._maybe_fail()
        return await super().acquire(checks, lease)

    async def settle(self, checks: Sequence[Check], deltas: Sequence[int], lease: str) -> None:
        self._maybe_fail()
        await super().settle(checks, deltas, lease)


def limiter(backend: MemoryBackend, **settings: Any) -> tuple[Limiter, CollectorRegistry]:
    registry = CollectorRegistry()
    metrics = LimiterMetrics(registry)
    return Limiter(LimitSettings(**settings), backend, LimitPolicy(), metrics), registry


def request(body_bytes: int = 400, max_tokens: int | None = 100) -> ProxyRequest:
    return ProxyRequest("r1", ALICE, "/v1/chat/completions", "m", body_bytes, max_tokens=max_tokens)


def outcome(**fields: Any) -> ProxyOutcome:
    base: dict[str, Any] = {
        "request_id": "r1",
        "principal": ALICE,
        "route": "/v1/chat/completions",
        "model": "m",
        "upstream": "127.0.0.1:8000",
        "status": 200,
        "usage": None,
        "started_at": datetime.now(UTC),
        "latency_ms": 1.0,
        "ttfb_ms": 1.0,
        "stream": False,
        "client_disconnected": False,
        "error": None,
        "request_bytes": 400,
    }
    return ProxyOutcome(**(base | fields))


ESTIMATE = TokenEstimator(LimitSettings())


@pytest.mark.parametrize(
    ("fields", "charged"),
    [
        ({"usage": Usage(prompt_tokens=30, completion_tokens=12)}, 42),
        ({"upstream": None, "status": 503}, 0),  # never reached an engine
        ({"status": 400}, 0),  # the engine refused it
        ({"stream": True, "client_disconnected": True, "status": 499, "stream_events": 7}, 107),
        ({"client_disconnected": True, "status": 499}, None),  # plain answer abandoned
        ({"status": 504, "error": "engine_timeout"}, None),
    ],
)
def test_what_a_finished_request_is_charged(fields: dict[str, Any], charged: int | None) -> None:
    assert charged_tokens(outcome(**fields), ESTIMATE) == charged


def test_a_request_that_never_reached_the_engine_costs_nothing() -> None:
    assert charged_tokens(None, ESTIMATE) == 0


def test_the_estimate_is_body_bytes_over_four_plus_the_answer_and_capped() -> None:
    estimate = TokenEstimator(
        LimitSettings(completion_estimate_tokens=500, max_estimate_tokens=900)
    )
    assert estimate(request(400, 100)) == 200
    assert estimate(request(400, None)) == 600
    assert estimate(request(40_000, None)) == 900
    n3 = ProxyRequest("r", ALICE, "/v1/completions", "m", 40, max_tokens=10, n=3)
    assert estimate(n3) == 40
    listing = ProxyRequest("r", ALICE, "/v1/models", None, 0)
    assert estimate(listing) == 0


async def test_fail_open_serves_counts_and_stops_asking_for_a_while() -> None:
    backend = FlakyBackend()
    hook, registry = limiter(backend, redis_retry_s=60)
    backend.broken = True
    assert await hook.admit(request()) is None  # served, unchecked
    assert await hook.admit(request()) is None
    assert backend.calls == 1  # the second did not wait for a broken backend
    errors = {"operation": "admit"}
    assert registry.get_sample_value("tollgate_ratelimit_backend_errors_total", errors) == 1
    served = {"fail_mode": "open"}
    assert registry.get_sample_value("tollgate_ratelimit_unenforced_total", served) == 2


async def test_fail_closed_refuses_with_503() -> None:
    backend = FlakyBackend()
    hook, _ = limiter(backend, fail_mode="closed")
    backend.broken = True
    with pytest.raises(LimiterUnavailable) as refused:
        await hook.admit(request())
    assert refused.value.status == 503 and refused.value.headers["retry-after"] == "1"


async def test_settlements_that_failed_are_replayed_when_the_backend_is_back() -> None:
    backend = FlakyBackend()
    hook, _ = limiter(backend, redis_retry_s=0)
    capped = principal("alice", max_concurrency=1)
    one = ProxyRequest("r1", capped, "/v1/chat/completions", "m", 100, max_tokens=5)
    ticket = await hook.admit(one)
    assert ticket is not None and ticket.release is not None
    backend.broken = True
    await ticket.release(outcome(usage=Usage(3, 4)))
    assert hook.pending_settlements == 1
    backend.broken = False
    with pytest.raises(RateLimited):  # the slot is still taken
        await hook.admit(one)
    await hook._replay()
    assert hook.pending_settlements == 0
    assert await hook.admit(one) is not None


async def test_a_request_refused_by_a_later_hook_gives_its_request_back() -> None:
    hook, _ = limiter(MemoryBackend())
    one_rpm = principal("alice", rpm=1)
    ask = ProxyRequest("r1", one_rpm, "/v1/chat/completions", "m", 100, max_tokens=5)
    ticket = await hook.admit(ask)
    assert ticket is not None and ticket.release is not None
    await ticket.release(None)  # e.g. a fair queue refused it: it never reached the engine
    assert await hook.admit(ask) is not None
