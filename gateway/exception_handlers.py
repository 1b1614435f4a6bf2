"""One response shape for every error: OpenAI's `{"error": {...}}`, so SDKs raise the right class.

Our own `GatewayError`s render themselves; Litestar's HTTP exceptions (unknown route, wrong
method, bad path parameter, body too large) are translated into the matching gateway error;
anything unexpected is logged with its traceback and answered with a bare 500 that says no more
than the request id.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException
from litestar.types import ExceptionHandlersMap

from gateway.errors import (
    AuthenticationFailed,
    GatewayError,
    InvalidRequest,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    UnprocessableBody,
)
from gateway.observability.context import record_of
from shared.logging import get_logger
from shared.schemas.errors import error_body

_log = get_logger("tollgate.errors")

_BY_STATUS: dict[int, type[GatewayError]] = {
    400: InvalidRequest,
    401: AuthenticationFailed,
    403: PermissionDenied,
    404: NotFound,
    405: MethodNotAllowed,
    413: PayloadTooLarge,
    422: UnprocessableBody,
    429: RateLimited,
}


def _json(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> Response[bytes]:
    return Response(
        content=msgspec.json.encode(body),
        status_code=status,
        headers=headers,
        media_type="application/json",
    )


def _note(request: Request[Any, Any, Any], code: str | None) -> None:
    record = record_of(request.scope)
    if record is not None and record.error is None:
        record.error = code


def gateway_error(request: Request[Any, Any, Any], exc: GatewayError) -> Response[bytes]:
    _note(request, exc.code or exc.type)
    return _json(exc.status, exc.body(), exc.headers)


def http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    """Litestar's own HTTP errors, in the gateway's shape."""
    status = exc.status_code
    if status == 404:
        message = f"Unknown route: {request.method} {request.url.path}"
    elif status == 405:
        message = f"Method {request.method} is not allowed on {request.url.path}."
    else:
        message = exc.detail or "Request failed."
        if isinstance(exc.extra, list) and exc.extra:
            message = f"{message}: {msgspec.json.encode(exc.extra).decode()}"
    error_class = _BY_STATUS.get(status)
    if error_class is not None:
        error = error_class(message, headers=dict(exc.headers or {}))
        return gateway_error(request, error)
    # Any other status keeps its number; the type says only which side failed.
    error_type = "invalid_request_error" if status < 500 else "server_error"
    _note(request, error_type)
    return _json(status, error_body(message, error_type), dict(exc.headers or {}))


def unexpected_error(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    record = record_of(request.scope)
    request_id = record.request_id if record is not None else None
    _log.error("unhandled error", exc_info=exc, path=request.url.path)
    _note(request, "internal_error")
    return _json(
        500,
        error_body(
            f"The gateway failed to handle this request (request id {request_id}).",
            "server_error",
            code="internal_error",
        ),
    )


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    GatewayError: gateway_error,
    HTTPException: http_exception,
    Exception: unexpected_error,
}
