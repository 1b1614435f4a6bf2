"""Real processes for the reliability suites: a `tollgate gateway` subprocess in front of a fake
engine process, raw HTTP for what httpx would tidy up (path tricks, bad bytes, slow clients),
and a TCP cut-off switch between the gateway and its database."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from shared.processes import ManagedProcess
from tests.gateway.proxy.support import wait_for
from tests.processes import free_port, start_gateway, tollgate_env

ADMIN_TOKEN = "admin-token-for-reliability-0123456789abcdef"
ADMIN = {"authorization": f"Bearer {ADMIN_TOKEN}"}
CHAT = {"model": "fake-model", "messages": [{"role": "user", "content": "hello"}]}


def bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


def assert_openai_error(response: httpx.Response, *statuses: int) -> dict[str, Any]:
    """The answer is one of `statuses` with OpenAI's error body; returns the error object."""
    assert response.status_code in statuses, (response.status_code, response.text[:500])
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}, error
    assert isinstance(error["message"], str) and error["message"]
    assert "Traceback" not in response.text
    return dict(error)


@dataclass
class GatewayProcess:
    """`tollgate gateway` as users run it, with everything it printed kept for scanning."""

    upstream: str
    data_dir: Path
    env_extra: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: ManagedProcess | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def database_url(self) -> str:
        return self.env_extra.get(
            "TOLLGATE_DATABASE_URL", f"sqlite+aiosqlite:///{self.data_dir / 'tollgate.db'}"
        )

    def start(self) -> GatewayProcess:
        defaults = {"TOLLGATE_ADMIN_TOKEN": ADMIN_TOKEN, "TOLLGATE_USAGE__FLUSH_INTERVAL_S": "0.1"}
        env = tollgate_env(self.data_dir, **{**defaults, **self.env_extra})
        self.process = start_gateway(
            self.upstream, env, port=self.port, keep_lines=100_000, interval_s=0.05
        ).process
        return self

    def stop(self, grace_s: float = 30.0) -> int | None:
        return self.process.stop(grace_s=grace_s) if self.process else None

    def log(self) -> str:
        return self.process.last_lines(100_000) if self.process else ""

    def create_key(self, **fields: Any) -> tuple[str, str]:
        """(id, key) of a new key made through the admin API."""
        body = {"name": "reliability", **fields}
        response = httpx.post(f"{self.url}/admin/keys", json=body, headers=ADMIN, timeout=30)
        assert response.status_code == 201, response.text
        created = response.json()
        return created["id"], created["key"]

    def __enter__(self) -> GatewayProcess:
        return self if self.process else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def raw_request(
    port: int, data: bytes, *, timeout_s: float = 10.0, source: str = "127.0.0.1"
) -> tuple[int, dict[str, str], bytes]:
    """Send bytes exactly as given; (status, headers, body) of the answer (status 0: none)."""
    with socket.create_connection(("127.0.0.1", port), timeout_s, (source, 0)) as sock:
        sock.sendall(data)
        received = b""
        with contextlib.suppress(TimeoutError, ConnectionResetError):
            while chunk := sock.recv(65536):
                received += chunk
                if _complete(received):
                    break
    return parse_response(received)


def _complete(data: bytes) -> bool:
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value.strip())
    return False


def parse_response(data: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/"):
        return 0, {}, data
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers, body


def raw_get(
    port: int, target: str, headers: dict[str, str] | None = None, *, source: str = "127.0.0.1"
) -> tuple[int, bytes]:
    """GET `target` verbatim (no normalising of `..` or `%2F`), from the address `source`."""
    lines = [f"GET {target} HTTP/1.1", "host: 127.0.0.1", "connection: close"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    data = ("\r\n".join(lines) + "\r\n\r\n").encode()
    status, _, body = raw_request(port, data, source=source)
    return status, body


def error_of(body: bytes) -> dict[str, Any]:
    error = json.loads(body)["error"]
    assert set(error) == {"message", "type", "param", "code"}, error
    return dict(error)


def metric_value(text: str, name: str, **labels: str) -> float:
    """The sum of a Prometheus metric's samples whose labels include `labels`."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name) or line.startswith("#"):
            continue
        sample, _, value = line.rpartition(" ")
        if sample.split("{")[0] != name:
            continue
        if all(f'{k}="{v}"' in sample for k, v in labels.items()):
            total += float(value)
    return total


def wait_until(condition: Any, timeout_s: float = 10.0, interval_s: float = 0.05) -> bool:
    """`wait_for` with this folder's longer default wait (real processes)."""
    return wait_for(condition, timeout_s, interval_s)


class SeverableTcpProxy:
    """A TCP forwarder to `target` on a fixed local port that a test can cut and restore.

    `cut()` closes every connection through it and stops listening (clients get resets, then
    "connection refused": the database is down); `restore()` listens again on the same port.
    """

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    def __enter__(self) -> SeverableTcpProxy:
        self._thread.start()
        self.restore()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cut()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    def restore(self) -> None:
        async def listen() -> None:
            self._server = await asyncio.start_server(
                self._handle, "127.0.0.1", self.port, reuse_address=True
            )

        self._call(listen())

    def cut(self) -> None:
        async def close() -> None:
            if self._server is not None:
                self._server.close()
                self._server = None
            for writer in list(self._writers):
                writer.transport.abort()
            self._writers.clear()

        self._call(close())

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.IncompleteReadError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers.difference_update((writer, up_writer))


@contextlib.contextmanager
def gateway_process(upstream: str, data_dir: Path, **env: str) -> Iterator[GatewayProcess]:
    with GatewayProcess(upstream, data_dir, dict(env)) as gateway:
        yield gateway
