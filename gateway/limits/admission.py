"""The admission hook: check and reserve before the engine is called, settle when it is over.

    admit(request)  -> limits that apply (policy) -> token estimate -> one atomic acquire on the
                       backend -> Ticket(x-ratelimit-* headers, release) or 429 / 503
    release(outcome) -> one settle: token counters to the engine's real usage, rpm back if the
                       request never reached an engine, the concurrency slot given back

A key without limits costs one policy lookup and nothing else. What a finished request is
charged:
- the engine reported usage: exactly that (prompt + completion);
- it never reached an engine, or the engine refused it (a 4xx): nothing;
- a stream that ended without its usage event (the client left, the stream broke): the
  prompt estimate plus one token per event relayed;
- otherwise reached the engine without usage coming back (a non-streamed answer the client
  left, an engine failure or timeout): the reservation, an upper bound, since vLLM stops
  generating when the connection goes.
Settlements that fail while the backend is down are kept (bounded) and replayed when it is back.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import deque
from collections.abc import Callable, Sequence

from gateway.background import cancel_task
from gateway.keys.principal import KeyPrincipal
from gateway.limits.backend import BackendUnavailable, LimitBackend
from gateway.limits.checks import (
    Check,
    CounterState,
    Verdict,
    build_checks,
    passes,
    state,
    wait_s,
)
from gateway.limits.errors import limit_exceeded, limiter_unavailable
from gateway.limits.estimate import TokenEstimator
from gateway.limits.guard import BackendGuard
from gateway.limits.headers import rate_headers, retry_headers
from gateway.limits.metrics import LimiterMetrics
from gateway.limits.policy import KINDS, LimitKind, LimitPolicy
from gateway.proxy.hooks import ProxyOutcome, ProxyRequest, Ticket
from shared.logging import get_logger
from shared.schemas.limits import LimitsRemaining, LimitState
from shared.settings import LimitSettings

_log = get_logger("tollgate.limits")
_MAX_PENDING_SETTLEMENTS = 10_000
_HEADER_KINDS = frozenset({"rpm", "tpm"})  # the limits OpenAI's headers describe

Remaining = dict[LimitKind, CounterState | None]


def charged_tokens(outcome: ProxyOutcome | None, estimate: TokenEstimator) -> int | None:
    """Tokens a finished request costs; None = keep the reservation (see the module doc)."""
    if outcome is None or outcome.upstream is None:
        return 0
    usage = outcome.usage
    if usage is not None and usage.total_tokens is not None:
        return usage.total_tokens
    if 400 <= outcome.status < 500 and not outcome.client_disconnected:
        return 0  # the engine refused it before generating
    if outcome.stream:
        # A stream that ended without its usage event: about one event per token was relayed.
        return estimate.prompt(outcome.request_bytes) + outcome.stream_events
    return None


class _Reservation:
    __slots__ = ("_checks", "_lease", "_limiter")

    def __init__(self, limiter: Limiter, checks: tuple[Check, ...], lease: str) -> None:
        self._limiter = limiter
        self._checks = checks
        self._lease = lease

    async def release(self, outcome: ProxyOutcome | None) -> None:
        charged = charged_tokens(outcome, self._limiter.estimate)
        deltas: list[int] = []
        for check in self._checks:
            if check.kind == "slot":
                deltas.append(0)
            elif check.limit.kind == "rpm":
                deltas.append(-1 if outcome is None else 0)  # refused later: not a request
            else:
                deltas.append(0 if charged is None else charged - check.need)
        await self._limiter.settle(self._checks, deltas, self._lease)


class Limiter:
    """Built once per app by the plugin; `admit` is registered as a proxy admission hook."""

    def __init__(
        self,
        settings: LimitSettings,
        backend: LimitBackend,
        policy: LimitPolicy,
        metrics: LimiterMetrics,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.backend = backend
        self.policy = policy
        self.estimate = TokenEstimator(settings)
        self.guard = BackendGuard(backend.name, settings.fail_mode, settings.redis_retry_s, metrics)
        self._metrics = metrics
        self._prefix = settings.redis_prefix
        self._retry_s = max(settings.redis_retry_s, 1.0)
        self._clock = clock
        self._pending: deque[tuple[tuple[Check, ...], list[int], str]] = deque(
            maxlen=_MAX_PENDING_SETTLEMENTS
        )
        self._replayer: asyncio.Task[None] | None = None

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        await self.backend.start()
        if self._replayer is None:
            self._replayer = asyncio.create_task(self._replay_forever(), name="limits-replay")

    async def aclose(self) -> None:
        await cancel_task(self._replayer)
        self._replayer = None
        await self._replay()  # a last try, so slots are not left to their leases
        await self.backend.aclose()

    # -- the hook ------------------------------------------------------------------------------

    async def admit(self, request: ProxyRequest) -> Ticket | None:
        limits = self.policy.resolve(request.principal, request.model)
        if not limits:
            return None
        now = self._clock()
        checks = build_checks(limits, self.estimate(request), self._prefix, now)
        if not checks:
            return None
        if not self.guard.available():
            return self._unenforced()
        lease = secrets.token_hex(12)
        try:
            verdict = await self.backend.acquire(checks, lease)
        except BackendUnavailable as exc:
            self.guard.failed("admit", exc)
            return self._unenforced()
        self.guard.succeeded()
        if not verdict.admitted:
            raise self._refusal(checks, verdict, now)
        states = [
            state(c, u + c.need, now)
            for c, u in zip(checks, verdict.used, strict=True)
            if c.limit.kind in _HEADER_KINDS
        ]
        return Ticket(
            headers=rate_headers(states), release=_Reservation(self, checks, lease).release
        )

    def _unenforced(self) -> Ticket | None:
        self.guard.unenforced()
        if self.guard.fail_mode == "closed":
            raise limiter_unavailable(self._retry_s)
        return None

    def _refusal(self, checks: tuple[Check, ...], verdict: Verdict, now: float) -> Exception:
        # Name the limit that keeps the request out longest: waiting for it is enough.
        pairs = list(zip(checks, verdict.used, strict=True))
        failing = [(wait_s(c, u, now), c, u) for c, u in pairs if not passes(c, u)]
        if not failing:  # the store's arithmetic and ours differ in the last digit: the closest
            c, u = max(pairs, key=lambda p: p[1] + p[0].need - p[0].capacity)
            failing = [(max(wait_s(c, u, now), 0.001), c, u)]
        wait, check, used = max(failing, key=lambda f: f[0])
        self._metrics.rejections.labels(check.limit.kind, check.limit.scope.level).inc()
        states = [state(c, u, now) for c, u in zip(checks, verdict.used, strict=True)]
        headers = dict(retry_headers(wait, should_retry=check.kind != "budget"))
        headers.update((k.decode(), v.decode()) for k, v in rate_headers(states))
        return limit_exceeded(check, used, wait, now, headers)

    # -- settlement ------------------------------------------------------------------------

    async def settle(self, checks: Sequence[Check], deltas: list[int], lease: str) -> None:
        settlement = (tuple(checks), deltas, lease)
        if not self.guard.available():
            self._pending.append(settlement)
            return
        try:
            await self.backend.settle(checks, deltas, lease)
        except BackendUnavailable as exc:
            self.guard.failed("settle", exc)
            self._pending.append(settlement)
        else:
            self.guard.succeeded()

    async def _replay(self) -> None:
        while self._pending and self.guard.available():
            checks, deltas, lease = self._pending[0]
            try:
                await self.backend.settle(checks, deltas, lease)
            except BackendUnavailable as exc:
                self.guard.failed("settle", exc)
                return
            self.guard.succeeded()
            self._pending.popleft()

    async def _replay_forever(self) -> None:
        while True:
            await asyncio.sleep(self._retry_s)
            if self._pending:
                await self._replay()

    @property
    def pending_settlements(self) -> int:
        return len(self._pending)

    # -- what is left (GET /tollgate/me) ----------------------------------------------------

    async def remaining(self, principal: KeyPrincipal) -> Remaining | None:
        """Per kind, the key-wide counter with the least left (None: no such limit applies);
        None altogether when the backend cannot say."""
        limits = self.policy.resolve(principal, None)
        now = self._clock()
        checks = build_checks(limits, 0, self._prefix, now, peek=True)
        found: Remaining = dict.fromkeys(KINDS)
        if not checks:
            return found
        if not self.guard.available():
            return None
        try:
            verdict = await self.backend.peek(checks)
        except BackendUnavailable as exc:
            self.guard.failed("peek", exc)
            return None
        self.guard.succeeded()
        for check, used in zip(checks, verdict.used, strict=True):
            current = state(check, used, now)
            best = found[check.limit.kind]
            if best is None or current.remaining < best.remaining:
                found[check.limit.kind] = current
        return found

    async def remaining_info(self, principal: KeyPrincipal) -> LimitsRemaining | None:
        """`remaining` in the shape `GET /tollgate/me` answers with."""
        found = await self.remaining(principal)
        if found is None:
            return None
        return LimitsRemaining(
            requests=_limit_state(found["rpm"]),
            tokens=_limit_state(found["tpm"]),
            concurrency=_limit_state(found["max_concurrency"]),
            daily_tokens=_limit_state(found["daily_tokens"]),
            monthly_tokens=_limit_state(found["monthly_tokens"]),
        )


def _limit_state(counter: CounterState | None) -> LimitState | None:
    if counter is None:
        return None
    limit = counter.limit
    return LimitState(
        limit=limit.capacity,
        remaining=counter.remaining,
        reset_seconds=round(counter.reset_s, 3),
        scope=limit.scope.level,
        default=limit.default,
    )
