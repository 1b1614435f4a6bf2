"""OpenAI's error shape: `{"error": {"message", "type", "param", "code"}}`.

Used for HTTP errors, validation errors and the final SSE event of a failed stream alike, so
the OpenAI SDK raises its matching exception class for each.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | int | None = None


class ErrorResponse(BaseModel):
    error: ErrorDetail


def error_body(
    message: str, type_: str, *, param: str | None = None, code: str | int | None = None
) -> dict[str, Any]:
    """The plain-dict form, cheap to build on the hot path."""
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}
