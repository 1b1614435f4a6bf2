"""The admission hook that shares the engines fairly between keys.

    admit(request) -> its tier -> room now (under the in-flight caps, nobody queued)?
                      -> admitted at once
                   -> otherwise wait in its key's queue (fair_queue.py) until a finished
                      request or an engine poll makes room and deficit round robin picks it;
                      429 past the key's queue bound, 503 past the wait bound; a client that
                      leaves is taken out of the queue at once
    release(outcome) -> the in-flight slot back, and the next waiting request admitted

Two caps on requests in flight: the configured one (`max_in_flight`), and one learnt from the
engines. When a poll finds more requests waiting in vLLM than the threshold, the gateway's cap
becomes what it has in flight minus that excess, so vLLM's own queue shrinks back to the
threshold and what else arrives waits here, in fair order; each later poll sets it to what is
in flight plus the room the engine has then (engine_load.py), and it is dropped once it holds
nothing back. Releasing every held request at the first poll that finds room instead would
refill vLLM's first-come queue in one burst.

Only generation routes queue (`QUEUED_ROUTES`); inspection routes (tokenize, models) never
wait. State is per gateway process: with `--workers N` each process has its own queues and
`ceil(max_in_flight / N)` of the configured cap, while the engines' waiting queue, which every
process polls, is the global signal each one's learnt cap follows.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from gateway.keys.principal import KeyPrincipal
from gateway.proxy.hooks import ProxyOutcome, ProxyRequest, Ticket
from gateway.proxy.streaming import DisconnectWatch
from gateway.scheduling.engine_load import EngineLoadWatch
from gateway.scheduling.errors import queue_full, queue_timeout
from gateway.scheduling.fair_queue import FairQueue, QueueFull
from gateway.scheduling.priority import PRIORITY_ROUTES, with_priority
from gateway.scheduling.tiers import TierPolicy, request_tier
from shared.settings import SchedulingSettings

QUEUED_ROUTES = frozenset(
    {
        "/v1/chat/completions",
        "/v1/completions",
        "/v1/responses",
        "/v1/messages",
        "/v1/embeddings",
    }
)
_SERVICE_EWMA = 0.2  # weight of the newest request in the mean service time (Retry-After)


@dataclass(eq=False, slots=True)
class _Waiter:
    future: asyncio.Future[None]
    tier: str
    since: float  # the scheduler's clock when it joined the queue


class Scheduler:
    """Built once per gateway process by the plugin; `admit` is a proxy admission hook."""

    def __init__(
        self,
        settings: SchedulingSettings,
        *,
        workers: int = 1,
        send_priority: bool = False,
        ui_token: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.policy = TierPolicy.from_settings(settings)
        self.cap = math.ceil(settings.max_in_flight / workers) if settings.max_in_flight else None
        self.queue: FairQueue[_Waiter] = FairQueue(settings.max_queue_per_key)
        self.max_wait_s = settings.max_wait_s
        self.by_team = settings.fair_by == "team"
        self.send_priority = send_priority
        # The UI's shared secret: its chats may raise their tier (tiers.request_tier).
        self._ui_token = ui_token.encode() if ui_token else None
        self.load: EngineLoadWatch | None = None  # set when engine thresholds are configured
        self.engine_cap: int | None = None  # learnt from the engines' waiting queue
        self.in_flight = 0
        self.mean_service_s = 1.0
        self._clock = clock

    @property
    def trusts_ui(self) -> bool:
        return self._ui_token is not None

    def busy(self) -> bool:
        return self.in_flight > 0 or len(self.queue) > 0

    def _has_room(self) -> bool:
        if self.cap is not None and self.in_flight >= self.cap:
            return False
        return self.engine_cap is None or self.in_flight < self.engine_cap

    def engine_sampled(self) -> None:
        """After each engine poll: follow the engines' room, then admit what fits."""
        room = self.load.room() if self.load is not None else None
        if room is None:
            self.engine_cap = None
        elif room < 0:
            self.engine_cap = max(1, self.in_flight + room)
        elif self.engine_cap is not None:
            if len(self.queue) == 0 and self.in_flight < self.engine_cap:
                self.engine_cap = None  # it holds nothing back any more
            else:
                self.engine_cap = max(self.engine_cap, self.in_flight + max(room, 1))
        self.dispatch()

    def _flow(self, principal: KeyPrincipal) -> Hashable:
        if self.by_team and principal.team:
            return ("team", principal.team)
        return ("key", principal.id)

    async def admit(self, request: ProxyRequest) -> Ticket | None:
        queued = request.route in QUEUED_ROUTES
        rewrite = request.route in PRIORITY_ROUTES and self.send_priority
        if not (queued or rewrite):
            return None
        tier = request_tier(request.principal.tier, request.headers, self._ui_token)
        ticket = Ticket()
        if rewrite:
            priority = self.policy.priority(tier)
            ticket.rewrite = lambda body: with_priority(body, priority)
        if not queued:
            return ticket
        if self.load is not None:
            self.load.wake()
        if len(self.queue) == 0 and self._has_room():
            self.in_flight += 1
        else:
            await self._wait(request, tier)  # the slot is counted when it is handed over
        started = self._clock()

        async def release(_: ProxyOutcome | None) -> None:
            self.in_flight -= 1
            took = self._clock() - started
            self.mean_service_s += _SERVICE_EWMA * (took - self.mean_service_s)
            self.dispatch()

        ticket.release = release
        return ticket

    async def _wait(self, request: ProxyRequest, tier: str) -> None:
        flow = self._flow(request.principal)
        waiter = _Waiter(asyncio.get_running_loop().create_future(), tier, self._clock())
        try:
            self.queue.push(flow, waiter, self.policy.weight(tier))
        except QueueFull as full:
            raise queue_full(full.depth, self.mean_service_s) from None
        watch = DisconnectWatch(request.receive) if request.receive is not None else None
        try:
            async with watch or contextlib.nullcontext(), asyncio.timeout(self.max_wait_s):
                await waiter.future
        except BaseException as exc:  # timed out, the client left, or the server stops
            if waiter.future.done() and not waiter.future.cancelled():
                self.in_flight -= 1  # handed a slot in the same instant: give it on
                self.dispatch()
            else:
                waiter.future.cancel()
                self.queue.remove(flow, waiter)
            if isinstance(exc, TimeoutError):
                raise queue_timeout(self._clock() - waiter.since, self.mean_service_s) from None
            raise

    def dispatch(self) -> None:
        """Hand free slots to waiting requests, in fair order (also after each engine poll)."""
        while len(self.queue) and self._has_room():
            waiter = self.queue.pop()
            if waiter is None:
                return
            if waiter.future.done():
                continue
            self.in_flight += 1
            waiter.future.set_result(None)
