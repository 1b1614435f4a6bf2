"""Redis failing never breaks serving: fail-open serves (warning + metric), fail-closed answers
503 in OpenAI's shape, a hung Redis costs a short timeout, and limits return with Redis."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
from prometheus_client import REGISTRY

from services.fake_engine import RunningFakeEngine
from tests.gateway.limits.support import (
    auth,
    chat,
    limited_client,
    own_redis,
    principal,
)
from tests.gateway.proxy.support import LogCapture, wait_for


def backend_errors(operation: str) -> float:
    value = REGISTRY.get_sample_value(
        "tollgate_ratelimit_backend_errors_total", {"operation": operation}
    )
    return value or 0.0


def unenforced(mode: str) -> float:
    return (
        REGISTRY.get_sample_value("tollgate_ratelimit_unenforced_total", {"fail_mode": mode}) or 0.0
    )


def post(client: httpx.Client, name: str = "alice") -> httpx.Response:
    return client.post("/v1/chat/completions", json=chat(), headers=auth(name))


def test_fail_open_serves_while_redis_is_down_and_limits_again_when_it_is_back(
    fake_engine: RunningFakeEngine, tmp_path: Path, logs: LogCapture
) -> None:
    with (
        own_redis(tmp_path) as redis,
        limited_client(
            fake_engine, principal("alice", rpm=2), redis_url=redis.url, redis_retry_s=0.2
        ) as client,
    ):
        assert [post(client).status_code for _ in range(3)] == [200, 200, 429]
        errors_before, served_before = backend_errors("admit"), unenforced("open")
        redis.kill()
        down = [post(client) for _ in range(5)]
        assert [r.status_code for r in down] == [200] * 5
        assert "x-ratelimit-limit-requests" not in down[0].headers  # nothing was checked
        assert backend_errors("admit") > errors_before
        assert unenforced("open") >= served_before + 5
        warnings = [line for line in logs.lines if "rate-limit backend unreachable" in line]
        assert len(warnings) == 1  # once per outage, not per request
        assert "fail_mode" in warnings[0] and "redis" in warnings[0]

        redis.start()  # an empty Redis on the same port: counters start afresh
        assert wait_for(lambda: post(client).status_code == 429, timeout_s=10)
        assert any("rate-limit backend reachable again" in line for line in logs.lines)


def test_fail_closed_refuses_limited_keys_with_503_and_serves_unlimited_ones(
    fake_engine: RunningFakeEngine, tmp_path: Path
) -> None:
    with (
        own_redis(tmp_path) as redis,
        limited_client(
            fake_engine,
            principal("alice", rpm=100),
            principal("bob"),
            redis_url=redis.url,
            fail_mode="closed",
        ) as client,
    ):
        assert post(client).status_code == 200
        redis.kill()
        refused = post(client)
        assert refused.status_code == 503
        assert refused.json() == {
            "error": {
                "message": refused.json()["error"]["message"],
                "type": "limits_unavailable",
                "param": None,
                "code": "rate_limiter_unavailable",
            }
        }
        assert int(refused.headers["retry-after"]) >= 1
        assert post(client, "bob").status_code == 200  # no limits, nothing to check


def test_a_hung_redis_costs_a_short_timeout_not_a_hang(
    fake_engine: RunningFakeEngine, tmp_path: Path
) -> None:
    with (
        own_redis(tmp_path) as redis,
        limited_client(
            fake_engine, principal("alice", rpm=100), redis_url=redis.url, redis_timeout_s=0.2
        ) as client,
    ):
        assert post(client).status_code == 200
        assert redis.process is not None
        os.kill(redis.process.pid, signal.SIGSTOP)
        try:
            answers = [post(client) for _ in range(3)]
        finally:
            os.kill(redis.process.pid, signal.SIGCONT)
        assert [a.status_code for a in answers] == [200, 200, 200]


def test_settlements_missed_while_redis_was_down_are_replayed(
    slow_engine: RunningFakeEngine, tmp_path: Path
) -> None:
    # A request admitted just before Redis went away must not hold its slot for ever: the
    # settlement waits and is replayed (here the same server comes back, its data intact).
    with (
        own_redis(tmp_path) as redis,
        limited_client(
            slow_engine,
            principal("alice", max_concurrency=1),
            redis_url=redis.url,
            redis_retry_s=0.2,
        ) as client,
    ):
        assert redis.process is not None
        pid = redis.process.pid
        with client.stream("POST", "/v1/chat/completions", json=chat(), headers=auth("alice")):
            os.kill(pid, signal.SIGSTOP)  # the answer ends while Redis cannot be told
        time.sleep(1.0)
        os.kill(pid, signal.SIGCONT)
        assert wait_for(lambda: post(client).status_code == 200, timeout_s=10)
