"""The fair queue's refusals, in OpenAI's shape with `Retry-After`."""

from __future__ import annotations

import math

from gateway.errors import RateLimited, UpstreamUnavailable


def _retry_after(seconds: float) -> dict[str, str]:
    return {"retry-after": str(max(1, math.ceil(seconds)))}


def queue_full(depth: int, retry_after_s: float) -> RateLimited:
    """429: this key (or team) already has as many requests waiting as it may."""
    return RateLimited(
        f"Too many of this key's requests are waiting for the engine ({depth}); "
        "wait for some to finish.",
        code="queue_full",
        headers=_retry_after(retry_after_s),
    )


def queue_timeout(waited_s: float, retry_after_s: float) -> UpstreamUnavailable:
    """503: the engine stayed busy for longer than a request may wait in the gateway."""
    return UpstreamUnavailable(
        f"The engine stayed busy; the request waited {waited_s:.0f} s in the gateway's queue "
        "and was given up. Try again shortly.",
        code="queue_timeout",
        headers=_retry_after(retry_after_s),
    )
