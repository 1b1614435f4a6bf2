"""One HTTP exchange over raw ASGI: read the body, answer, stream, notice a disconnect, drop.

No framework: the fake engine is the instant upstream of overhead benchmarks, so the request
path is a dict lookup and a few awaits. Dropping a connection on purpose (a fault) needs the
socket itself, which ASGI hides; a server started by `services.fake_engine.server` shares its
transports through `ConnectionRegistry`, and elsewhere (an in-process ASGI transport) the drop
falls back to raising `ConnectionDropped`, which such transports surface as a failed request.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any, Protocol

Scope = dict[str, Any]
Message = dict[str, Any]


class Receive(Protocol):
    async def __call__(self) -> Message: ...


class Send(Protocol):
    async def __call__(self, message: Message) -> None: ...


class BodyTooLarge(Exception):
    pass


class ConnectionDropped(Exception):
    """Raised to cut a response short where the transport cannot be closed directly."""


class ClientGone(Exception):
    """The client disconnected while the request was being read."""


class ConnectionRegistry:
    """Open transports by client address, filled by the server's protocol class."""

    def __init__(self) -> None:
        self._transports: dict[tuple[str, int], asyncio.BaseTransport] = {}

    def add(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and len(peer) >= 2:
            self._transports[(str(peer[0]), int(peer[1]))] = transport

    def discard(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and len(peer) >= 2:
            self._transports.pop((str(peer[0]), int(peer[1])), None)

    def get(self, client: Any) -> asyncio.BaseTransport | None:
        if not client:
            return None
        return self._transports.get((str(client[0]), int(client[1])))


JSON_HEADERS = [(b"content-type", b"application/json")]
SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
]


class Exchange:
    def __init__(
        self, scope: Scope, receive: Receive, send: Send, connections: ConnectionRegistry | None
    ) -> None:
        self.scope = scope
        self._receive = receive
        self._send = send
        self._connections = connections
        self._watcher: asyncio.Task[None] | None = None
        self._finished = False
        self.client_gone = False  # set when the client disconnected before we finished
        self.started = False  # response headers sent

    async def read_body(self, limit: int) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                raise ClientGone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    def watch_disconnect(self) -> None:
        """From now on a client disconnect cancels the task handling this request."""
        if self._watcher is None:
            task = asyncio.current_task()
            assert task is not None
            self._watcher = asyncio.get_running_loop().create_task(self._watch(task))

    async def _watch(self, handler: asyncio.Task[Any]) -> None:
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                if not self._finished:
                    self.client_gone = True
                    handler.cancel()
                return

    def finish(self) -> None:
        self._finished = True
        if self._watcher is not None:
            self._watcher.cancel()

    async def respond(
        self, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
    ) -> None:
        headers = list(headers if headers is not None else JSON_HEADERS)
        headers.append((b"content-length", str(len(body)).encode()))
        self.started = True
        await self._send({"type": "http.response.start", "status": status, "headers": headers})
        await self._send({"type": "http.response.body", "body": body})

    async def json(
        self, status: int, body: Any, headers: list[tuple[bytes, bytes]] | None = None
    ) -> None:
        payload = json.dumps(body, separators=(",", ":")).encode()
        await self.respond(status, payload, [*JSON_HEADERS, *(headers or [])])

    async def start_stream(self, status: int = 200) -> None:
        self.started = True
        await self._send({"type": "http.response.start", "status": status, "headers": SSE_HEADERS})

    async def chunk(self, data: bytes) -> None:
        await self._send({"type": "http.response.body", "body": data, "more_body": True})

    async def end_stream(self, data: bytes = b"") -> None:
        await self._send({"type": "http.response.body", "body": data})

    async def start_sized(self, status: int, length: int) -> None:
        """Headers promising `length` bytes (for a fault that then sends fewer)."""
        headers = [*JSON_HEADERS, (b"content-length", str(length).encode())]
        self.started = True
        await self._send({"type": "http.response.start", "status": status, "headers": headers})

    async def drop(self) -> None:
        """Close the connection now, whatever was sent so far: the client sees a broken response."""
        transport = self._connections.get(self.scope.get("client")) if self._connections else None
        if transport is None:
            raise ConnectionDropped("fake engine dropped the connection (fault)")
        self._finished = True  # our own close is not the client going away
        if self._watcher is not None:
            self._watcher.cancel()
        transport.close()
        # Let the server see the close before the app returns, so it does not answer a 500.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2.0):
                while (await self._receive())["type"] != "http.disconnect":
                    pass
