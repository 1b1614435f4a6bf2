"""What goes back to the client: the engine's bytes, and the few facts read from them.

Responses are plain ASGI callables with pre-encoded headers: the engine's body is sent as the
engine wrote it. Usage is read from a finished body or from a stream's last usage event only;
an engine error that is not in OpenAI's shape (FastAPI's `{"detail": ...}`) is wrapped into it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from gateway.keys.principal import KeyPrincipal
from gateway.observability.context import Usage
from gateway.observability.headers import RawHeaders
from shared.redaction import redact_secrets
from shared.schemas.errors import error_body

JSON_HEADERS: RawHeaders = [(b"content-type", b"application/json")]


class RawResponse:
    """A complete response whose body is already bytes."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: RawHeaders, body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.headers.append((b"content-length", str(len(self.body)).encode()))
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        await send({"type": "http.response.body", "body": self.body, "more_body": False})


# --- usage -------------------------------------------------------------------------------


class _Details(msgspec.Struct):
    cached_tokens: int | None = None


class _Counts(msgspec.Struct):
    # OpenAI chat/completions/embeddings name them prompt/completion; the Responses and
    # Anthropic Messages APIs name them input/output.
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    prompt_tokens_details: _Details | None = None  # OpenAI chat and completions
    input_tokens_details: _Details | None = None  # Responses API
    cache_read_input_tokens: int | None = None  # Anthropic Messages API


class _Inner(msgspec.Struct):
    usage: _Counts | None = None


class _WithUsage(msgspec.Struct):
    usage: _Counts | None = None
    response: _Inner | None = None  # Responses API stream events: response.completed
    message: _Inner | None = None  # Anthropic stream: message_start


_usage_decoder = msgspec.json.Decoder(_WithUsage)


def _usage(document: bytes | memoryview) -> Usage | None:
    try:
        parsed = _usage_decoder.decode(document)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    counts = parsed.usage
    if counts is None:
        inner = parsed.response or parsed.message
        counts = inner.usage if inner is not None else None
    if counts is None:
        return None
    prompt = counts.prompt_tokens if counts.prompt_tokens is not None else counts.input_tokens
    completion = (
        counts.completion_tokens if counts.completion_tokens is not None else counts.output_tokens
    )
    if prompt is None and completion is None:
        return None
    details = counts.prompt_tokens_details or counts.input_tokens_details
    cached = details.cached_tokens if details is not None else counts.cache_read_input_tokens
    return Usage(prompt_tokens=prompt, completion_tokens=completion, cached_tokens=cached)


def usage_from_body(body: bytes) -> Usage | None:
    """Token counts of a non-streamed answer (its top-level `usage`)."""
    if b'"usage"' not in body:
        return None
    return _usage(body)


def usage_from_stream_tail(chunks: Iterable[bytes]) -> Usage | None:
    """Token counts from the last SSE event that carries a usage object.

    `chunks` are the stream's last few raw reads; an event may span two of them, so they are
    joined before the events are split.
    """
    tail = b"".join(chunks)
    for line in reversed(tail.split(b"\n")):
        if b'"usage"' not in line:
            continue
        payload = line[5:].lstrip() if line.startswith(b"data:") else None
        if payload and payload[:1] == b"{":
            usage = _usage(payload)
            if usage is not None:
                return usage
    return None


# --- engine errors -------------------------------------------------------------------------

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


def engine_error(status: int, body: bytes) -> bytes | None:
    """None when the engine's error body is already in OpenAI's shape (it is then sent as is),
    else the same message in that shape; a key quoted in the message is redacted either way."""
    try:
        document = msgspec.json.decode(body) if body else None
    except msgspec.DecodeError:
        document = None
    if isinstance(document, dict):
        error = document.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            # The engine may quote what it was sent (a key pasted as the model name).
            redacted = redact_secrets(error["message"])
            if redacted == error["message"]:
                return None
            error["message"] = redacted
            return msgspec.json.encode(document)
        detail = document.get("detail", error)
        message = detail if isinstance(detail, str) else msgspec.json.encode(detail).decode()
    else:
        message = body.decode("utf-8", "replace").strip()[:1000]
    message = redact_secrets(message)
    if not message or message == "null":
        message = f"The engine answered with status {status}."
    error_type = _ERROR_TYPES.get(
        status, "upstream_error" if status >= 500 else "invalid_request_error"
    )
    return msgspec.json.encode(error_body(message, error_type, code=status))


# --- model listing ---------------------------------------------------------------------------


def models_for(principal: KeyPrincipal, body: bytes) -> bytes:
    """/v1/models as this key sees it: only the models it may use."""
    if principal.allowed_models is None:
        return body
    try:
        listing = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return body
    if not isinstance(listing, dict) or not isinstance(listing.get("data"), list):
        return body
    listing["data"] = [
        m for m in listing["data"] if isinstance(m, dict) and principal.may_use(str(m.get("id")))
    ]
    return msgspec.json.encode(listing)
