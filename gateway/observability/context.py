"""What the gateway learns about one request while serving it.

The request middleware creates one `RequestRecord` per HTTP request and keeps it in the ASGI
scope; the layers that learn something (auth: the key; the proxy: model, upstream, usage,
timings) fill it in, and the middleware writes it out as the request's one log line when the
response is finished (for a stream: when the stream ended).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.keys.principal import KeyPrincipal

RECORD_SCOPE_KEY = "tollgate.record"


@dataclass(slots=True)
class Usage:
    """Token counts of one answer, when the engine reported them."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int | None = None  # prompt tokens served from the engine's prefix cache

    @property
    def total_tokens(self) -> int | None:
        if self.prompt_tokens is None and self.completion_tokens is None:
            return None
        return (self.prompt_tokens or 0) + (self.completion_tokens or 0)


@dataclass(slots=True, eq=False)
class RequestRecord:
    request_id: str
    method: str
    path: str
    started: float  # time.perf_counter() when the request arrived
    route: str | None = None  # the route's template, e.g. /v1/chat/completions
    status: int = 0
    principal: KeyPrincipal | None = None
    model: str | None = None
    upstream: str | None = None
    stream: bool = False
    ttfb_ms: float | None = (
        None  # first body byte to the client (non-streamed: the engine's answer)
    )
    usage: Usage | None = None
    client_disconnected: bool = False
    error: str | None = None  # an error code when the request failed, e.g. engine_timeout
    quiet: bool = False  # probes (/health, /ready) are logged at debug level only
    queued_ms: float | None = None  # time in admission (limits, the fair queue); None: none ran
    # time.perf_counter() when the request went to the engine and when its answer (a stream:
    # its headers) was back; what lies between is the engine's time, not the gateway's.
    engine_sent: float | None = None
    engine_answered: float | None = None

    def overhead_ms(self, now: float) -> float:
        """The gateway's own time so far (queueing included), without the engine's."""
        total = now - self.started
        if self.engine_sent is not None:
            total -= (self.engine_answered or now) - self.engine_sent
        return round(max(total, 0.0) * 1000.0, 3)


def record_of(scope: dict[str, Any] | Any) -> RequestRecord | None:
    """The record of the request a scope belongs to (None outside the gateway's middleware)."""
    record: RequestRecord | None = scope.get(RECORD_SCOPE_KEY)
    return record


def bind_principal(scope: dict[str, Any] | Any, principal: KeyPrincipal) -> None:
    """Put the authenticated key on the request's log line (its id and name, never the key)."""
    record = scope.get(RECORD_SCOPE_KEY)
    if record is not None:
        record.principal = principal
