"""Two real gateway processes sharing PostgreSQL and Redis, as a team runs them behind a load
balancer: a key made on one works on the other, a revocation on one (or by the CLI, straight on
the database) is refused by the other at once, not after its key cache expires, and one rpm
limit holds across both.

The key cache TTL is set to a minute here, so only the Redis announcement can explain a
revocation seen within seconds.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass

import httpx
import pytest
import redis
from sqlalchemy import text

from gateway.db import create_engine
from services.fake_engine import FakeEngineConfig, running_fake_engine
from tests.gateway.db.databases import POSTGRES_URL
from tests.gateway.limits.support import gateway_env
from tests.gateway.proxy.support import wait_for
from tests.processes import gateway_process, run_cli

ADMIN = "routing-admin-secret"
REDIS_URL = "redis://127.0.0.1:6379/11"  # this folder's own Redis database
CACHE_TTL_S = "60"
# Generous for a loaded 2-core CI machine; measured ~tens of ms (docs/deploy.md).
REVOCATION_BOUND_S = 3.0


def _sql(statement: str) -> None:
    async def run() -> None:
        engine = create_engine(POSTGRES_URL, for_migrations=True)
        try:
            async with engine.begin() as connection:
                await connection.execute(text(statement))
        finally:
            await engine.dispose()

    asyncio.run(run())


@dataclass
class Team:
    urls: list[str]
    env: dict[str, str]

    def cli(self, *args: str) -> dict[str, object]:
        done = run_cli("keys", *args, "--json", env=self.env)
        assert done.returncode == 0, done.stderr
        result: dict[str, object] = json.loads(done.stdout)
        return result

    def create_key(self, via: str, **spec: object) -> tuple[str, str]:
        made = httpx.post(
            f"{via}/admin/keys",
            json={"name": f"k-{uuid.uuid4().hex[:6]}", **spec},
            headers={"authorization": f"Bearer {ADMIN}"},
            timeout=30,
        )
        assert made.status_code == 201, made.text
        return str(made.json()["id"]), str(made.json()["key"])


def chat_on(url: str, key: str) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/chat/completions",
        json={
            "model": "fake-model",
            "messages": [{"role": "user", "content": "hi"}],
            "max_tokens": 2,
        },
        headers={"authorization": f"Bearer {key}"},
        timeout=30,
    )


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Team]:
    schema = f"tg_routing_{uuid.uuid4().hex[:12]}"
    _sql(f'CREATE SCHEMA "{schema}"')
    tag = uuid.uuid4().hex[:8]
    env = gateway_env(
        tmp_path_factory.mktemp("two-gateways"),
        TOLLGATE_DATABASE_URL=f"{POSTGRES_URL}?options=-csearch_path%3D{schema}",
        TOLLGATE_REDIS_URL=REDIS_URL,
        # Exactness, not fail-fast: a busy machine must not push the limiter into fail-open.
        TOLLGATE_LIMITS__REDIS_TIMEOUT_S="5",
        TOLLGATE_ADMIN_TOKEN=ADMIN,
        TOLLGATE_KEYS__CACHE_TTL_S=CACHE_TTL_S,
        TOLLGATE_KEYS__INVALIDATION_CHANNEL=f"tollgate:test:{tag}:keys",
        TOLLGATE_LIMITS__REDIS_PREFIX=f"tollgate:test:{tag}:",
    )
    try:
        with running_fake_engine(FakeEngineConfig()) as engine, ExitStack() as stack:
            urls = [stack.enter_context(gateway_process(engine, env)).url for _ in range(2)]
            yield Team(urls, env)
    finally:
        _sql(f'DROP SCHEMA "{schema}" CASCADE')
        client = redis.Redis.from_url(REDIS_URL)
        for name in client.scan_iter(f"tollgate:test:{tag}:*"):
            client.delete(name)
        client.close()


def test_a_key_made_on_one_gateway_works_on_the_other(team: Team) -> None:
    first, second = team.urls
    _, key = team.create_key(first)
    assert chat_on(second, key).status_code == 200
    made = team.cli("create", "--name", "from-cli")
    assert chat_on(first, str(made["key"])).status_code == 200


def _refused_within(url: str, key: str) -> float:
    started = time.monotonic()
    assert wait_for(lambda: chat_on(url, key).status_code == 401, REVOCATION_BOUND_S, 0.01)
    return time.monotonic() - started


def test_a_revocation_on_one_gateway_is_refused_by_the_other_at_once(team: Team) -> None:
    first, second = team.urls
    key_id, key = team.create_key(first)
    assert chat_on(second, key).status_code == 200  # now in the second gateway's cache
    revoked = httpx.delete(
        f"{first}/admin/keys/{key_id}", headers={"authorization": f"Bearer {ADMIN}"}, timeout=30
    )
    assert revoked.status_code == 200, revoked.text
    _refused_within(second, key)
    assert "revoked" in chat_on(second, key).json()["error"]["message"]


def test_a_revocation_by_the_cli_reaches_both_gateways(team: Team) -> None:
    key_id, key = team.create_key(team.urls[0])
    for url in team.urls:
        assert chat_on(url, key).status_code == 200
    team.cli("revoke", key_id)
    for url in team.urls:
        _refused_within(url, key)


def test_one_rpm_limit_holds_across_both_gateways(team: Team) -> None:
    _, key = team.create_key(team.urls[0], rpm=5)
    statuses = [chat_on(team.urls[i % 2], key).status_code for i in range(12)]
    assert statuses.count(200) == 5 and statuses.count(429) == 7
