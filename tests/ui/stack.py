"""What the UI's tests run against: the real gateway app in front of a fake engine.

The gateway is `gateway.app.create_app(settings)`, served by uvicorn in a thread, configured
only through its settings: keys in SQLite under a temporary DATA_DIR (shared with the UI, as
under `tollgate up`, so both find the generated UI token), keys made through the admin API.
Faults come from the fake engine (its `/fake/control` and `x-fake-*` headers) or from real
limits on a key; nothing here imitates the gateway.

    with running_stack(data_dir) as stack:
        alice = stack.create_key(name="alice", max_concurrency=1)
        stack.control(fault="status-503", fault_count=1)   # the engine's next answer fails
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from pydantic import SecretStr

from gateway.app import create_app
from gateway.server import serving_app_in_thread
from services.fake_engine import FakeEngineConfig, running_fake_engine
from services.fake_engine.server import free_port
from shared.schemas.keys import KeyCreated
from shared.settings import (
    GatewaySettings,
    LimitSettings,
    SchedulingSettings,
    Settings,
    UsageSettings,
)
from shared.threaded_server import bind, serving_in_thread

ADMIN_TOKEN = "admin-token-of-the-ui-tests"
MODEL = "fake-model"
MAX_MODEL_LEN = 2048
ENGINE_CAPACITY = 8  # the fake engine reports KV-cache use as running / capacity
FIRST_BYTE_TIMEOUT_S = 2.0  # an engine that hangs becomes the gateway's 504 this soon
# A long, slowly streamed answer: there is time to stop it midway.
SLOW = {"itl_ms": 200, "output_tokens": 400}


def gateway_settings(data_dir: Path, engine_url: str, **changes: Any) -> Settings:
    """The default configuration, but for what these tests need to see or to trigger;
    `changes` replace whole settings or sections (`usage=UsageSettings(enabled=False)`)."""
    settings: dict[str, Any] = {
        "data_dir": data_dir,
        "upstreams": [engine_url],
        "admin_token": SecretStr(ADMIN_TOKEN),
        "gateway": GatewaySettings(first_byte_timeout_s=FIRST_BYTE_TIMEOUT_S),
        # vLLM priorities in the engine's requests show each chat's tier (interactive: -10).
        "scheduling": SchedulingSettings(send_priority=True),
        # My usage reads the ledger right after the requests it counts.
        "usage": UsageSettings(flush_interval_s=0.05),
        # Every test signs in from 127.0.0.1, many with bad keys on purpose.
        "limits": LimitSettings(auth_failures_per_ip=None),
    }
    return Settings(**{**settings, **changes})


def wait_for(condition: Callable[[], object], timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


@dataclass(frozen=True)
class Stack:
    gateway_url: str
    engine_url: str

    def admin(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"authorization": f"Bearer {ADMIN_TOKEN}"}
        return httpx.request(method, self.gateway_url + path, headers=headers, timeout=10, **kwargs)

    def create_key(self, **fields: Any) -> KeyCreated:
        """A real key, made by the gateway's key service (POST /admin/keys)."""
        response = self.admin("POST", "/admin/keys", json=fields)
        assert response.status_code == 201, response.text
        return KeyCreated.model_validate(response.json())

    def revoke(self, key_id: str) -> None:
        response = self.admin("DELETE", f"/admin/keys/{key_id}")
        assert response.status_code == 200, response.text

    def control(self, **controls: Any) -> None:
        """Change the running engine: pacing, answer length, a fault for its next requests."""
        response = httpx.post(f"{self.engine_url}/fake/control", json=controls, timeout=10)
        assert response.status_code == 200, response.text

    def engine_stats(self, path: str | None = None) -> dict[str, Any]:
        params = {"path": path} if path else {}
        response = httpx.get(f"{self.engine_url}/fake/stats", params=params, timeout=10)
        stats: dict[str, Any] = response.json()
        return stats

    def engine_saw(self, path: str = "/v1/chat/completions") -> list[dict[str, Any]]:
        """The recent requests that reached the engine on `path` (method, headers, body)."""
        seen: list[dict[str, Any]] = self.engine_stats(path)["recent_requests"]
        return seen

    def reset(self) -> None:
        """Between tests: wait out answers still stopping, then the engine's start-up controls
        and zero counters."""
        wait_for(lambda: (s := self.engine_stats())["running"] == 0 and s["waiting"] == 0)
        assert httpx.post(f"{self.engine_url}/fake/reset", timeout=10).status_code == 200


@contextlib.contextmanager
def running_degraded_gateway(data_dir: Path) -> Iterator[Stack]:
    """The gateway at its most degraded: no engine answers it and it keeps no usage ledger."""
    dead_engine = f"http://127.0.0.1:{free_port()}"
    settings = gateway_settings(data_dir, dead_engine, usage=UsageSettings(enabled=False))
    with serving_app_in_thread(create_app(settings), start_timeout_s=60) as gateway:
        yield Stack(gateway, dead_engine)


@contextlib.contextmanager
def running_stack(data_dir: Path, **changes: Any) -> Iterator[Stack]:
    engine_config = FakeEngineConfig(
        models=(MODEL,), max_model_len=MAX_MODEL_LEN, capacity=ENGINE_CAPACITY
    )
    with running_fake_engine(engine_config) as engine:
        app = create_app(gateway_settings(data_dir, engine, **changes))
        with serving_app_in_thread(app, start_timeout_s=60) as gateway:
            yield Stack(gateway, engine)


@dataclass(frozen=True)
class SentRequest:
    method: str
    path: str
    headers: dict[str, str]
    query: dict[str, str]
    body: Any


@dataclass
class RecordingTransport(httpx.AsyncBaseTransport):
    """Sends the UI's requests on to the real gateway, and keeps each as it left the UI: what
    the UI sent is checked here, what it got back is the gateway's own answer."""

    sent: list[SentRequest] = field(default_factory=list)
    _inner: httpx.AsyncHTTPTransport = field(default_factory=httpx.AsyncHTTPTransport)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        content = request.content
        self.sent.append(
            SentRequest(
                request.method,
                request.url.path,
                dict(request.headers),
                dict(request.url.params),
                json.loads(content) if content else None,
            )
        )
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()

    def last(self, path: str = "/v1/chat/completions") -> SentRequest:
        return [sent for sent in self.sent if sent.path == path][-1]


@contextlib.contextmanager
def serving(app: Any, *, start_timeout_s: float = 60.0) -> Iterator[str]:
    """An ASGI app (the UI) served by uvicorn in a thread; yields its base URL."""
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="on",
            timeout_graceful_shutdown=1,  # Gradio's open event streams would hold it 5 s
        )
    )
    with serving_in_thread(server, sock, name=f"ui-{port}", start_timeout_s=start_timeout_s):
        yield f"http://127.0.0.1:{port}"
