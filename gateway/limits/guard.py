"""What happens when the counters cannot be reached: the fail mode, and not asking again at once.

After a backend failure the guard stays "down" for `retry_s`: requests get the fail mode's
answer immediately (serve unchecked, or 503) instead of each waiting for a timeout, then one
request tries the backend again. The outage is logged once when it starts and once when it
ends; every failed call and every request it affected is counted.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

from gateway.limits.backend import BackendUnavailable
from gateway.limits.metrics import LimiterMetrics
from shared.logging import get_logger

_log = get_logger("tollgate.limits")

FailMode = Literal["open", "closed"]


class BackendGuard:
    def __init__(
        self,
        backend: str,
        fail_mode: FailMode,
        retry_s: float,
        metrics: LimiterMetrics,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.backend = backend
        self.fail_mode = fail_mode
        self._retry_s = retry_s
        self._metrics = metrics
        self._clock = clock
        self._down_since: float | None = None
        self._retry_at = 0.0

    @property
    def down(self) -> bool:
        return self._down_since is not None

    def available(self) -> bool:
        """Whether to call the backend now (always, unless it failed within `retry_s`)."""
        return self._down_since is None or self._clock() >= self._retry_at

    def failed(self, operation: str, error: BackendUnavailable) -> None:
        self._metrics.backend_errors.labels(operation).inc()
        now = self._clock()
        self._retry_at = now + self._retry_s
        if self._down_since is None:
            self._down_since = now
            _log.warning(
                "rate-limit backend unreachable",
                backend=self.backend,
                operation=operation,
                error=str(error),
                fail_mode=self.fail_mode,
                effect="requests are served without limits"
                if self.fail_mode == "open"
                else "limited keys get 503",
            )

    def succeeded(self) -> None:
        if self._down_since is not None:
            _log.info(
                "rate-limit backend reachable again",
                backend=self.backend,
                down_s=round(self._clock() - self._down_since, 3),
            )
            self._down_since = None

    def unenforced(self) -> None:
        """Count one request that the fail mode answered."""
        self._metrics.unenforced.labels(self.fail_mode).inc()
