"""The outermost layer of every HTTP request: request id, response headers, one log line.

It wraps the whole application (routing, 404s and exception handling included), so every
response carries `x-request-id` and every request ends in exactly one log line, errors and
streams alike. It is a plain ASGI wrapper rather than a Litestar middleware because those
run only for matched routes.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable, Iterable
from typing import Any

import structlog

from gateway.observability.context import RECORD_SCOPE_KEY, RequestRecord
from gateway.observability.headers import OVERHEAD, REQUEST_ID, SECURITY_HEADERS
from shared.logging import get_logger

# A client's id is kept when it is short and harmless in logs and headers; otherwise we make one.
_CLIENT_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:@/+=-]{1,128}")
# Probes and scrapes every few seconds would drown the request log.
_QUIET_PATHS = frozenset({"/health", "/ready", "/metrics"})
_log = get_logger("tollgate.requests")

ASGIApp = Any  # (scope, receive, send) -> Awaitable[None]


def _request_id(headers: list[tuple[bytes, bytes]]) -> bytes:
    for name, value in headers:
        if name == REQUEST_ID:
            if _CLIENT_REQUEST_ID.fullmatch(value):
                return value
            break
    return secrets.token_hex(16).encode()


class AccessLog:
    """Writes one structured line per request from its record; the key itself is never known here."""

    def __init__(self, logger: structlog.stdlib.BoundLogger | None = None) -> None:
        self._logger = logger or get_logger("tollgate.access")

    def emit(self, record: RequestRecord, finished: float) -> None:
        principal = record.principal
        usage = record.usage
        fields: dict[str, Any] = {
            "request_id": record.request_id,
            "key_id": principal.id if principal else None,
            "key_name": principal.name if principal else None,
            "method": record.method,
            "route": record.route or record.path,
            "model": record.model,
            "status": record.status,
            "upstream": record.upstream,
            "latency_ms": round((finished - record.started) * 1000.0, 3),
            "ttfb_ms": record.ttfb_ms,
            "prompt_tokens": usage.prompt_tokens if usage else None,
            "completion_tokens": usage.completion_tokens if usage else None,
            "stream": record.stream,
            "client_disconnected": record.client_disconnected,
            "error": record.error,
            "queued_ms": record.queued_ms,
        }
        if record.quiet and record.status < 400:
            self._logger.debug("request", **fields)
        elif record.status >= 500:
            self._logger.warning("request", **fields)
        else:
            self._logger.info("request", **fields)


RequestListener = Callable[[RequestRecord, dict[str, Any]], None]


class RequestContext:
    """Runs `app` for one HTTP request with its record, request id and access-log line.

    `listeners` (e.g. HTTP metrics) get every finished request's record and scope; they are
    synchronous, must be quick, and one that raises is logged and skipped.
    """

    def __init__(self, access_log: AccessLog, listeners: Iterable[RequestListener] = ()) -> None:
        self._access_log = access_log
        self.listeners: tuple[RequestListener, ...] = tuple(listeners)

    async def __call__(self, app: ASGIApp, scope: dict[str, Any], receive: Any, send: Any) -> None:
        request_id = _request_id(scope["headers"])
        path: str = scope["path"]
        record = RequestRecord(
            request_id=request_id.decode(),
            method=scope["method"],
            path=path,
            started=time.perf_counter(),
            quiet=path in _QUIET_PATHS,
        )
        scope[RECORD_SCOPE_KEY] = record
        added = ((REQUEST_ID, request_id), *SECURITY_HEADERS)

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                record.status = message["status"]
                message["headers"] = [*message.get("headers", ()), *added]
                if record.route is not None:  # set by the proxy: a proxied request
                    overhead = record.overhead_ms(time.perf_counter())
                    message["headers"].append((OVERHEAD, str(overhead).encode()))
            await send(message)

        # Any log line written while serving this request carries its id.
        with structlog.contextvars.bound_contextvars(request_id=record.request_id):
            try:
                await app(scope, receive, send_with_headers)
            except BaseException:
                if not record.status:
                    record.status = 500
                raise
            finally:
                if record.route is None:  # routes the proxy did not name: Litestar's template
                    record.route = scope.get("path_template")
                self._access_log.emit(record, time.perf_counter())
                for listener in self.listeners:
                    try:
                        listener(record, scope)
                    except Exception:
                        _log.exception("request listener failed", listener=repr(listener))
