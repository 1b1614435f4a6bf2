"""A gateway served for real (uvicorn in a thread) in front of a fake engine, with fixed test keys.

The keys here stand in for the key database (`StandIns(keys=...)`, tested on its own), so proxy
tests stay about the proxy; tests/gateway/test_app.py runs the real keys.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from typing import Any

import httpx
from litestar import Request
from litestar.testing import TestClient

from gateway.app import GatewayApp, create_app
from gateway.errors import AuthenticationFailed
from gateway.keys.principal import KeyPrincipal
from gateway.server import serving_app_in_thread
from gateway.wiring import StandIns
from shared.settings import GatewaySettings, Settings

ALICE_KEY = "tg-alice-0123456789abcdef0123456789abcdef"
BOB_KEY = "tg-bob-fedcba9876543210fedcba9876543210"
ALICE = KeyPrincipal(id="key_alice", name="alice", prefix="tg-alice")
# Bob may use only "other-model" (the fake engine serves "fake-model" and "other-model").
BOB = KeyPrincipal(id="key_bob", name="bob", prefix="tg-bob", allowed_models=("other-model",))
KEYS = {ALICE_KEY: ALICE, BOB_KEY: BOB}


def auth(key: str = ALICE_KEY) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


class FixedKeys:
    """The `principal` dependency from a fixed table {API key: principal}, in place of the key
    database (tested with real keys elsewhere)."""

    def __init__(self, keys: Mapping[str, KeyPrincipal] = KEYS) -> None:
        self.keys = dict(keys)

    async def __call__(self, request: Request[Any, Any, Any]) -> KeyPrincipal:
        header = request.headers.get("authorization", "")
        found = self.keys.get(header.removeprefix("Bearer ").strip())
        if found is None:
            raise AuthenticationFailed("Invalid API key.")
        return found

    def stand_ins(self, **more: Any) -> StandIns:
        return StandIns(keys=self, **more)


# What carries requests to the engine; the proxy tests run once with each (see conftest).
TRANSPORT = {"name": "httpx"}


def gateway_settings(upstreams: list[str], **gateway: Any) -> Settings:
    gateway.setdefault("upstream_transport", TRANSPORT["name"])
    return Settings(upstreams=upstreams, gateway=GatewaySettings(**gateway))


def build_app(
    upstreams: list[str], *, stand_ins: StandIns | None = None, **gateway: Any
) -> GatewayApp:
    """A gateway with the fixed keys; `stand_ins` may add stages, listeners or routes."""
    chosen = replace(stand_ins or StandIns(), keys=FixedKeys())
    return create_app(gateway_settings(upstreams, **gateway), stand_ins=chosen)


class RunningGateway(str):
    """The gateway's base URL (a `str`), with its app."""

    app: GatewayApp

    def __new__(cls, url: str, app: GatewayApp) -> RunningGateway:
        instance = super().__new__(cls, url)
        instance.app = app
        return instance


@contextlib.contextmanager
def running_gateway(app: GatewayApp) -> Iterator[RunningGateway]:
    """Serve `app` with the production uvicorn options on a free port, in a thread."""
    with serving_app_in_thread(app) as url:
        yield RunningGateway(url, app)


class LogCapture(logging.Handler):
    """Every log line as the configured formatter renders it (JSON)."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def access(self) -> list[dict[str, Any]]:
        """The gateway's per-request lines, parsed."""
        parsed = [json.loads(line) for line in self.lines]
        return [p for p in parsed if p.get("logger") == "tollgate.access"]


def wait_for(condition: Any, timeout_s: float = 5.0, interval_s: float = 0.02) -> bool:
    """Poll `condition()` until true; False when it never was (the test then says what)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval_s)
    return bool(condition())


@contextlib.contextmanager
def gateway_over(
    engine: Callable[[httpx.Request], httpx.Response], **gateway: Any
) -> Iterator[TestClient[GatewayApp]]:
    """The gateway in-process, in front of `engine` (a function from request to response)."""
    app = create_app(
        gateway_settings(["http://engine:8000"], **gateway),
        stand_ins=FixedKeys().stand_ins(upstream_transport=httpx.MockTransport(engine)),
    )
    with TestClient(app) as client:
        yield client
