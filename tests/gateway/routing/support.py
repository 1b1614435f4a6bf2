"""A gateway (uvicorn in a thread) in front of several fake engines, with a table of keys.

Keys stand in for the key database (tested with real processes in
test_two_gateways.py), so these tests stay about routing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import httpx

from gateway.app import create_app
from gateway.keys.principal import KeyPrincipal
from shared.settings import GatewaySettings, RoutingSettings, Settings
from tests.gateway.proxy.support import FixedKeys, RunningGateway, running_gateway

# A short health interval, so a killed engine is out and a restarted one back within a second.
HEALTH_INTERVAL_S = 0.2


def key_of(name: str) -> str:
    return f"tg-{name}-" + "0" * (40 - len(name))


def keyed(
    name: str, *, team: str | None = None, models: Sequence[str] | None = None
) -> KeyPrincipal:
    return KeyPrincipal(
        id=f"key_{name}",
        name=name,
        prefix=f"tg-{name}"[:12],
        team=team,
        allowed_models=tuple(models) if models is not None else None,
    )


class KeyTable(FixedKeys):
    def __init__(self, *principals: KeyPrincipal) -> None:
        super().__init__({key_of(p.name): p for p in principals})


def auth(name: str = "alice") -> dict[str, str]:
    return {"authorization": f"Bearer {key_of(name)}"}


def routing_settings(upstreams: Sequence[str], **routing: Any) -> Settings:
    return Settings(
        upstreams=list(upstreams),
        gateway=GatewaySettings(health_interval_s=HEALTH_INTERVAL_S, connect_timeout_s=2.0),
        routing=RoutingSettings(**routing),
    )


@contextlib.contextmanager
def routed_gateway(
    upstreams: Sequence[str], *principals: KeyPrincipal, **routing: Any
) -> Iterator[RunningGateway]:
    """A gateway over `upstreams` whose first health round (models discovered) has run."""
    keys = KeyTable(*(principals or (keyed("alice"),)))
    app = create_app(routing_settings(upstreams, **routing), stand_ins=keys.stand_ins())
    with running_gateway(app) as url:
        ready = httpx.get(f"{url}/ready", timeout=10)
        assert ready.status_code in (200, 503), ready.text
        yield url


def chat(model: str, max_tokens: int = 4, **extra: Any) -> dict[str, Any]:
    return {
        "model": model,
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": max_tokens,
        **extra,
    }


async def burst(
    gateway: str, count: int, model: str, *, name: str = "alice"
) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=count + 5, max_keepalive_connections=count + 5)
    async with httpx.AsyncClient(base_url=gateway, timeout=30, limits=limits) as client:
        return list(
            await asyncio.gather(
                *(
                    client.post("/v1/chat/completions", json=chat(model), headers=auth(name))
                    for _ in range(count)
                )
            )
        )


def served(engine_url: str, path: str = "/v1/chat/completions") -> int:
    """How many requests an engine got on `path` (its own count)."""
    stats = httpx.get(f"{engine_url}/fake/stats", timeout=5).json()
    return int(stats["requests_by_path"].get(path, 0))


def error_of(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}
    error: dict[str, Any] = body["error"]
    return error
