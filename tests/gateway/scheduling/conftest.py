"""A gateway with the fair queue in front of a paced fake engine (or the real one), per test."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from litestar import Request

from gateway.app import create_app
from gateway.errors import AuthenticationFailed
from gateway.keys.principal import KeyPrincipal
from gateway.proxy.hooks import ProxyOutcome, ProxyRequest, Stage, Ticket
from gateway.scheduling import Scheduler
from gateway.wiring import StandIns
from services.fake_engine import FakeEngineConfig, RunningFakeEngine, running_fake_engine
from shared.settings import SchedulingSettings, Settings
from tests.gateway.proxy.conftest import logs  # the JSON log lines of a test
from tests.gateway.proxy.support import RunningGateway, running_gateway

__all__ = ["logs"]

PRINCIPALS = {
    name: KeyPrincipal(id=f"key_{name}", name=name, prefix=f"tg-{name}", tier=tier, team=team)
    for name, tier, team in (
        ("heavy", "standard", "crunchers"),
        ("light", "standard", None),
        ("chat", "interactive", None),
        ("bulk", "batch", "crunchers"),
    )
}


def auth(name: str) -> dict[str, str]:
    return {"authorization": f"Bearer tg-{name}"}


def chat(content: str = "hi", **extra: Any) -> dict[str, Any]:
    return {
        "model": "fake-model",
        "messages": [{"role": "user", "content": content}],
        "max_tokens": 1,
        **extra,
    }


async def named_keys(request: Request[Any, Any, Any]) -> KeyPrincipal:
    """`Authorization: Bearer tg-<name>` is the key of PRINCIPALS[name]."""
    token = request.headers.get("authorization", "").removeprefix("Bearer tg-")
    if token not in PRINCIPALS:
        raise AuthenticationFailed("Invalid API key.")
    return PRINCIPALS[token]


class Scheduled(RunningGateway):
    """The running gateway, with what the tests watch: queue events and finished outcomes."""

    events: list[tuple[str, str]]  # ("queued" | "admitted", key name), in the gateway's order
    outcomes: list[ProxyOutcome]

    @property
    def scheduler(self) -> Scheduler:
        found = self.app.parts.scheduler
        assert found is not None  # fair queueing is on in these gateways
        return found

    @property
    def admitted(self) -> list[str]:
        return [name for kind, name in self.events if kind == "admitted"]

    def admitted_while_queued(self, name: str) -> list[str]:
        """Who was admitted between `name`'s request joining the queue and its own admission."""
        start = self.events.index(("queued", name))
        end = self.events.index(("admitted", name), start)
        return [n for kind, n in self.events[start:end] if kind == "admitted"]


@contextlib.contextmanager
def scheduled_gateway(upstream: str, **scheduling: Any) -> Iterator[Scheduled]:
    settings = Settings(upstreams=[upstream], scheduling=SchedulingSettings(**scheduling))
    events: list[tuple[str, str]] = []
    outcomes: list[ProxyOutcome] = []

    async def record_admission(request: ProxyRequest) -> Ticket | None:
        events.append(("admitted", request.principal.name))  # after the fair queue
        return None

    app = create_app(
        settings,
        stand_ins=StandIns(
            keys=named_keys,
            admissions=[Stage("record_admission", record_admission)],
            observers=[Stage("outcomes", outcomes.append)],
        ),
    )
    scheduler = app.parts.scheduler
    assert scheduler is not None
    wait = scheduler._wait

    async def record_queueing(request: ProxyRequest, tier: str) -> None:
        events.append(("queued", request.principal.name))  # it joins the queue right after
        await wait(request, tier)

    scheduler._wait = record_queueing  # type: ignore[method-assign]
    with running_gateway(app) as url:
        gateway = Scheduled(url, app)
        gateway.events, gateway.outcomes = events, outcomes
        yield gateway


@pytest.fixture
def paced_engine() -> Iterator[RunningFakeEngine]:
    """Four sequences at once, each answer taking a while: an engine that can be filled."""
    with running_fake_engine(FakeEngineConfig(capacity=4, ttft_ms=150, itl_ms=0)) as url:
        yield url


async def send_all(
    gateway: str, requests: list[tuple[str, dict[str, Any], dict[str, str]]]
) -> list[httpx.Response]:
    """Send (key name, body, extra headers) requests at once; their responses in order."""
    async with httpx.AsyncClient(base_url=gateway, timeout=60) as client:
        return await asyncio.gather(
            *(
                client.post("/v1/chat/completions", json=body, headers={**auth(name), **extra})
                for name, body, extra in requests
            )
        )
