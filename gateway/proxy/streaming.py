"""Relaying an engine's server-sent events, and noticing a client that left.

Chunks go to the client as the engine's socket delivers them (the raw byte stream: no
decoding, no re-framing, no buffering). A client that disconnects cancels the relay at once, which closes
the engine connection, and vLLM aborts that generation. An engine that fails or falls silent
for longer than the idle limit ends the stream with one final `data: {"error": ...}` event in
OpenAI's shape, so SDKs raise instead of waiting forever.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from types import TracebackType
from typing import Any

import httpx
import msgspec

from gateway.errors import BadGateway, GatewayError, UpstreamTimeout
from gateway.observability.headers import RawHeaders
from gateway.proxy.bodies import ClientDisconnected
from gateway.proxy.exchange import Exchange
from gateway.proxy.responses import usage_from_stream_tail
from gateway.proxy.stream_usage import UsageEventFilter

_EVENT_END = (b"\n\n", b"\r\n\r\n", b"\r\r")


class DisconnectWatch:
    """`async with DisconnectWatch(receive):` cancels the block when the client disconnects and
    raises ClientDisconnected instead. The request body must have been read already."""

    __slots__ = ("_receive", "_task", "_watcher", "disconnected")

    def __init__(self, receive: Any) -> None:
        self._receive = receive
        self.disconnected = False

    async def __aenter__(self) -> DisconnectWatch:
        task = asyncio.current_task()
        assert task is not None
        self._task = task
        self._watcher = asyncio.get_running_loop().create_task(self._watch())
        return self

    async def _watch(self) -> None:
        while (await self._receive())["type"] != "http.disconnect":
            pass
        self.disconnected = True
        # The block is suspended at an await (this task could not run otherwise), so the
        # cancellation lands inside it.
        self._task.cancel()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._watcher.cancel()  # synchronously: it cannot fire once the block is left
        if self.disconnected and exc_type is asyncio.CancelledError and self._task.uncancel() == 0:
            raise ClientDisconnected from None


class UpstreamStream:
    """The ASGI response relaying one engine stream; it finishes the exchange when done."""

    __slots__ = (
        "_deadline",
        "_events",
        "_exchange",
        "_headers",
        "_idle_s",
        "_response",
        "_status",
        "_usage_filter",
    )

    def __init__(
        self,
        exchange: Exchange,
        response: httpx.Response,
        headers: RawHeaders,
        *,
        deadline: float,
        idle_s: float,
        usage_filter: UsageEventFilter | None = None,
    ) -> None:
        self._exchange = exchange
        # Removes the usage event the gateway asked for and the client did not (stream_usage.py).
        self._usage_filter = usage_filter
        self._response = response
        self._status = response.status_code
        self._headers = headers
        self._deadline = deadline
        self._idle_s = idle_s
        self._events = 0  # SSE events relayed (blank-line terminated), for usage estimates

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        exchange = self._exchange
        tail: deque[bytes] = deque(maxlen=3)
        error: GatewayError | None = None
        disconnected = False
        try:
            await send(
                {"type": "http.response.start", "status": self._status, "headers": self._headers}
            )
            async with DisconnectWatch(receive):
                error = await self._relay(send, tail)
        except ClientDisconnected:
            disconnected = True
        finally:
            await self._response.aclose()
            if self._usage_filter is not None and not disconnected:
                rest = self._usage_filter.flush()
                if rest:
                    await send({"type": "http.response.body", "body": rest, "more_body": True})
            if error is not None:
                await self._send_error(send, tail, error)
            usage = usage_from_stream_tail(tail) if tail else None
            status = 499 if disconnected else self._status
            # Settled before the client sees the end: its next request meets released slots
            # and counted tokens.
            await exchange.finish(
                status,
                usage=usage,
                error=(error.code or error.type) if error else None,
                disconnected=disconnected,
                stream_events=self._events,
            )
            if not disconnected:
                await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _relay(self, send: Any, tail: deque[bytes]) -> GatewayError | None:
        """Copy chunks until the engine's stream ends; an engine failure is returned."""
        loop = asyncio.get_running_loop()
        deadline, idle_s = self._deadline, self._idle_s
        record = self._exchange.record
        first = True
        usage_filter = self._usage_filter
        events = 0
        open_line = False  # the previous chunk ended inside an event, right after a newline
        # Re-arming the timer costs a heap operation: done at most every 5% of the idle limit,
        # so a stream is ended after 95-100% of `idle_s` of silence.
        rearm_every = idle_s * 0.05
        rearm_at = loop.time() + rearm_every
        try:
            async with asyncio.timeout_at(min(deadline, loop.time() + idle_s)) as limit:
                # The transport's own byte stream: httpx's `aiter_raw` adds per-chunk layers
                # (chunker, byte counting) this relay does not need; errors are httpx's alike.
                async for chunk in self._response.stream:  # type: ignore[union-attr]
                    if first:
                        record.ttfb_ms = round((time.perf_counter() - record.started) * 1000.0, 3)
                        first = False
                    # The last few chunks are kept: the usage event is at the end, and a
                    # final error event must start on an event boundary.
                    tail.append(chunk)
                    events += chunk.count(b"\n\n") + (open_line and chunk[:1] == b"\n")
                    open_line = chunk[-1:] == b"\n" and chunk[-2:] != b"\n\n"
                    body = chunk if usage_filter is None else usage_filter.feed(chunk)
                    if body:
                        await send({"type": "http.response.body", "body": body, "more_body": True})
                    # Silence is counted from when the client took the chunk: a slow reader
                    # is not an idle engine.
                    now = loop.time()
                    if now >= rearm_at:
                        limit.reschedule(min(deadline, now + idle_s))
                        rearm_at = now + rearm_every
        except TimeoutError:
            if loop.time() >= deadline - 0.001:
                return UpstreamTimeout("The engine's answer took longer than the gateway allows.")
            return UpstreamTimeout(
                f"The engine sent nothing for {idle_s:g} s; the stream was ended.",
                code="engine_idle_timeout",
            )
        except httpx.HTTPError as exc:
            return BadGateway(
                f"The engine's stream broke off ({type(exc).__name__}).", code="engine_stream_error"
            )
        finally:
            self._events = events  # also when the client left (the relay was cancelled)
        return None

    @staticmethod
    async def _send_error(send: Any, tail: deque[bytes], error: GatewayError) -> None:
        # Start on an event boundary, even if the engine stopped in the middle of an event.
        last = tail[-1] if tail else b"\n\n"
        prefix = b"" if last.endswith(_EVENT_END) else b"\n\n"
        event = prefix + b"data: " + msgspec.json.encode(error.body()) + b"\n\n"
        await send({"type": "http.response.body", "body": event, "more_body": True})
