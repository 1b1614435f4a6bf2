"""How long a revoked key keeps working on another gateway: two gateway processes on the
shared PostgreSQL and Redis, a key revoked through the first one's admin API, the second one
polled until it refuses the key. Not a test (no timing asserts in tests); run it by hand:

    .venv/bin/python -m tests.gateway.routing.measure_revocation [rounds]

Prints the median and the worst time from the revocation's answer to the first 401.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

import httpx

from services.fake_engine import FakeEngineConfig, running_fake_engine
from tests.gateway.limits.support import gateway_env
from tests.gateway.routing.test_two_gateways import ADMIN, POSTGRES_URL, REDIS_URL, Team, _sql
from tests.processes import gateway_process

BODY = {"model": "fake-model", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}


def measure(rounds: int) -> list[float]:
    schema = f"tg_measure_{uuid.uuid4().hex[:8]}"
    _sql(f'CREATE SCHEMA "{schema}"')
    env = gateway_env(
        Path(tempfile.mkdtemp()),
        TOLLGATE_DATABASE_URL=f"{POSTGRES_URL}?options=-csearch_path%3D{schema}",
        TOLLGATE_REDIS_URL=REDIS_URL,
        TOLLGATE_ADMIN_TOKEN=ADMIN,
        TOLLGATE_KEYS__CACHE_TTL_S="60",  # only the announcement can explain a quick refusal
        TOLLGATE_KEYS__INVALIDATION_CHANNEL=f"tollgate:measure:{schema}",
        TOLLGATE_LIMITS__REDIS_PREFIX=f"tollgate:measure:{schema}:",
        TOLLGATE_LIMITS__AUTH_FAILURES_PER_IP="100000/minute",
    )
    took: list[float] = []
    try:
        with running_fake_engine(FakeEngineConfig()) as engine, ExitStack() as stack:
            first, second = (
                stack.enter_context(gateway_process(engine, env)).url for _ in range(2)
            )
            team = Team([first, second], env)
            with httpx.Client(timeout=30) as client:
                for _ in range(rounds):
                    key_id, key = team.create_key(first)
                    headers = {"authorization": f"Bearer {key}"}
                    url = f"{second}/v1/chat/completions"
                    assert client.post(url, json=BODY, headers=headers).status_code == 200
                    client.delete(
                        f"{first}/admin/keys/{key_id}",
                        headers={"authorization": f"Bearer {ADMIN}"},
                    )
                    start = time.monotonic()
                    while client.post(url, json=BODY, headers=headers).status_code != 401:
                        pass
                    took.append((time.monotonic() - start) * 1000)
    finally:
        _sql(f'DROP SCHEMA "{schema}" CASCADE')
    return took


if __name__ == "__main__":
    times = measure(int(sys.argv[1]) if len(sys.argv) > 1 else 30)
    print(
        f"revoked key refused by the other gateway after: median {statistics.median(times):.1f} ms,"
        f" max {max(times):.1f} ms, over {len(times)} revocations (key cache TTL 60 s)"
    )
