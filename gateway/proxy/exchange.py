"""One proxied request from admission to its end, and the single place it is finished.

Whatever way a request ends (answered, refused, engine failure, client gone, stream cut), its
`finish` runs exactly once: the outcome goes to the observers, admission tickets are released,
and the upstream's in-flight count is given back.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from gateway.keys.principal import KeyPrincipal
from gateway.observability.context import RequestRecord, Usage
from gateway.proxy.hooks import ProxyOutcome, ProxyPipeline, Ticket, release_all
from gateway.proxy.upstreams import Upstream


class Exchange:
    __slots__ = (
        "_done",
        "_pipeline",
        "_started_wall",
        "principal",
        "queued_ms",
        "record",
        "request_bytes",
        "tickets",
        "upstream",
    )

    def __init__(
        self, pipeline: ProxyPipeline, record: RequestRecord, principal: KeyPrincipal
    ) -> None:
        self._pipeline = pipeline
        self._started_wall = time.time() - (time.perf_counter() - record.started)
        self._done = False
        self.record = record
        self.principal = principal
        self.tickets: list[Ticket] = []
        self.upstream: Upstream | None = None
        self.request_bytes = 0
        self.queued_ms: float | None = None

    def use(self, upstream: Upstream | None) -> None:
        """The upstream this request is sent to (None: none took it); counted as in flight."""
        if self.upstream is not None:
            self.upstream.in_flight -= 1
        self.upstream = upstream
        self.record.upstream = upstream.name if upstream is not None else None
        if upstream is not None:
            upstream.in_flight += 1

    def elapsed_ms(self) -> float:
        return round((time.perf_counter() - self.record.started) * 1000.0, 3)

    async def finish(
        self,
        status: int,
        *,
        usage: Usage | None = None,
        error: str | None = None,
        disconnected: bool = False,
        stream_events: int = 0,
    ) -> None:
        if self._done:
            return
        self._done = True
        record = self.record
        record.usage = usage
        if error is not None:
            record.error = error
        if disconnected:
            record.client_disconnected = True
        if self.upstream is not None:
            self.upstream.in_flight -= 1
            self.upstream = None
        pipeline = self._pipeline
        if not pipeline.observes and not self.tickets:
            return  # nobody listens: skip building the outcome
        outcome = ProxyOutcome(
            request_id=record.request_id,
            principal=self.principal,
            route=record.route or record.path,
            model=record.model,
            upstream=record.upstream,
            status=status,
            usage=usage,
            started_at=datetime.fromtimestamp(self._started_wall, UTC),
            latency_ms=self.elapsed_ms(),
            ttfb_ms=record.ttfb_ms,
            stream=record.stream,
            client_disconnected=record.client_disconnected,
            error=record.error,
            request_bytes=self.request_bytes,
            stream_events=stream_events,
            queued_ms=self.queued_ms,
        )
        pipeline.notify(outcome)
        if self.tickets:
            await release_all(self.tickets, outcome)
