"""Counters in Redis, shared by every gateway process (TOLLGATE_REDIS_URL).

One script call per admission and one per settlement (redis_scripts.py), with short socket
timeouts and no retries inside a request: a Redis that is down or slow costs at most one
timeout, then the fail mode decides (admission.py). The connection pool reconnects on its own
when Redis is back; scripts are re-sent if a restarted Redis forgot them (EVALSHA -> NOSCRIPT).

Concurrency slots are leases: while a request runs, a background task renews its lease every
third of the lease time; if this gateway dies, its slots free within `concurrency_lease_s`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from redis.asyncio import ConnectionPool, Redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from gateway.background import cancel_task
from gateway.limits import redis_scripts
from gateway.limits.backend import BackendUnavailable
from gateway.limits.checks import Check, Verdict
from shared.logging import get_logger

T = TypeVar("T")
_log = get_logger("tollgate.limits")
_FAULTS = (RedisError, OSError, TimeoutError)


def create_pool(url: str, timeout_s: float) -> ConnectionPool:
    """A pool that fails fast: short timeouts, no retries (the next request tries again)."""
    return ConnectionPool.from_url(
        url,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=30,
    )


def _spec(checks: Sequence[Check], needs: Sequence[int] | None = None) -> str:
    """The checks as the scripts read them: "kind capacity need extra" per check, where extra is
    the refill period (rate) or the window's end (budget), in ms like the scripts' clock."""
    return " ".join(
        f"{check.code} {check.capacity} {check.need if needs is None else needs[i]} "
        f"{int(check.extra * 1000)}"
        for i, check in enumerate(checks)
    )


def _verdict(reply: bytes) -> Verdict:
    admitted, *used = reply.split()
    return Verdict(admitted == b"1", tuple(float(value) for value in used))


class RedisBackend:
    name = "redis"

    def __init__(self, pool: ConnectionPool, *, timeout_s: float, lease_s: float) -> None:
        self._redis = Redis(connection_pool=pool)
        # Belt and braces over the socket timeouts: no call may take longer than this.
        self._deadline_s = timeout_s * 4
        self._lease_ms = int(lease_s * 1000)
        self._renew_every_s = lease_s / 3
        self._acquire = self._redis.register_script(redis_scripts.ACQUIRE)
        self._peek = self._redis.register_script(redis_scripts.PEEK)
        self._settle = self._redis.register_script(redis_scripts.SETTLE)
        self._renew = self._redis.register_script(redis_scripts.RENEW)
        self._leases: dict[str, tuple[str, ...]] = {}  # lease -> slot keys held under it
        self._renewer: asyncio.Task[None] | None = None

    @property
    def client(self) -> Redis:
        return self._redis

    async def start(self) -> None:
        if self._renewer is None:
            self._renewer = asyncio.create_task(self._renew_forever(), name="limits-lease-renewal")

    async def aclose(self) -> None:
        await cancel_task(self._renewer)
        self._renewer = None
        await self._redis.aclose()

    async def _call(self, operation: Callable[[], Awaitable[T]]) -> T:
        try:
            async with asyncio.timeout(self._deadline_s):
                return await operation()
        except _FAULTS as exc:
            raise BackendUnavailable(f"{type(exc).__name__}: {exc}") from exc

    async def acquire(self, checks: Sequence[Check], lease: str) -> Verdict:
        keys = [check.key for check in checks]
        args: list[str | int] = [lease, self._lease_ms, _spec(checks)]
        reply = await self._call(lambda: self._acquire(keys=keys, args=args))
        verdict = _verdict(reply)
        if verdict.admitted:
            slots = tuple(check.key for check in checks if check.kind == "slot")
            if slots:
                self._leases[lease] = slots
        return verdict

    async def peek(self, checks: Sequence[Check]) -> Verdict:
        keys = [check.key for check in checks]
        args = [_spec(checks)]
        return _verdict(await self._call(lambda: self._peek(keys=keys, args=args)))

    async def settle(self, checks: Sequence[Check], deltas: Sequence[int], lease: str) -> None:
        # The lease stops being renewed now even if Redis cannot be told: it then expires.
        self._leases.pop(lease, None)
        touched = [
            (check, delta)
            for check, delta in zip(checks, deltas, strict=True)
            if check.kind == "slot" or delta != 0
        ]
        if not touched:
            return
        keys = [check.key for check, _ in touched]
        args = [lease, _spec([c for c, _ in touched], [d for _, d in touched])]
        await self._call(lambda: self._settle(keys=keys, args=args))

    async def renew(self) -> None:
        """Push back the expiry of every slot lease held by requests still running."""
        if not self._leases:
            return
        keys: list[str] = []
        members: list[str] = []
        for lease, slots in list(self._leases.items()):
            for key in slots:
                keys.append(key)
                members.append(lease)
        await self._call(lambda: self._renew(keys=keys, args=[self._lease_ms, *members]))

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self._renew_every_s)
            try:
                await self.renew()
            except BackendUnavailable as exc:
                # Leases outlive a few missed renewals; the next round tries again.
                _log.warning("could not renew concurrency leases in Redis", error=str(exc))

    @property
    def leases_held(self) -> int:
        return len(self._leases)
