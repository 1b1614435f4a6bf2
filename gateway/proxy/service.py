"""Forwarding one request to an engine and turning its answer into the client's response.

The hot path per request: read the body (size-limited), check the few required fields, check
the key may use the model, run admission hooks, pick an upstream, send the client's bytes with
cleaned headers through the shared pool, and either relay the stream or return the body. No
per-request parsing beyond that, no re-encoding of the engine's bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
from litestar import Litestar, Request

from gateway.background import cancel_task
from gateway.errors import (
    BadGateway,
    GatewayError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from gateway.keys.principal import KeyPrincipal
from gateway.observability.context import RECORD_SCOPE_KEY, RequestRecord
from gateway.observability.headers import downstream_headers, upstream_headers
from gateway.proxy.bodies import BodyFacts, ClientDisconnected, read_body
from gateway.proxy.client import (
    UpstreamTimeouts,
    create_upstream_client,
    create_upstream_transport,
)
from gateway.proxy.exchange import Exchange
from gateway.proxy.hooks import ProxyPipeline, ProxyRequest
from gateway.proxy.responses import (
    JSON_HEADERS,
    RawResponse,
    engine_error,
    models_for,
    usage_from_body,
)
from gateway.proxy.routes import ProxyRoute
from gateway.proxy.stream_usage import UsageEventFilter, with_usage_requested
from gateway.proxy.streaming import DisconnectWatch, UpstreamStream
from gateway.proxy.upstreams import UpstreamPool, UpstreamSelector
from gateway.routing.body import with_model
from gateway.tracing import span
from shared.logging import get_logger
from shared.settings import GatewaySettings

_log = get_logger("tollgate.proxy")

_SSE = b"text/event-stream"
_CONNECT_FAILURES = (httpx.ConnectError, httpx.ConnectTimeout)
_CLOSED_BEFORE_HEADERS = (httpx.RemoteProtocolError, httpx.ReadError)
_RETRY_STATUSES = frozenset({502, 503})


class ProxyService:
    """Built once per app; its lifespan owns the pooled client and the health monitor."""

    def __init__(
        self,
        settings: GatewaySettings,
        pool: UpstreamPool,
        selector: UpstreamSelector,
        pipeline: ProxyPipeline,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.pool = pool
        self.selector = selector
        self.pipeline = pipeline
        self.timeouts = UpstreamTimeouts.from_settings(settings)
        self._timeout_extension = self.timeouts.request_extension()
        key = settings.engine_api_key
        self._engine_auth = b"Bearer " + key.get_secret_value().encode() if key else None
        self.engine_headers = (
            {"authorization": f"Bearer {key.get_secret_value()}"} if key is not None else {}
        )
        # One pool: the proxy uses the transport directly, the client (health, metrics) wraps it.
        self._transport = transport or create_upstream_transport(settings)
        self._client: httpx.AsyncClient | None = None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            raise RuntimeError("the proxy is not running (the app's lifespan has not started)")
        return self._client

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: Litestar) -> AsyncIterator[None]:
        """Open the pool and watch the upstreams while the app runs (engines may start later)."""
        self._client = create_upstream_client(self.settings, self._transport)  # owns the transport
        monitor = asyncio.create_task(
            self.pool.monitor(
                self._client,
                interval_s=self.settings.health_interval_s,
                timeout_s=min(self.timeouts.connect_s, 5.0),
                headers=self.engine_headers,
            ),
            name="tollgate-upstream-monitor",
        )
        try:
            yield
        finally:
            await cancel_task(monitor)
            await self._client.aclose()
            self._client = None

    async def forward(
        self, request: Request[Any, Any, Any], principal: KeyPrincipal, route: ProxyRoute
    ) -> Any:
        """Proxy one request; returns an ASGI response, or raises a GatewayError."""
        record: RequestRecord = request.scope[RECORD_SCOPE_KEY]  # type: ignore[literal-required]
        record.principal = principal
        record.route = route.path
        exchange = Exchange(self.pipeline, record, principal)
        try:
            return await self._forward(request, route, exchange)
        except GatewayError as exc:
            # An admitted request that failed later (an engine timeout) still says where its
            # key stands (x-ratelimit-*); an admission's own refusal brings its headers.
            for ticket in exchange.tickets:
                for name, value in ticket.headers:
                    exc.headers.setdefault(name.decode(), value.decode())
            await exchange.finish(exc.status, error=exc.code or exc.type)
            raise
        except ClientDisconnected:
            await exchange.finish(499, error="client_disconnected", disconnected=True)
            return RawResponse(499, [], b"")  # nobody reads it; it only sets the logged status
        except BaseException:
            await exchange.finish(500, error="internal_error")
            raise

    async def _forward(
        self, request: Request[Any, Any, Any], route: ProxyRoute, exchange: Exchange
    ) -> Any:
        scope = request.scope
        record = exchange.record
        principal = exchange.principal
        headers = scope["headers"]
        body = b""
        model: str | None = None
        engine_model: str | None = None
        facts: BodyFacts | None = None
        if route.method == "POST":
            body = await read_body(request.receive, headers, self.settings.max_body_bytes)
            if route.body is not None:
                facts = route.body.inspect(body)
                model = facts.model
                record.model = model
                # The key's and team's model lists (403), a model no engine serves (404).
                engine_model = self.selector.resolve(principal, model)
                if engine_model != model:  # an alias: the engine knows its own name only
                    body = with_model(body, engine_model)
        exchange.request_bytes = len(body)
        if self.pipeline.admits:
            admitted_at = time.perf_counter()
            try:
                exchange.tickets = await self.pipeline.admit(
                    ProxyRequest(
                        record.request_id,
                        principal,
                        route.path,
                        model,
                        len(body),
                        max_tokens=facts.max_tokens if facts else None,
                        n=facts.n if facts else 1,
                        stream=facts.stream if facts else False,
                        headers=headers,
                        receive=request.receive,
                    )
                )
            finally:  # refused or left while queued: the wait still shows (ledger, log)
                exchange.queued_ms = record.queued_ms = round(
                    (time.perf_counter() - admitted_at) * 1000.0, 3
                )
            for ticket in exchange.tickets:
                if ticket.rewrite is not None:
                    body = ticket.rewrite(body)

        # Streams always ask the engine for usage (limits and the ledger settle on it); a
        # client that did not ask for it does not get that event (stream_usage.py).
        usage_filter: UsageEventFilter | None = None
        if route.stream_usage and facts is not None and facts.stream and not facts.include_usage:
            body = with_usage_requested(body, facts.stream_options_given)
            usage_filter = UsageEventFilter()

        if route.lists_models:  # several engines or aliases: the gateway knows the list
            listing = self.selector.models_document(principal)
            if listing is not None:
                listed = [*JSON_HEADERS, *(h for t in exchange.tickets for h in t.headers)]
                await exchange.finish(200)
                return RawResponse(200, listed, listing)

        path: str = scope["path"]
        query: bytes = scope["query_string"]
        forwarded = upstream_headers(headers, record.request_id.encode(), self._engine_auth)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeouts.total_s
        waiting_for = "headers"
        try:
            async with (
                DisconnectWatch(request.receive),
                asyncio.timeout_at(
                    min(deadline, loop.time() + self.timeouts.first_byte_s)
                ) as limit,
            ):
                record.engine_sent = time.perf_counter()  # engine time is not overhead
                response = await self._open(
                    exchange, route.method, path, query, forwarded, body, engine_model
                )
                record.engine_answered = time.perf_counter()
                response_headers, content_type = downstream_headers(response.headers.raw)
                for ticket in exchange.tickets:
                    response_headers.extend(ticket.headers)
                if content_type.startswith(_SSE) and response.status_code < 400:
                    record.stream = True
                    return UpstreamStream(
                        exchange,
                        response,
                        response_headers,
                        deadline=deadline,
                        idle_s=self.timeouts.idle_s,
                        usage_filter=usage_filter,
                    )
                waiting_for = "body"
                limit.reschedule(deadline)
                try:
                    content = await response.aread()
                    record.engine_answered = time.perf_counter()
                finally:
                    await response.aclose()
        except (TimeoutError, httpx.TimeoutException):
            if waiting_for == "headers" and loop.time() < deadline - 0.001:
                limit_s = self.timeouts.first_byte_s
            else:
                limit_s = self.timeouts.total_s
            raise UpstreamTimeout(f"The engine did not answer within {limit_s:g} s.") from None
        except httpx.HTTPError as exc:
            raise BadGateway(
                f"The engine's answer broke off ({type(exc).__name__})."
                if waiting_for == "body"
                else f"The engine closed the connection without answering ({type(exc).__name__})."
            ) from None
        status = response.status_code
        record.ttfb_ms = exchange.elapsed_ms()
        if status >= 400:
            return await self._engine_error(exchange, status, content, response_headers)
        if route.lists_models:
            content = models_for(principal, content)
        usage = usage_from_body(content) if model is not None else None
        await exchange.finish(status, usage=usage)
        return RawResponse(status, response_headers, content)

    async def _open(
        self,
        exchange: Exchange,
        method: str,
        path: str,
        query: bytes,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        model: str | None = None,
    ) -> httpx.Response:
        """Send the request to the first upstream that accepts a connection; wait for headers.

        It goes to the pooled transport itself: the client's cookie jar, redirects and auth
        flows have no place in a proxy (a jar would even carry one user's cookies to the
        next), and skipping them saves a sixth of the gateway's CPU per request.

        Another engine is tried while nothing has reached the client: on a connection that
        could not be opened, one closed before any response, or a 502/503 from the engine.
        """
        candidates = self.selector.candidates(model)
        if not candidates:
            raise UpstreamUnavailable("No engine is configured behind this gateway.")
        content = body if method == "POST" else None
        for upstream in candidates:
            url = upstream.url(path)
            if query:
                url = url.copy_with(query=query)
            request = httpx.Request(
                method,
                url,
                headers=headers,
                content=content,
                extensions={"timeout": self._timeout_extension},
            )
            exchange.use(upstream)
            last = upstream is candidates[-1]
            try:
                with span("tollgate.upstream", upstream=upstream.name, path=path):
                    response = await self._transport.handle_async_request(request)
            except _CONNECT_FAILURES as exc:
                self.pool.mark_down(upstream, type(exc).__name__)
                exchange.use(None)
                continue  # nothing was sent: another engine may take it
            except _CLOSED_BEFORE_HEADERS as exc:
                if last:
                    raise
                _log.warning(
                    "engine failed before answering; retrying on another",
                    upstream=upstream.name,
                    reason=type(exc).__name__,
                )
                exchange.use(None)
                continue  # the engine went away before answering (killed mid-run)
            except httpx.PoolTimeout:
                raise UpstreamUnavailable(
                    "The gateway has no free connection to the engine right now; try again.",
                    code="upstream_busy",
                ) from None
            if response.status_code in _RETRY_STATUSES and not last:
                _log.warning(
                    "engine failed before answering; retrying on another",
                    upstream=upstream.name,
                    reason=f"status {response.status_code}",
                )
                await response.aclose()
                exchange.use(None)
                continue  # the engine refused it unanswered: the next one may not
            return response
        if model is not None and len(self.pool) > 1:
            raise UpstreamUnavailable(
                f"No healthy engine serves the model '{exchange.record.model}' right now; "
                "try again shortly."
            )
        raise UpstreamUnavailable("The engine is not reachable right now; try again shortly.")

    async def _engine_error(
        self,
        exchange: Exchange,
        status: int,
        content: bytes,
        headers: list[tuple[bytes, bytes]],
    ) -> RawResponse:
        """An engine error goes to the client with its message intact, in OpenAI's shape."""
        if status == 401:
            # The engine refused *our* credentials; the client's key was fine.
            upstream = exchange.upstream.name if exchange.upstream else None
            _log.error("engine refused the gateway's engine key", upstream=upstream)
            raise BadGateway(
                "The engine refused the gateway's credentials; tell the operator.",
                code="engine_auth_failed",
            )
        wrapped = engine_error(status, content)
        if wrapped is not None:
            content = wrapped
            headers = [h for h in headers if h[0] != b"content-type"] + JSON_HEADERS
        code = f"engine_{status}"
        await exchange.finish(status, error=code)
        return RawResponse(status, headers, content)
