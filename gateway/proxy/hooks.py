"""Seams where later modules join the proxy without changing it.

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

Register them on the `ProxyHooks` found in app state under `"proxy_hooks"`, e.g. from a
plugin's `on_app_init`: `app_config.state["proxy_hooks"].observers.append(ledger.record)`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

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


@dataclass(slots=True)
class ProxyHooks:
    admissions: list[Admission] = field(default_factory=list)
    observers: list[Observer] = field(default_factory=list)

    async def admit(self, request: ProxyRequest) -> list[Ticket]:
        """Run every admission in order; if one refuses, release those already granted."""
        tickets: list[Ticket] = []
        try:
            with span("tollgate.admission", route=request.route, model=request.model):
                for admission in self.admissions:
                    ticket = await admission(request)
                    if ticket is not None:
                        tickets.append(ticket)
        except BaseException:
            # Nothing reached the engine, so the refused request is no outcome to observers.
            await release_all(tickets, None)
            raise
        return tickets

    def notify(self, outcome: ProxyOutcome) -> None:
        for observer in self.observers:
            try:
                observer(outcome)
            except Exception:
                _log.exception("proxy observer failed", observer=repr(observer))


async def release_all(tickets: Sequence[Ticket], outcome: ProxyOutcome | None) -> None:
    for ticket in reversed(tickets):
        if ticket.release is None:
            continue
        try:
            await ticket.release(outcome)
        except Exception:
            _log.exception("admission release failed")
