"""The one pooled HTTP client every request to the engines goes through.

Keep-alive connections are reused across requests (opening one per request would cost more
than everything else the gateway does). Each phase of an exchange has its own limit:

- connect: opening a TCP connection (also how long to wait for a free pooled one);
- first byte: until the engine's response headers arrive (for a non-streamed answer that is
  the whole generation);
- idle: the longest silence between two chunks of a stream (enforced by the stream pump);
- total: the whole exchange, streams included.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from shared.settings import GatewaySettings

# vLLM's server (uvicorn) closes idle keep-alive connections after 5 s. Dropping ours a little
# earlier avoids sending a request on a connection the engine is closing at that moment.
_KEEPALIVE_EXPIRY_S = 4.0


@dataclass(frozen=True, slots=True)
class UpstreamTimeouts:
    connect_s: float
    first_byte_s: float
    idle_s: float
    total_s: float

    @classmethod
    def from_settings(cls, settings: GatewaySettings) -> UpstreamTimeouts:
        return cls(
            connect_s=settings.connect_timeout_s,
            first_byte_s=settings.first_byte_timeout_s,
            idle_s=settings.idle_timeout_s,
            total_s=settings.total_timeout_s,
        )

    def request_extension(self) -> dict[str, Any]:
        """httpcore's per-request timeouts: reads wait up to first byte; idle is the pump's job."""
        return {
            "connect": self.connect_s,
            "read": max(self.first_byte_s, self.idle_s),
            "write": self.first_byte_s,
            "pool": self.connect_s,
        }


def create_upstream_transport(settings: GatewaySettings) -> httpx.AsyncBaseTransport:
    """The connection pool to the engines (httpcore's, or aiohttp's behind the same interface)."""
    if settings.upstream_transport == "aiohttp":
        from gateway.proxy.transport import AiohttpTransport

        return AiohttpTransport(
            max_connections=settings.max_connections, keepalive_expiry=_KEEPALIVE_EXPIRY_S
        )
    return httpx.AsyncHTTPTransport(
        limits=httpx.Limits(
            max_connections=settings.max_connections,
            max_keepalive_connections=settings.max_connections,
            keepalive_expiry=_KEEPALIVE_EXPIRY_S,
        ),
        trust_env=False,  # the engines are internal: no proxy variables
        retries=0,  # a failed connect moves on to the next upstream instead
    )


def create_upstream_client(
    settings: GatewaySettings, transport: httpx.AsyncBaseTransport
) -> httpx.AsyncClient:
    """A client over the pool, for the gateway's own calls (health checks, metrics)."""
    timeouts = UpstreamTimeouts.from_settings(settings)
    return httpx.AsyncClient(
        transport=transport,
        timeout=httpx.Timeout(**timeouts.request_extension()),
        trust_env=False,
        follow_redirects=False,
    )
