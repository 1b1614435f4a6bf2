"""Two real gateway processes (`python -m services.cli gateway`) sharing Redis and the key database
hold one limit between them exactly, and see limit changes within the key cache time."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from services.fake_engine import FakeEngineConfig, start_fake_engine_process
from tests.gateway.limits.support import chat, gateway_env, statuses
from tests.gateway.proxy.support import wait_for
from tests.processes import gateway_process, run_cli

ADMIN = "limits-admin-secret"


@dataclass
class Pair:
    urls: list[str]
    env: dict[str, str]
    keys: dict[str, str]

    def create_key(self, name: str, *flags: str) -> str:
        made = run_cli("keys", "create", "--name", name, *flags, "--json", env=self.env)
        assert made.returncode == 0, made.stderr
        created = json.loads(made.stdout)
        self.keys[name] = created["key"]
        return str(created["id"])


@pytest.fixture
def pair(tmp_path: Path, redis_url: str) -> Iterator[Pair]:
    env = gateway_env(
        tmp_path / "data",
        TOLLGATE_REDIS_URL=redis_url,
        # Exactness, not fail-fast: a busy machine must not push the limiter into fail-open.
        TOLLGATE_LIMITS__REDIS_TIMEOUT_S="5",
        TOLLGATE_ADMIN_TOKEN=ADMIN,
        TOLLGATE_KEYS__CACHE_TTL_S="1",
    )
    with (
        start_fake_engine_process(FakeEngineConfig(ttft_ms=600)) as engine,
        ExitStack() as stack,
    ):
        urls = [stack.enter_context(gateway_process(engine.base_url, env)).url for _ in range(2)]
        yield Pair(urls, env, {})


async def _burst(pair: Pair, name: str, count: int) -> list[httpx.Response]:
    """`count` requests at once, alternating between the two gateways."""
    limits = httpx.Limits(max_connections=count + 10)
    headers = {"authorization": f"Bearer {pair.keys[name]}"}
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        return list(
            await asyncio.gather(
                *(
                    client.post(
                        f"{pair.urls[i % 2]}/v1/chat/completions",
                        json=chat(),
                        headers=headers,
                    )
                    for i in range(count)
                )
            )
        )


async def test_two_gateways_admit_exactly_rpm_between_them(pair: Pair) -> None:
    pair.create_key("alice", "--rpm", "10")
    responses = await _burst(pair, "alice", 50)
    assert statuses(responses) == {200: 10, 429: 40}
    assert {r.url.port for r in responses if r.status_code == 200} <= {
        httpx.URL(u).port for u in pair.urls
    }


async def test_two_gateways_share_concurrency_slots_exactly(pair: Pair) -> None:
    pair.create_key("bob", "--max-concurrency", "4")
    assert statuses(await _burst(pair, "bob", 40)) == {200: 4, 429: 36}
    assert statuses(await _burst(pair, "bob", 4)) == {200: 4}  # every slot came back


def test_a_limit_changed_through_one_gateway_reaches_the_other_within_the_cache_time(
    pair: Pair,
) -> None:
    key_id = pair.create_key("carol", "--rpm", "1")
    first, second = pair.urls
    headers = {"authorization": f"Bearer {pair.keys['carol']}"}
    assert (
        httpx.post(f"{second}/v1/chat/completions", json=chat(), headers=headers).status_code == 200
    )
    patched = httpx.patch(
        f"{first}/admin/keys/{key_id}",
        json={"rpm": 50},
        headers={"authorization": f"Bearer {ADMIN}"},
    )
    assert patched.status_code == 200, patched.text

    def second_sees_it() -> bool:
        answer = httpx.post(f"{second}/v1/chat/completions", json=chat(), headers=headers)
        return answer.headers.get("x-ratelimit-limit-requests") == "50"

    # TOLLGATE_KEYS__CACHE_TTL_S=1 here (10 s by default): the bound on how stale a limit is.
    assert wait_for(second_sees_it, timeout_s=5, interval_s=0.2)


def test_team_limits_set_through_the_admin_api_bind_every_key_on_every_gateway(
    pair: Pair,
) -> None:
    pair.create_key("dave", "--team", "ml")
    pair.create_key("erin", "--team", "ml")
    first, second = pair.urls
    put = httpx.put(
        f"{first}/admin/teams/ml", json={"rpm": 3}, headers={"authorization": f"Bearer {ADMIN}"}
    )
    assert put.status_code == 201, put.text

    def team_limited() -> bool:
        answer = httpx.post(
            f"{second}/v1/chat/completions",
            json=chat(),
            headers={"authorization": f"Bearer {pair.keys['dave']}"},
        )
        return answer.headers.get("x-ratelimit-limit-requests") == "3"

    assert wait_for(team_limited, timeout_s=5, interval_s=0.2)
    answers = [
        httpx.post(
            f"{pair.urls[i % 2]}/v1/chat/completions",
            json=chat(),
            headers={"authorization": f"Bearer {pair.keys['erin' if i % 2 else 'dave']}"},
        ).status_code
        for i in range(4)
    ]
    # The probe above took one of the team's 3; two more fit, then the team is spent.
    assert answers == [200, 200, 429, 429]
