"""The fake engine as one raw ASGI app: route, record, inject the fault, answer.

See the package docstring for every route and control.
"""

from __future__ import annotations

import asyncio
from typing import Any

from services.fake_engine import responses, routes
from services.fake_engine.config import FakeEngineConfig, Fault, FaultSyntaxError
from services.fake_engine.exchange import (
    BodyTooLarge,
    ClientGone,
    ConnectionDropped,
    ConnectionRegistry,
    Exchange,
    Receive,
    Scope,
    Send,
)
from services.fake_engine.generation import RequestError, parse_generation, run_generation
from services.fake_engine.state import EngineState

MAX_BODY = 32 * 1024 * 1024
_GENERATION = {"/v1/chat/completions": True, "/v1/completions": False}  # path -> is chat
_BODY_ROUTES = {
    "/v1/embeddings": routes.embeddings,
    "/tokenize": routes.tokenize,
    "/detokenize": routes.detokenize,
    "/v1/chat/completions/render": routes.render,
}
_GET_ROUTES = {"/health": routes.health, "/metrics": routes.metrics, "/v1/models": routes.models}
_CONTROL_HEADERS = {b"x-fake-fault", b"x-fake-ttft-ms", b"x-fake-itl-ms", b"authorization"}


class FakeEngine:
    """An ASGI app shaped like vLLM's OpenAI server. Build it with `create_fake_engine`."""

    def __init__(
        self, config: FakeEngineConfig, connections: ConnectionRegistry | None = None
    ) -> None:
        self.state = EngineState(config)
        self.connections = connections

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        ex = Exchange(scope, receive, send, self.connections)
        try:
            await self._handle(ex)
        except asyncio.CancelledError:
            if not ex.client_gone:
                raise
            # The client went away: the request was counted as aborted; end quietly.
        finally:
            ex.finish()

    async def _handle(self, ex: Exchange) -> None:
        scope = ex.scope
        path: str = scope["path"]
        method: str = scope["method"]
        if path in _GET_ROUTES or path in ("/fake/stats", "/fake/control"):
            allowed = ("GET", "POST") if path == "/fake/control" else ("GET",)
        elif path in _GENERATION or path in _BODY_ROUTES or path == "/fake/reset":
            allowed = ("POST",)
        else:
            await ex.json(404, {"detail": "Not Found"})
            return
        if method not in allowed:
            await ex.json(405, {"detail": "Method Not Allowed"})
            return
        try:
            raw = await ex.read_body(MAX_BODY)
        except ClientGone:
            return
        except BodyTooLarge:
            await ex.json(413, responses.error_body(413, "request body too large"))
            return
        state = self.state
        if path.startswith("/fake/"):
            if path == "/fake/stats":
                await routes.stats(ex, state)
            elif path == "/fake/control":
                await routes.control(ex, state, raw)
            else:
                await routes.reset(ex, state)
            return

        headers = _control_headers(scope)
        state.stats.record(method, path, scope["headers"], raw)
        key = state.config.api_key
        # Like vLLM's --api-key: only /v1 routes need it, and its 401 body is not OpenAI's shape.
        if key and path.startswith("/v1") and headers.get(b"authorization") != f"Bearer {key}":
            state.stats.rejected += 1
            await ex.json(401, {"error": "Unauthorized"})
            return
        try:
            fault, ttft_ms, itl_ms = self._request_controls(headers, inference=method == "POST")
        except RequestError as exc:
            state.stats.rejected += 1
            await ex.json(exc.status, responses.error_body(exc.status, exc.message, exc.param))
            return
        if fault is not None and not await self._early_fault(ex, fault):
            return
        try:
            if path in _GENERATION:
                body = routes.decode_json_body(raw)
                gen = parse_generation(body, chat=_GENERATION[path], state=state)
                await self._generate(ex, gen, fault, ttft_ms, itl_ms)
            elif method == "GET":
                await _GET_ROUTES[path](ex, state)
            else:
                await _BODY_ROUTES[path](ex, state, routes.decode_json_body(raw))
        except RequestError as exc:
            state.stats.rejected += 1
            await ex.json(exc.status, responses.error_body(exc.status, exc.message, exc.param))

    def _request_controls(
        self, headers: dict[bytes, str], *, inference: bool
    ) -> tuple[Fault | None, float, float]:
        controls = self.state.controls
        fault: Fault | None = None
        if b"x-fake-fault" in headers:
            try:
                fault = Fault.parse(headers[b"x-fake-fault"])
            except FaultSyntaxError as exc:
                raise RequestError(400, str(exc), "x-fake-fault") from None
        elif inference and controls.fault is not None:
            fault = controls.take_global_fault()
        return (
            fault,
            _header_ms(headers, b"x-fake-ttft-ms", controls.ttft_ms),
            _header_ms(headers, b"x-fake-itl-ms", controls.itl_ms),
        )

    async def _early_fault(self, ex: Exchange, fault: Fault) -> bool:
        """Faults that strike before the route runs; False when the request is over."""
        stats = self.state.stats
        if fault.kind == "slow-first-byte":
            ex.watch_disconnect()
            try:
                await asyncio.sleep((fault.arg or 0) / 1000)
            except asyncio.CancelledError:
                if ex.client_gone:
                    stats.aborted += 1
                raise
            return True
        if fault.kind in ("die-mid-stream", "error-mid-stream"):
            return True  # strikes inside the answer
        stats.faulted += 1
        if fault.kind == "status":
            status = fault.arg or 500
            await ex.json(status, responses.error_body(status, f"fake fault: status {status}"))
        elif fault.kind == "close-before-headers":
            await ex.drop()
        elif fault.kind == "hang":
            ex.watch_disconnect()
            try:
                await asyncio.Event().wait()  # until the client gives up
            except asyncio.CancelledError:
                if ex.client_gone:
                    stats.aborted += 1
                raise
        return False

    async def _generate(
        self, ex: Exchange, gen: Any, fault: Fault | None, ttft_ms: float, itl_ms: float
    ) -> None:
        state = self.state
        stats = state.stats
        slots = state.slots
        stats.started += 1
        if gen.stream or ttft_ms or itl_ms or slots.running >= slots.capacity or fault:
            ex.watch_disconnect()  # an answer that waits can be abandoned, as in vLLM
        try:
            await slots.acquire()
            try:
                await run_generation(ex, gen, state, fault, ttft_ms, itl_ms)
            finally:
                slots.release()
        except asyncio.CancelledError:
            if ex.client_gone:
                stats.aborted += 1
            raise
        except ConnectionDropped:
            stats.faulted += 1
            raise
        if fault is not None and fault.kind in ("die-mid-stream", "error-mid-stream"):
            stats.faulted += 1
        else:
            stats.completed += 1


def create_fake_engine(
    config: FakeEngineConfig | None = None, *, connections: ConnectionRegistry | None = None
) -> FakeEngine:
    """A fake vLLM OpenAI server. `connections` lets faults close sockets (see `server`)."""
    return FakeEngine(config or FakeEngineConfig(), connections)


def _control_headers(scope: Scope) -> dict[bytes, str]:
    found: dict[bytes, str] = {}
    for name, value in scope["headers"]:
        lowered = name.lower()
        if lowered in _CONTROL_HEADERS:
            found[lowered] = value.decode("latin-1")
    return found


def _header_ms(headers: dict[bytes, str], name: bytes, default: float) -> float:
    raw = headers.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 3_600_000:
        raise RequestError(
            400, f"{name.decode()} must be milliseconds from 0 to 3600000.", name.decode()
        )
    return value


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
