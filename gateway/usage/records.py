"""One ledger row from one proxied request's outcome, with an estimate where the engine was silent.

The engine's own usage is taken whenever it reported any: the body's `usage`, a stream's final
usage event, or (a stream with `continuous_usage_stats`) the last event before a disconnect,
which counts the tokens generated until the abort. When a request reached the engine and may
have generated tokens but no usage came back (a stream without `include_usage`, a client that
left), the counts are estimated from what the gateway saw and the row says so.
"""

from __future__ import annotations

import uuid
from typing import Any

from gateway.proxy.hooks import ProxyOutcome
from shared.redaction import redact_secrets

# About four bytes of request JSON per prompt token: a deliberate over-estimate for chat
# bodies (JSON syntax and roles count too), used only when the engine reported nothing.
_BYTES_PER_TOKEN = 4
_CHAT_ROUTES = frozenset({"/v1/chat/completions"})

_LIMITS = {
    "request_id": 128,
    "key_id": 40,
    "team": 200,
    "model": 200,
    "upstream": 200,
    "route": 100,
    "error": 64,
}


def _cut(value: str | None, field: str) -> str | None:
    if value is None:
        return None
    limit = _LIMITS[field]
    return value if len(value) <= limit else value[:limit]


def needs_estimate(outcome: ProxyOutcome) -> bool:
    """The engine got the request and may have generated tokens, but reported no usage."""
    usage = outcome.usage
    reported = usage is not None and (
        usage.prompt_tokens is not None or usage.completion_tokens is not None
    )
    if reported or outcome.upstream is None:
        return False
    if outcome.stream:
        return True
    # A non-streamed answer abandoned by its client: the engine worked, its answer is lost.
    return outcome.client_disconnected


def estimate_tokens(outcome: ProxyOutcome) -> tuple[int, int]:
    """(prompt, completion) estimated from the request's size and the stream events relayed."""
    prompt = max(1, round(outcome.request_bytes / _BYTES_PER_TOKEN)) if outcome.request_bytes else 0
    events = outcome.stream_events
    if outcome.route in _CHAT_ROUTES and events:
        events -= 1  # the first chat chunk carries only the role
    if not outcome.client_disconnected and outcome.status < 400 and events:
        events -= 1  # the closing `data: [DONE]`
    return prompt, max(0, events)


def ledger_row(outcome: ProxyOutcome) -> dict[str, Any]:
    """The `usage_records` row of one outcome (column name -> value)."""
    usage = outcome.usage
    prompt = usage.prompt_tokens if usage is not None else None
    completion = usage.completion_tokens if usage is not None else None
    cached = usage.cached_tokens if usage is not None else None
    estimated = needs_estimate(outcome)
    if estimated:
        prompt, completion = estimate_tokens(outcome)
    principal = outcome.principal
    return {
        "row_uid": uuid.uuid4().hex,  # the writer's retries insert each row at most once
        "started_at": outcome.started_at,
        "request_id": _cut(outcome.request_id, "request_id"),
        "key_id": _cut(principal.id, "key_id"),
        "team": _cut(principal.team, "team"),
        # A key pasted into the model field must not be stored (the log redacts it too).
        "model": _cut(redact_secrets(outcome.model) if outcome.model else None, "model"),
        "upstream": _cut(outcome.upstream, "upstream"),
        "route": _cut(outcome.route, "route"),
        "status": outcome.status,
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "cached_tokens": cached,
        "latency_ms": outcome.latency_ms,
        # A non-streamed answer arrives whole: its first byte is its last, not a first token.
        "ttft_ms": outcome.ttfb_ms if outcome.stream else None,
        "queued_ms": outcome.queued_ms,
        "streamed": outcome.stream,
        "client_disconnected": outcome.client_disconnected,
        "error": _cut(outcome.error, "error"),
        "usage_estimated": estimated,
    }
