"""Opt-in logging of prompts and answers (`TOLLGATE_LOG_CONTENT=true`), redacted and truncated.

Off by default: the gateway's own log lines carry ids, counts and timings, never text a user
typed or a model wrote. When an operator turns it on (to debug a model, say), each proxied
request gets one extra `request content` line with the prompt and the answer as plain text,
after `redact_content` (keys, tokens, e-mail addresses, long secrets) and cut to
`log_content_max_chars` each.

It is an ASGI middleware on the proxied routes that copies the bytes going in and out (up to
a bound) and reads the text from them after the response ended: the proxy itself stays
unaware of it, and nothing is copied while the setting is off (the middleware is not added).
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar.config.app import AppConfig
from litestar.middleware import DefineMiddleware
from litestar.plugins import InitPluginProtocol

from gateway.observability.context import record_of
from gateway.proxy.routes import PROXY_ROUTES
from shared.logging import get_logger
from shared.redaction import redact_content
from shared.settings import Settings

_log = get_logger("tollgate.content")
_PATHS = frozenset(route.path for route in PROXY_ROUTES if route.method == "POST")


def _texts(value: Any, out: list[str]) -> None:
    """Every string under the fields that hold text, in document order."""
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, list):
        for item in value:
            _texts(item, out)
    elif isinstance(value, dict):
        for key in ("content", "text", "prompt", "input", "messages", "system", "delta"):
            if key in value:
                _texts(value[key], out)
        for key in ("message", "choices", "output"):
            if key in value:
                _texts(value[key], out)


def prompt_text(body: bytes) -> str:
    try:
        document = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return ""
    out: list[str] = []
    if isinstance(document, dict):
        for key in ("system", "messages", "prompt", "input"):
            if key in document:
                _texts(document[key], out)
    return "\n".join(out)


def answer_text(body: bytes) -> str:
    """The text of a JSON answer, or of a stream's events (`data: {...}` lines) joined."""
    out: list[str] = []
    if body.lstrip()[:1] == b"{":
        try:
            document = msgspec.json.decode(body)
        except msgspec.DecodeError:
            return ""
        for key in ("choices", "output", "content"):
            if isinstance(document, dict) and key in document:
                _texts(document[key], out)
        return "\n".join(out)
    for line in body.split(b"\n"):
        if not line.startswith(b"data:"):
            continue
        payload = line[5:].strip()
        if payload[:1] != b"{":
            continue
        try:
            event = msgspec.json.decode(payload)
        except msgspec.DecodeError:
            continue
        if isinstance(event, dict):
            for key in ("choices", "delta"):
                if key in event:
                    _texts(event[key], out)
    return "".join(out)


def _clip(text: str, limit: int) -> str:
    text = redact_content(text)
    return text if len(text) <= limit else text[:limit] + f"… [{len(text) - limit} more chars]"


class ContentLogMiddleware:
    def __init__(self, app: Any, *, max_chars: int) -> None:
        self.app = app
        self.max_chars = max_chars
        # Bytes kept per direction: enough for max_chars of text after JSON and SSE framing.
        self.max_bytes = max(64 * 1024, max_chars * 16)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("path_template", scope["path"]) not in _PATHS:
            await self.app(scope, receive, send)
            return
        sent: list[bytes] = []
        received: list[bytes] = []
        limit = self.max_bytes
        sizes = [0, 0]

        async def tee_receive() -> Any:
            message = await receive()
            body = message.get("body", b"")
            if body and sizes[0] < limit:
                received.append(body)
                sizes[0] += len(body)
            return message

        async def tee_send(message: dict[str, Any]) -> None:
            body = message.get("body", b"") if message["type"] == "http.response.body" else b""
            if body and sizes[1] < limit:
                sent.append(body)
                sizes[1] += len(body)
            await send(message)

        try:
            await self.app(scope, tee_receive, tee_send)
        finally:
            self._emit(scope, b"".join(received), b"".join(sent))

    def _emit(self, scope: Any, request: bytes, response: bytes) -> None:
        record = record_of(scope)
        try:
            prompt, answer = prompt_text(request), answer_text(response)
        except Exception:  # malformed bodies are the engine's business, not a log failure
            prompt, answer = "", ""
        _log.info(
            "request content",
            key_id=record.principal.id if record and record.principal else None,
            model=record.model if record else None,
            prompt=_clip(prompt, self.max_chars),
            answer=_clip(answer, self.max_chars),
        )


class ContentLogPlugin(InitPluginProtocol):
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        if self._settings.log_content:
            _log.warning(
                "content logging is on: prompts and answers are logged (redacted, truncated)"
            )
            app_config.middleware.append(
                DefineMiddleware(
                    ContentLogMiddleware, max_chars=self._settings.log_content_max_chars
                )
            )
        return app_config
