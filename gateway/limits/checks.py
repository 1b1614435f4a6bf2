"""One request's limits as counter operations, and the arithmetic both backends share.

Three kinds of counter, each checked and reserved atomically with all the others:

- **rate** (rpm, tpm): a token bucket of `capacity` that refills continuously over a minute
  (OpenAI's model: rpm=10 admits a burst of 10, then one every 6 s). Its state is the level
  (what is in use) and when it was written; the level drains at capacity/60 s per second.
  Settlement adds the difference between real usage and the reservation: a refund drains it,
  an overrun leaves debt that later requests wait for.
- **budget** (daily_tokens, monthly_tokens): a counter per UTC calendar window, reset at
  00:00 UTC (the day) and on the 1st (the month).
- **slot** (max_concurrency): requests in flight; in Redis a lease per request that expires
  unless renewed, so a crashed gateway cannot hold slots for ever.

A check passes when `used + need <= capacity`. `need` is 1 for requests and slots, and the
request's token estimate for token counters, clamped to the capacity so that a request larger
than the whole limit still runs when the counter is empty (it then settles to its real usage).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Literal

from gateway.limits.policy import Limit

PERIOD_S = 60.0  # rpm and tpm are per minute

CheckKind = Literal["rate", "budget", "slot"]
_CODES: dict[CheckKind, str] = {"rate": "r", "budget": "b", "slot": "c"}


@dataclass(frozen=True, slots=True)
class Check:
    limit: Limit
    kind: CheckKind
    key: str  # the counter's storage key, prefix included
    need: int
    # rate: refill period (s); budget: the window's end (POSIX s); slot: unused
    extra: float = 0.0

    @property
    def capacity(self) -> int:
        return self.limit.capacity

    @property
    def code(self) -> str:
        """The one-letter kind the Lua scripts read."""
        return _CODES[self.kind]


@dataclass(frozen=True, slots=True)
class Verdict:
    """A backend's answer: whether every check passed (and was reserved), and what each
    counter held before this request (the level, the tokens used, the slots taken)."""

    admitted: bool
    used: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class CounterState:
    """One counter as clients see it: OpenAI's limit / remaining / reset."""

    limit: Limit
    remaining: int
    reset_s: float  # until the counter is back to full (budgets: the window's end)


@lru_cache(maxsize=8)
def _windows(day: int) -> tuple[str, float, str, float]:
    """(day id, its end, month id, its end) of the UTC day `day` (days since the epoch)."""
    start = datetime.fromtimestamp(day * 86400, UTC)
    month = start.replace(day=1)
    following = (
        month.replace(year=month.year + 1, month=1)
        if month.month == 12
        else month.replace(month=month.month + 1)
    )
    return (
        start.strftime("%Y%m%d"),
        start.timestamp() + 86400.0,
        month.strftime("%Y%m"),
        following.timestamp(),
    )


def day_window(now: float) -> tuple[str, float]:
    day, end, _, _ = _windows(int(now // 86400))
    return day, end


def month_window(now: float) -> tuple[str, float]:
    _, _, month, end = _windows(int(now // 86400))
    return month, end


def build_checks(
    limits: tuple[Limit, ...], estimate: int, prefix: str, now: float, *, peek: bool = False
) -> tuple[Check, ...]:
    """The counters a request touches. Token counters are skipped for a request that uses no
    tokens (model listing, tokenizing) unless `peek` asks for every counter's state."""
    checks: list[Check] = []
    for limit in limits:
        kind = limit.kind
        key = prefix + limit.storage
        tokens = 0 if peek else min(estimate, limit.capacity)
        if kind == "rpm":
            checks.append(Check(limit, "rate", key, 0 if peek else 1, PERIOD_S))
        elif kind == "max_concurrency":
            checks.append(Check(limit, "slot", key, 0 if peek else 1))
        elif tokens <= 0 and not peek:
            continue
        elif kind == "tpm":
            checks.append(Check(limit, "rate", key, tokens, PERIOD_S))
        else:
            window, end = day_window(now) if kind == "daily_tokens" else month_window(now)
            checks.append(Check(limit, "budget", f"{key}:{window}", tokens, end))
    return tuple(checks)


def passes(check: Check, used: float) -> bool:
    return used + check.need <= check.capacity


def drain_rate(check: Check) -> float:
    """Units per second a rate counter drains (refills) at."""
    return check.capacity / check.extra


def state(check: Check, used: float, now: float) -> CounterState:
    """The counter after `used` (e.g. the level including this request's reservation)."""
    remaining = max(0, math.floor(check.capacity - used + 1e-9))
    if check.kind == "rate":
        reset = max(used, 0.0) / drain_rate(check)
    elif check.kind == "budget":
        reset = max(check.extra - now, 0.0)
    else:
        reset = 0.0
    return CounterState(check.limit, remaining, reset)


def wait_s(check: Check, used: float, now: float) -> float:
    """How long until this check could pass (0 when it passes now)."""
    excess = used + check.need - check.capacity
    if excess <= 0:
        return 0.0
    if check.kind == "rate":
        return excess / drain_rate(check)
    if check.kind == "budget":
        return max(check.extra - now, 0.0)
    return 1.0  # a slot frees when some request ends; nobody knows when, so ask again soon
