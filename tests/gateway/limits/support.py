"""Gateways with limited keys, in a thread (uvicorn) or as real processes, and a Redis of our own.

Redis tests use database 13 of the Redis at 127.0.0.1:6379, flushed before each test; tests
that break Redis start a `redis-server` of their own on a free port.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import redis
from pydantic import SecretStr

from gateway.app import create_app
from gateway.keys.principal import KeyLimits, KeyPrincipal, model_limits_from
from gateway.limits.policy import TeamLimits
from shared.settings import GatewaySettings, LimitSettings, Settings
from tests.conftest import free_port
from tests.gateway.proxy.support import FixedKeys, RunningGateway, running_gateway
from tests.processes import tollgate_env

REDIS_URL = "redis://127.0.0.1:6379/13"
CHAT_PATH = "/v1/chat/completions"


def key_for(name: str) -> str:
    return f"tg-{name}-" + "0" * (40 - len(name))


def principal(
    name: str,
    *,
    team: str | None = None,
    model_limits: Mapping[str, Mapping[str, int]] | None = None,
    **limits: int,
) -> KeyPrincipal:
    return KeyPrincipal(
        id=f"key_{name}",
        name=name,
        prefix=f"tg-{name}"[:12],
        team=team,
        limits=KeyLimits(**limits),
        model_limits=model_limits_from(model_limits),
    )


def keyed_settings(data_dir: Path, upstream: str, store: str | None, **changes: Any) -> Settings:
    """Real keys in SQLite under `data_dir`, the admin token `admin-secret`, one engine, and
    the limits' counters in `store` (a Redis URL, or None: in the gateway process)."""
    return Settings(
        data_dir=data_dir,
        database_url=f"sqlite+aiosqlite:///{data_dir / 'keys.db'}",
        admin_token=SecretStr("admin-secret"),
        upstreams=[upstream],
        redis_url=store,
        **changes,
    )


class KeyTable(FixedKeys):
    """The `principal` dependency from `principals` (`GET /tollgate/me` answers for them)."""

    def __init__(self, *principals: KeyPrincipal) -> None:
        super().__init__({key_for(p.name): p for p in principals})


class StaticTeams:
    """Team limits from a dict, in place of the database-backed cache."""

    def __init__(self, teams: Mapping[str, TeamLimits]) -> None:
        self._teams = dict(teams)

    def get(self, team: str) -> TeamLimits | None:
        return self._teams.get(team)


def set_teams(gateway: RunningGateway, **teams: Mapping[str, Any]) -> None:
    """`set_teams(gw, ml={"rpm": 8, "model_limits": {"m": {"tpm": 9}}})`."""
    limits = {
        name: TeamLimits(
            KeyLimits(**{k: v for k, v in spec.items() if k != "model_limits"}),
            model_limits_from(spec.get("model_limits")),
        )
        for name, spec in teams.items()
    }
    gateway.app.parts.limiter.policy.teams = StaticTeams(limits)


def limit_settings(
    upstream: str,
    *,
    redis_url: str | None = None,
    gateway: Mapping[str, Any] | None = None,
    **limits: Any,
) -> Settings:
    return Settings(
        upstreams=[upstream],
        redis_url=redis_url,
        gateway=GatewaySettings(**(gateway or {})),
        # Exactness tests must not fall into fail-open because a busy CI machine was slow to
        # connect: the fail-fast default (0.25 s) is tested on its own.
        limits=LimitSettings(**{"redis_timeout_s": 5.0, **limits}),
    )


@contextlib.contextmanager
def limited_gateway(
    upstream: str,
    *principals: KeyPrincipal,
    redis_url: str | None = None,
    gateway: Mapping[str, Any] | None = None,
    **limits: Any,
) -> Iterator[RunningGateway]:
    """A gateway (uvicorn in a thread) with these keys, limit settings and gateway settings."""
    settings = limit_settings(upstream, redis_url=redis_url, gateway=gateway, **limits)
    app = create_app(settings, stand_ins=KeyTable(*principals).stand_ins())
    with running_gateway(app) as url:
        yield url


@contextlib.contextmanager
def limited_client(
    upstream: str, *principals: KeyPrincipal, redis_url: str | None = None, **limits: Any
) -> Iterator[httpx.Client]:
    """A client of a fresh limited gateway (its base URL is the gateway's)."""
    with (
        limited_gateway(upstream, *principals, redis_url=redis_url, **limits) as gateway,
        httpx.Client(base_url=gateway, timeout=10) as client,
    ):
        yield client


def auth(name: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key_for(name)}"}


def chat(max_tokens: int = 4, *, stream: bool = False, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "fake-model",
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": max_tokens,
        **extra,
    }
    if stream:
        body["stream"] = True
    return body


def prompt_estimate(body: dict[str, Any]) -> int:
    """The gateway's prompt estimate for `body` as httpx sends it: bytes / 4, rounded up."""
    return math.ceil(len(httpx.Request("POST", "http://x", json=body).content) / 4)


async def burst(
    urls: list[str], count: int, name: str, body: dict[str, Any], *, path: str = CHAT_PATH
) -> list[httpx.Response]:
    """`count` requests at once, spread round-robin over `urls`."""
    limits = httpx.Limits(max_connections=count + 10, max_keepalive_connections=count + 10)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        return list(
            await asyncio.gather(
                *(
                    client.post(urls[i % len(urls)] + path, json=body, headers=auth(name))
                    for i in range(count)
                )
            )
        )


def statuses(responses: list[httpx.Response]) -> dict[int, int]:
    counted: dict[int, int] = {}
    for response in responses:
        counted[response.status_code] = counted.get(response.status_code, 0) + 1
    return counted


def flush_test_redis() -> None:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.flushdb()
    finally:
        client.close()


# -- a Redis server of our own, to kill and restart -------------------------------------------


@dataclass
class OwnRedis:
    port: int
    data_dir: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> OwnRedis:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed"
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--dir",
                str(self.data_dir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                client = redis.Redis(port=self.port, socket_timeout=0.5)
                client.ping()
                client.close()
                return self
            except redis.RedisError:
                assert time.monotonic() < deadline, "redis-server did not start"
                assert self.process.poll() is None, "redis-server exited"
                time.sleep(0.05)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None


@contextlib.contextmanager
def own_redis(data_dir: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(free_port(), data_dir).start()
    try:
        yield server
    finally:
        server.kill()


# -- real gateway processes --------------------------------------------------------------------


def gateway_env(data_dir: Path, **extra: str) -> dict[str, str]:
    return tollgate_env(data_dir, **{"TOLLGATE_LOG_LEVEL": "WARNING", **extra})
