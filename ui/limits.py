"""Per-IP limits on sign-in and chat, so keys cannot be guessed (or the engine flooded) through
the UI. The gateway limits each key; this limits each browser's address before any key is known.

Gradio events do not arrive as one route per action (they share the queue's routes), so
slowapi's route decorators do not apply; its `Limiter` (storage, strategy, key function) is
used directly from the event handlers instead.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Literal

from limits import RateLimitItem, parse
from slowapi import Limiter
from slowapi.util import get_remote_address

Action = Literal["sign_in", "chat"]


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after_s: float = 0.0

    def plain(self, action: Action) -> str:
        wait = max(1, math.ceil(self.retry_after_s))
        what = "sign-in attempts" if action == "sign_in" else "messages"
        return f"Too many {what} from your address. Try again in {wait} seconds."


class UIRateLimiter:
    """Fixed-window counters per client address and action."""

    def __init__(
        self, sign_in: str, chat: str, *, storage_uri: str = "memory://", enabled: bool = True
    ) -> None:
        self._limiter = Limiter(
            key_func=get_remote_address, storage_uri=storage_uri, enabled=enabled
        )
        self._items: dict[Action, RateLimitItem] = {"sign_in": parse(sign_in), "chat": parse(chat)}

    def hit(self, action: Action, request: object) -> Verdict:
        """Count one attempt; say whether it is allowed and, if not, how long to wait."""
        if not self._limiter.enabled:
            return Verdict(True)
        item = self._items[action]
        address = client_address(request)
        strategy = self._limiter.limiter
        if strategy.hit(item, "tollgate-ui", action, address):
            return Verdict(True)
        reset_at, _remaining = strategy.get_window_stats(item, "tollgate-ui", action, address)
        return Verdict(False, max(0.0, reset_at - time.time()))


def client_address(request: object) -> str:
    """The peer's address (of a Starlette request or a `gr.Request`, which wraps one).

    Behind a proxy, uvicorn's --forwarded-allow-ips makes it the real client's; X-Forwarded-For
    is never read here, or anyone could pick their own bucket."""
    host = getattr(getattr(request, "client", None), "host", None)
    return str(host) if host else "unknown"
