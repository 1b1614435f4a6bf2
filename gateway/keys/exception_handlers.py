"""Errors from the keys and admin routes, in OpenAI's shape.

The app-wide handlers of gateway/exception_handlers.py render every error; these controllers
register them too (so the plugin answers correctly in any app) and add one thing: a body that
fails validation names the offending field in `param`, with a readable message.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.types import ExceptionHandlersMap

from gateway.errors import GatewayError, InvalidRequest
from gateway.exception_handlers import gateway_error, http_exception


def _validation_message(exc: ValidationException) -> tuple[str, str | None]:
    """Litestar's list of field errors as one sentence, naming the first bad field."""
    problems = exc.extra if isinstance(exc.extra, list) else []
    parts: list[str] = []
    param: str | None = None
    for problem in problems:
        if not isinstance(problem, dict):
            continue
        message = str(problem.get("message", "invalid value")).removeprefix("Value error, ")
        key = problem.get("key")
        if key and param is None:
            param = str(key)
        parts.append(f"{key}: {message}" if key else message)
    if not parts:
        return f"Invalid request: {exc.detail}", None
    return "Invalid request: " + "; ".join(parts), param


def validation_error(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    message, param = _validation_message(exc)
    return gateway_error(request, InvalidRequest(message, param=param, code="invalid_value"))


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    GatewayError: gateway_error,
    ValidationException: validation_error,
    HTTPException: http_exception,
}
