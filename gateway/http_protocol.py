"""uvicorn's httptools protocol with two guards a shared endpoint needs against slow or broken
clients.

- A read deadline per request: its head and body must arrive within `read_timeout_s` of the
  first byte (of the connection, for its first request). uvicorn has no such timeout, so a
  client trickling a header or a body a byte at a time (slowloris) would hold a connection and
  a file descriptor for ever; here it gets a 408 and the connection is closed. A request whose
  answer has already started (a 401 sent before the body was read) is left to finish.
- A request head (request line and headers) over 64 KiB gets a 431: the parser has no limit
  of its own, and uvicorn would keep every header in memory.
- Requests the HTTP parser refuses (bad bytes in the request line, a broken header) get a
  400 in OpenAI's error shape instead of uvicorn's plain-text one.
"""

from __future__ import annotations

import asyncio
import functools
import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from shared.schemas.errors import error_body


def _canned(status: str, message: str, error_type: str, code: str) -> bytes:
    body = json.dumps(error_body(message, error_type, param=None, code=code)).encode()
    return (
        f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    ).encode() + body


_TIMED_OUT = _canned(
    "408 Request Timeout",
    "The request was not received in time; send the whole request without pauses.",
    "invalid_request_error",
    "request_timeout",
)
_HEAD_TOO_LARGE = _canned(
    "431 Request Header Fields Too Large",
    "The request's headers are too large.",
    "invalid_request_error",
    "headers_too_large",
)
_MAX_HEAD_BYTES = 64 * 1024
_BAD_REQUEST = _canned(
    "400 Bad Request",
    "The request is not valid HTTP.",
    "invalid_request_error",
    "invalid_http_request",
)


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, read_timeout_s: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._read_timeout_s = read_timeout_s
        self._read_timer: asyncio.TimerHandle | None = None
        self._head_bytes: int | None = 0  # bytes of the head being read; None once complete

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._head_bytes is not None:
            self._head_bytes += len(data)  # a chunk may hold the body too: judged after parsing
        super().data_received(data)
        if self._head_bytes is not None and self._head_bytes > _MAX_HEAD_BYTES:
            self._refuse(_HEAD_TOO_LARGE)

    def on_headers_complete(self) -> None:
        self._head_bytes = None
        super().on_headers_complete()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._read_timer is None:  # the next request on a kept-alive connection
            self._arm()

    def on_message_complete(self) -> None:
        self._disarm()
        self._head_bytes = 0  # a next request on this connection starts with its head
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        self._refuse(_BAD_REQUEST)

    def _refuse(self, answer: bytes) -> None:
        self._disarm()
        if not self.transport.is_closing():
            self.transport.write(answer)
            self.transport.close()

    def _arm(self) -> None:
        self._disarm()
        self._read_timer = self.loop.call_later(self._read_timeout_s, self._timed_out)

    def _disarm(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _timed_out(self) -> None:
        self._read_timer = None
        if self.transport.is_closing():
            return
        cycle = self.cycle  # until a new head is complete: the previous request's
        if cycle is not None and cycle.response_started and not cycle.response_complete:
            return  # the app is answering already; the rest of the body is not needed
        self.transport.write(_TIMED_OUT)
        self.transport.close()


def guarded_protocol(read_timeout_s: float) -> Any:
    """The `http=` option for uvicorn: a protocol factory (picklable, for worker processes)."""
    return functools.partial(GuardedHttpToolsProtocol, read_timeout_s=read_timeout_s)
