"""Failed API-key authentications per client address (`limits.auth_failures_per_ip`, e.g.
20/minute): past the limit the address gets 429 for every request with a key, valid or not,
until its window frees up. Keys cannot be guessed by hammering the gateway.

Failures are counted with the `limits` library (a moving window; in Redis when the limits are,
so every gateway shares one count). A request that carries a key costs nothing extra: blocked
addresses are remembered in-process when a failure fills their window, and each gateway learns
of a block at its first failure from that address, so across N gateways an address gets at most
`limit` answers to its guesses plus N - 1. Redis trouble never blocks sign-ins (fail-open,
counted in the backend-errors metric).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from limits import RateLimitItem, parse
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError

from gateway.errors import RateLimited
from gateway.limits.headers import format_duration, retry_headers
from gateway.limits.metrics import LimiterMetrics
from shared.logging import get_logger

_log = get_logger("tollgate.limits")
_MAX_BLOCKED = 100_000
_FAULTS = (StorageError, OSError, TimeoutError)


def parse_rate(text: str) -> RateLimitItem:
    """`20/minute`, `5 per 10 seconds`, … (the `limits` notation); ValueError names the setting."""
    try:
        return parse(text)
    except ValueError:
        raise ValueError(
            f"TOLLGATE_LIMITS__AUTH_FAILURES_PER_IP={text!r} is not a rate such as '20/minute'"
        ) from None


class AuthThrottle:
    def __init__(
        self,
        rate: RateLimitItem,
        storage: Storage,
        metrics: LimiterMetrics,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._rate = rate
        self._storage = storage
        self._window = MovingWindowRateLimiter(storage)
        self._metrics = metrics
        self._clock = clock
        self._blocked: dict[str, float] = {}  # address -> blocked until (POSIX s)

    def check(self, address: str | None) -> None:
        """Raise 429 when `address` is blocked; call before the key is looked at."""
        if address is None or not self._blocked:
            return
        until = self._blocked.get(address)
        if until is None:
            return
        left = until - self._clock()
        if left <= 0:
            del self._blocked[address]
            return
        raise self._refusal(left)

    async def failed(self, address: str | None) -> None:
        """Count one failed authentication; raise 429 when the address was already over."""
        if address is None:
            return
        try:
            allowed = await self._window.hit(self._rate, "auth", address)
            stats = await self._window.get_window_stats(self._rate, "auth", address)
        except _FAULTS as exc:
            self._metrics.backend_errors.labels("auth").inc()
            _log.warning("cannot count failed authentications", error=str(exc))
            return
        if allowed and stats.remaining > 0:
            return
        self._block(address, stats.reset_time)
        if not allowed:
            raise self._refusal(stats.reset_time - self._clock())

    def _block(self, address: str, until: float) -> None:
        if len(self._blocked) >= _MAX_BLOCKED:
            now = self._clock()
            self._blocked = {a: u for a, u in self._blocked.items() if u > now}
            while len(self._blocked) >= _MAX_BLOCKED:
                del self._blocked[next(iter(self._blocked))]
        self._blocked[address] = until
        _log.warning("address blocked after failed authentications", address=address)

    def _refusal(self, wait_s: float) -> RateLimited:
        self._metrics.auth_blocked.inc()
        wait_s = max(wait_s, 0.001)
        return RateLimited(
            f"Too many failed authentications from your address (limit: {self._rate}); "
            f"try again in {format_duration(wait_s)}.",
            code="too_many_auth_failures",
            headers=retry_headers(wait_s),
        )
