"""Counters in the gateway process, for one gateway (no TOLLGATE_REDIS_URL).

Each operation runs without an `await` between its check and its update, so on the event loop
it is atomic: admission is exact however many requests arrive at once. With several worker
processes each has its own counters (the plugin warns); share them through Redis.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

from gateway.background import cancel_task
from gateway.limits.checks import Check, Verdict, drain_rate, passes

_SWEEP_INTERVAL_S = 60.0


class MemoryBackend:
    name = "memory"

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        # key -> (level, written at, drain per second)
        self._rates: dict[str, tuple[float, float, float]] = {}
        self._budgets: dict[str, tuple[int, float]] = {}  # key -> (used, window end)
        self._slots: dict[str, int] = {}  # key -> requests in flight
        self._sweeper: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep_forever(), name="limits-sweep")

    async def aclose(self) -> None:
        await cancel_task(self._sweeper)
        self._sweeper = None

    def _used(self, check: Check, now: float) -> float:
        if check.kind == "rate":
            level, at, _ = self._rates.get(check.key, (0.0, now, 0.0))
            return max(level - max(now - at, 0.0) * drain_rate(check), 0.0)
        if check.kind == "budget":
            return float(self._budgets.get(check.key, (0, 0.0))[0])
        return float(self._slots.get(check.key, 0))

    async def acquire(self, checks: Sequence[Check], lease: str) -> Verdict:
        now = self._clock()
        used = tuple(self._used(check, now) for check in checks)
        if not all(passes(check, u) for check, u in zip(checks, used, strict=True)):
            return Verdict(False, used)
        for check, u in zip(checks, used, strict=True):
            if check.kind == "rate":
                self._rates[check.key] = (u + check.need, now, drain_rate(check))
            elif check.kind == "budget":
                self._budgets[check.key] = (int(u) + check.need, check.extra)
            else:
                self._slots[check.key] = int(u) + 1
        return Verdict(True, used)

    async def peek(self, checks: Sequence[Check]) -> Verdict:
        now = self._clock()
        used = tuple(self._used(check, now) for check in checks)
        return Verdict(all(passes(c, u) for c, u in zip(checks, used, strict=True)), used)

    async def settle(self, checks: Sequence[Check], deltas: Sequence[int], lease: str) -> None:
        now = self._clock()
        for check, delta in zip(checks, deltas, strict=True):
            if check.kind == "slot":
                left = self._slots.get(check.key, 0) - 1
                if left > 0:
                    self._slots[check.key] = left
                else:
                    self._slots.pop(check.key, None)
            elif delta == 0:
                continue
            elif check.kind == "rate":
                level = self._used(check, now) + delta
                self._rates[check.key] = (max(level, 0.0), now, drain_rate(check))
            elif check.key in self._budgets:  # a window that ended meanwhile stays ended
                used, end = self._budgets[check.key]
                self._budgets[check.key] = (max(used + delta, 0), end)

    def sweep(self) -> None:
        """Forget counters that are back to their initial state (idle keys cost nothing)."""
        now = self._clock()
        for key, (level, at, rate) in list(self._rates.items()):
            if level - (now - at) * rate <= 0:
                del self._rates[key]
        for key, (_, end) in list(self._budgets.items()):
            if end <= now:
                del self._budgets[key]

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(_SWEEP_INTERVAL_S)
            self.sweep()
