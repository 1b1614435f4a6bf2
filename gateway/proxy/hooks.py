"""The proxy's pipeline: the seams where limits, queueing, metrics and the ledger join it.

Data flows one way: request -> auth -> admission (rate limits, quotas, fair queueing) ->
upstream -> outcome (usage ledger, metrics, token-based limits).

- An **admission** hook runs after the body was checked and before the engine is called. It
  may refuse (raise a `GatewayError`, e.g. `RateLimited`), wait (a fair queue), or admit with a
  `Ticket` whose headers go on the response (`x-ratelimit-*`), whose `rewrite` may change the
  body sent to the engine, and whose `release` runs exactly once when the exchange is over (a
  concurrency slot given back).
- An **observer** gets one `ProxyOutcome` per proxied request when it is finished (a stream:
  when it ended). Observers are synchronous and must be quick (hand the outcome to a queue);
  one that raises is logged and does not affect the request or the other observers.

The stages are written down once, in order, by the composition root (gateway/wiring.py,
`proxy_pipeline`): admissions run in that order and their releases in reverse, the way
middleware unwinds; observers run in order. A part never registers itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from gateway.keys.principal import KeyPrincipal
from gateway.observability.context import Usage
from gateway.tracing import span
from shared.logging import get_logger

_log = get_logger("tollgate.proxy.hooks")


@dataclass(frozen=True, slots=True)
class ProxyRequest:
    """What admission hooks know about a request before it reaches the engine."""

    request_id: str
    principal: KeyPrincipal
    route: str
    model: str | None
    body_bytes: int
    # From the body, for token estimates (gateway/limits): the answer's length limit
    # (max_tokens / max_completion_tokens / max_output_tokens), the number of answers, streaming.
    max_tokens: int | None = None
    n: int = 1
    stream: bool = False
    # The client's headers, and its ASGI `receive` (the body is read already), so a hook that
    # waits (a fair queue) can notice a client that leaves: `DisconnectWatch(receive)`.
    headers: Iterable[tuple[bytes, bytes]] = ()
    receive: Any = None


@dataclass(slots=True)
class Ticket:
    """An admission's grant: headers for the response, and what to undo when it is over."""

    headers: Sequence[tuple[bytes, bytes]] = ()
    # Gets the outcome, or None when the request never reached the engine.
    release: Callable[[ProxyOutcome | None], Awaitable[None]] | None = None
    # Changes the body sent to the engine (e.g. vLLM's `priority` from the key's tier).
    rewrite: Callable[[bytes], bytes] | None = None


@dataclass(frozen=True, slots=True)
class ProxyOutcome:
    """One finished proxied request, as observers see it."""

    request_id: str
    principal: KeyPrincipal
    route: str
    model: str | None
    upstream: str | None
    status: int  # what the client got; 499 when the client went away first
    usage: Usage | None
    started_at: datetime
    latency_ms: float
    ttfb_ms: float | None
    stream: bool
    client_disconnected: bool
    error: str | None  # an error code (engine_timeout, bad_gateway, ...) or None
    request_bytes: int = 0  # the request body's size
    stream_events: int = 0  # SSE events relayed to the client (`data: [DONE]` included)
    queued_ms: float | None = None  # time in admission hooks (limits, a fair queue); None: none ran


Admission = Callable[[ProxyRequest], Awaitable[Ticket | None]]
Observer = Callable[[ProxyOutcome], None]
Run = TypeVar("Run", bound=Callable[..., object])  # an Admission or an Observer


@dataclass(frozen=True, slots=True)
class Stage(Generic[Run]):
    """One named step of the pipeline (the name shows in logs and in `ProxyPipeline.names`)."""

    name: str
    run: Run


class ProxyPipeline:
    """The admission stages in order, then the observers in order; fixed once built."""

    __slots__ = ("_admissions", "_observers", "admissions", "observers")

    def __init__(
        self,
        admissions: Iterable[Stage[Admission]] = (),
        observers: Iterable[Stage[Observer]] = (),
    ) -> None:
        self.admissions: tuple[Stage[Admission], ...] = tuple(admissions)
        self.observers: tuple[Stage[Observer], ...] = tuple(observers)
        # The hot path iterates the bare callables.
        self._admissions = tuple(stage.run for stage in self.admissions)
        self._observers = tuple((stage.name, stage.run) for stage in self.observers)

    def names(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(admission names, observer names), in the order they run."""
        return (
            tuple(stage.name for stage in self.admissions),
            tuple(stage.name for stage in self.observers),
        )

    @property
    def admits(self) -> bool:
        return bool(self._admissions)

    @property
    def observes(self) -> bool:
        return bool(self._observers)

    async def admit(self, request: ProxyRequest) -> list[Ticket]:
        """Run every admission in order; if one refuses, release those already granted."""
        tickets: list[Ticket] = []
        try:
            with span("tollgate.admission", route=request.route, model=request.model):
                for admission in self._admissions:
                    ticket = await admission(request)
                    if ticket is not None:
                        tickets.append(ticket)
        except BaseException:
            # Nothing reached the engine, so the refused request is no outcome to observers.
            await release_all(tickets, None)
            raise
        return tickets

    def notify(self, outcome: ProxyOutcome) -> None:
        for name, observer in self._observers:
            try:
                observer(outcome)
            except Exception:
                _log.exception("proxy observer failed", observer=name)


async def release_all(tickets: Sequence[Ticket], outcome: ProxyOutcome | None) -> None:
    for ticket in reversed(tickets):
        if ticket.release is None:
            continue
        try:
            await ticket.release(outcome)
        except Exception:
            _log.exception("admission release failed")
