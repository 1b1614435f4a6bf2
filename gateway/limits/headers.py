"""OpenAI's rate-limit headers, so SDKs and people read Tollgate's limits the same way.

    x-ratelimit-limit-requests / -tokens      the rpm / tpm in force
    x-ratelimit-remaining-requests / -tokens  what is left now
    x-ratelimit-reset-requests / -tokens      until the limit is back to full, e.g. "1s", "6m0s"
    retry-after (seconds), retry-after-ms     on a 429: when to try again (the SDKs honour both)

Where several limits of a kind apply (the key's and its team's), the headers show the one
with the least left. Budgets and concurrency have no OpenAI header; a 429 names them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from gateway.limits.checks import CounterState

RawHeaders = list[tuple[bytes, bytes]]


def format_duration(seconds: float) -> str:
    """Go's duration format, as OpenAI's reset headers use it: 20ms, 1s, 1.5s, 6m0s, 1h2m3s."""
    ms = max(0, math.ceil(seconds * 1000 - 1e-6))
    if ms < 1000:
        return f"{ms}ms"
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    whole, frac = divmod(rest, 1000)
    secs = f"{whole}" if frac == 0 else f"{whole}.{frac:03d}".rstrip("0")
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def _tightest(states: Sequence[CounterState], kind: str) -> CounterState | None:
    found = [s for s in states if s.limit.kind == kind]
    if not found:
        return None
    return min(found, key=lambda s: (s.remaining, -s.reset_s))


def rate_headers(states: Sequence[CounterState]) -> RawHeaders:
    headers: RawHeaders = []
    for kind, suffix in (("rpm", b"requests"), ("tpm", b"tokens")):
        state = _tightest(states, kind)
        if state is None:
            continue
        headers.append((b"x-ratelimit-limit-" + suffix, str(state.limit.capacity).encode()))
        headers.append((b"x-ratelimit-remaining-" + suffix, str(state.remaining).encode()))
        headers.append((b"x-ratelimit-reset-" + suffix, format_duration(state.reset_s).encode()))
    return headers


def retry_headers(wait_s: float, *, should_retry: bool = True) -> dict[str, str]:
    """A refusal's headers. `should_retry=False` (a budget that resets in hours) tells the
    OpenAI SDKs not to retry on their own."""
    headers = {
        "retry-after": str(max(1, math.ceil(wait_s))),
        "retry-after-ms": str(max(1, math.ceil(wait_s * 1000))),
    }
    if not should_retry:
        headers["x-should-retry"] = "false"
    return headers


def as_text(headers: RawHeaders) -> dict[str, str]:
    return {name.decode(): value.decode() for name, value in headers}
