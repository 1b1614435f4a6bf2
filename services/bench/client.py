"""One measured request: time to first token, gaps between tokens, end to end, or why it failed.

Streams are read as raw bytes and split on the SSE event separator; only events that carry
text count as tokens (vLLM's first chunk carries just the role). The output token count comes
from the usage chunk (the body asks for it), else from the events seen.
"""

from __future__ import annotations

import json
import time
from array import array
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(slots=True)
class RequestRecord:
    """Times are seconds; `start` is `time.perf_counter()` (CLOCK_MONOTONIC, shared by processes)."""

    start: float
    e2e: float
    ok: bool
    error: str | None = None
    ttft: float | None = None
    prompt_tokens: int = 0
    output_tokens: int = 0


def error_kind(exc: BaseException) -> str:
    """A short stable name for a failure, for the errors-by-kind table."""
    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    if isinstance(exc, httpx.ConnectError):
        return "connect_error"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "connection_broken"
    if isinstance(exc, httpx.ReadError | httpx.WriteError):
        return "connection_reset"
    return f"client_{type(exc).__name__}"


def _text_of(event: dict[str, Any]) -> str | None:
    choices = event.get("choices")
    if not choices:
        return None
    choice = choices[0]
    delta = choice.get("delta")
    if delta is not None:
        return delta.get("content") or delta.get("reasoning_content") or delta.get("reasoning")
    return choice.get("text")


async def measure(
    client: httpx.AsyncClient, path: str, body: bytes, headers: dict[str, str], gaps: array[float]
) -> RequestRecord:
    """Send one request; appends this answer's inter-token gaps to `gaps`."""
    clock = time.perf_counter
    start = clock()
    try:
        async with client.stream("POST", path, content=body, headers=headers) as response:
            if response.status_code != 200:
                await response.aread()
                return RequestRecord(start, clock() - start, False, f"http_{response.status_code}")
            if not response.headers.get("content-type", "").startswith("text/event-stream"):
                return _plain(start, await response.aread())
            return await _stream(response, start, gaps)
    except httpx.HTTPError as exc:
        return RequestRecord(start, clock() - start, False, error_kind(exc))


def _plain(start: float, raw: bytes) -> RequestRecord:
    end = time.perf_counter()
    try:
        usage = json.loads(raw).get("usage") or {}
    except (ValueError, AttributeError):
        return RequestRecord(start, end - start, False, "invalid_json")
    return RequestRecord(
        start,
        end - start,
        True,
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        output_tokens=int(usage.get("completion_tokens") or 0),
    )


async def _stream(response: httpx.Response, start: float, gaps: array[float]) -> RequestRecord:
    clock = time.perf_counter
    buffer = b""
    first: float | None = None
    last = 0.0
    seen_tokens = 0
    usage: dict[str, Any] | None = None
    done = False
    own_gaps: list[float] = []
    async for data in response.aiter_raw():
        now = clock()
        buffer += data
        *events, buffer = buffer.split(b"\n\n")
        for raw_event in events:
            payload = raw_event.strip()
            if not payload.startswith(b"data:"):
                continue
            payload = payload[5:].strip()
            if payload == b"[DONE]":
                done = True
                continue
            try:
                event = json.loads(payload)
            except ValueError:
                return RequestRecord(start, now - start, False, "invalid_sse")
            if not isinstance(event, dict):
                continue
            if "error" in event:
                return RequestRecord(start, now - start, False, "stream_error", first)
            if event.get("usage") and not event.get("choices"):
                usage = event["usage"]
                continue
            if _text_of(event):
                if first is None:
                    first = now - start
                else:
                    own_gaps.append(now - last)
                last = now
                seen_tokens += 1
    end = clock()
    ttft = first
    if not done:
        return RequestRecord(start, end - start, False, "incomplete_stream", ttft)
    gaps.extend(own_gaps)
    return RequestRecord(
        start,
        end - start,
        True,
        ttft=ttft,
        prompt_tokens=int((usage or {}).get("prompt_tokens") or 0),
        output_tokens=int((usage or {}).get("completion_tokens") or seen_tokens),
    )
