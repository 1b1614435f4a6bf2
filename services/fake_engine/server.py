"""Serving a fake engine: in the foreground (the CLI), in a thread, or in a child process.

Every way uses uvicorn with httptools and uvloop (the fastest pair uvicorn has), no access log,
and a protocol class that shares open transports with the app, so the connection faults
(`die-mid-stream`, `close-before-headers`) close real sockets instead of answering a 500.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import socket
import sys
from collections.abc import Iterator
from typing import Any

import uvicorn

from services.fake_engine.app import FakeEngine, create_fake_engine
from services.fake_engine.config import FakeEngineConfig
from services.fake_engine.exchange import ConnectionRegistry
from shared.processes import ManagedProcess, ProcessExited, ReadyTimeout, wait_until_ready
from shared.threaded_server import bind, serving_in_thread


def _tracking_protocol(registry: ConnectionRegistry) -> type[asyncio.Protocol]:
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as base
    except ImportError:  # httptools missing: the pure-Python parser works the same way
        from uvicorn.protocols.http.h11_impl import H11Protocol as base  # type: ignore[assignment]

    class TrackedProtocol(base):
        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            registry.add(transport)

        def connection_lost(self, exc: Exception | None) -> None:
            registry.discard(self.transport)
            super().connection_lost(exc)

    return TrackedProtocol


def _uvicorn_config(
    app: FakeEngine, registry: ConnectionRegistry, host: str, port: int
) -> uvicorn.Config:
    loop = "uvloop"
    try:
        import uvloop  # noqa: F401
    except ImportError:
        loop = "asyncio"
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=_tracking_protocol(registry),
        loop=loop,
        lifespan="off",
        access_log=False,
        proxy_headers=False,  # no X-Forwarded-* rewriting: one less middleware per request
        log_level="warning",
        timeout_graceful_shutdown=2,  # a `hang` fault must not hold shutdown forever
        backlog=4096,
    )


def build_server(
    config: FakeEngineConfig, host: str = "127.0.0.1", port: int = 0
) -> tuple[uvicorn.Server, FakeEngine]:
    registry = ConnectionRegistry()
    app = create_fake_engine(config, connections=registry)
    return uvicorn.Server(_uvicorn_config(app, registry, host, port)), app


def serve(config: FakeEngineConfig, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Run in the foreground until SIGINT/SIGTERM; OSError when the port cannot be had."""
    sock = bind(host, port)
    server, _app = build_server(config, host, sock.getsockname()[1])
    with sock:
        server.run(sockets=[sock])


class RunningFakeEngine(str):
    """The base URL (a `str`), with the in-process app for direct inspection."""

    app: FakeEngine

    def __new__(cls, url: str, app: FakeEngine) -> RunningFakeEngine:
        instance = super().__new__(cls, url)
        instance.app = app
        return instance

    def __reduce__(self) -> tuple[type[str], tuple[str]]:
        return (str, (str(self),))  # pickles (e.g. to a spawned process) as the plain URL


@contextlib.contextmanager
def running_fake_engine(
    config: FakeEngineConfig | None = None, *, host: str = "127.0.0.1"
) -> Iterator[RunningFakeEngine]:
    """Serve a fake engine on a free port in a background thread; yields its base URL.

    The socket is bound before the thread starts, so the port cannot be taken in between.
    """
    sock = bind(host, 0)
    port = sock.getsockname()[1]
    server, app = build_server(config or FakeEngineConfig(), host, port)
    with serving_in_thread(server, sock, name=f"fake-engine-{port}"):
        yield RunningFakeEngine(f"http://{host}:{port}", app)


class FakeEngineProcess:
    """A fake engine in a child process, for tests that kill or restart their upstream."""

    def __init__(self, config: FakeEngineConfig, port: int, host: str = "127.0.0.1") -> None:
        self.config = config
        self.host = host
        self.port = port
        self.base_url = f"http://{host}:{port}"
        self.process: ManagedProcess | None = None

    def start(self, timeout_s: float = 20.0) -> FakeEngineProcess:
        command = [
            sys.executable,
            "-m",
            "services.fake_engine",
            "--config",
            self.config.model_dump_json(),
            "--host",
            self.host,
            "--port",
            str(self.port),
        ]
        self.process = ManagedProcess(f"fake-engine-{self.port}", command, echo=None).start()
        try:
            wait_until_ready(f"{self.base_url}/health", self.process, timeout_s, interval_s=0.05)
        except (ProcessExited, ReadyTimeout) as exc:
            tail = self.process.last_lines()
            self.process.stop(grace_s=2)
            raise RuntimeError(f"fake engine did not start: {exc}\n{tail}") from exc
        return self

    def kill(self) -> None:
        """SIGKILL, as an engine dying of out-of-memory would."""
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(5)

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop(grace_s=5)

    def __enter__(self) -> FakeEngineProcess:
        return self if self.process is not None else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def start_fake_engine_process(
    config: FakeEngineConfig | None = None, *, port: int | None = None, host: str = "127.0.0.1"
) -> FakeEngineProcess:
    """Start a fake engine process and wait until it answers; `.stop()` or use it as a context."""
    return FakeEngineProcess(config or FakeEngineConfig(), port or free_port(host), host).start()


def config_from_json(text: str) -> FakeEngineConfig:
    return FakeEngineConfig.model_validate(json.loads(text))
