"""The engines behind the gateway: their health, the models they serve, and which one to call.

A background monitor asks every engine's `/health` (and, while it is healthy, `/v1/models`)
every few seconds; a failed connection marks an engine down at once, a passing check brings it
back. The proxy asks an `UpstreamSelector` (gateway/routing) for candidates in order, and tries
the next one only while nothing has reached the client (see ProxyService._open).
`Upstream.in_flight` counts this process's outstanding requests, for balancing.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit

import httpx
import msgspec

from gateway.keys.principal import KeyPrincipal
from shared.logging import get_logger

_log = get_logger("tollgate.upstreams")

# Models rarely change; ask again this often while healthy (and at once after recovering).
_MODELS_REFRESH_S = 60.0


class _ModelList(msgspec.Struct):
    # Each engine's model cards are kept whole (LoRA adapters carry `parent`, vLLM adds
    # `max_model_len`), so the gateway can answer /v1/models for several engines itself.
    data: list[dict[str, object]]


_models_decoder = msgspec.json.Decoder(_ModelList)


@dataclass(slots=True, eq=False)
class Upstream:
    """One engine's OpenAI server."""

    base_url: str
    name: str
    healthy: bool = True  # optimistic until the first check: the first request may be the check
    models: tuple[str, ...] = ()
    checked_at: float | None = None  # time.monotonic() of the last health check
    models_at: float | None = None
    model_cards: tuple[dict[str, object], ...] = ()
    in_flight: int = 0
    _urls: dict[str, httpx.URL] = field(default_factory=dict, repr=False)

    @classmethod
    def from_url(cls, url: str) -> Upstream:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"upstream must be an http(s) URL, got {url!r}")
        return cls(base_url=url.rstrip("/"), name=parts.netloc)

    def url(self, path: str) -> httpx.URL:
        """The engine URL of a gateway path, parsed once per distinct fixed path."""
        cached = self._urls.get(path)
        if cached is None:
            cached = httpx.URL(self.base_url + path)
            if len(self._urls) < 64:  # fixed routes only; paths with ids are not worth keeping
                self._urls[path] = cached
        return cached


class UpstreamSelector(Protocol):
    """Routing as the proxy sees it (implemented by gateway/routing's `ModelRouter`)."""

    def resolve(self, principal: KeyPrincipal, model: str) -> str:
        """The engine's name for the requested `model`; raises 403/404 as a GatewayError."""
        ...

    def candidates(self, model: str | None) -> Sequence[Upstream]:
        """Upstreams to try for an engine `model`, best first; empty means none is configured."""
        ...

    def models_document(self, principal: KeyPrincipal) -> bytes | None:
        """`/v1/models` for this key, or None to ask an engine."""
        ...


class UpstreamPool:
    """The configured upstreams and what the monitor knows about them."""

    def __init__(
        self,
        urls: Sequence[str],
        *,
        names: Sequence[str | None] = (),
        models_refresh_s: float = _MODELS_REFRESH_S,
    ) -> None:
        self.upstreams: tuple[Upstream, ...] = tuple(Upstream.from_url(u) for u in urls)
        for upstream, name in zip(self.upstreams, names, strict=False):
            if name:
                upstream.name = name
        self.models_refresh_s = models_refresh_s
        # Bumped whenever an engine's model list changes: routing rebuilds its index then.
        self.models_version = 0

    def __iter__(self) -> Iterator[Upstream]:
        return iter(self.upstreams)

    def __len__(self) -> int:
        return len(self.upstreams)

    def mark_down(self, upstream: Upstream, reason: str) -> None:
        if upstream.healthy:
            _log.warning("upstream down", upstream=upstream.name, reason=reason)
        upstream.healthy = False

    async def check(
        self,
        client: httpx.AsyncClient,
        upstream: Upstream,
        *,
        timeout_s: float,
        headers: dict[str, str],
    ) -> bool:
        """Ask one engine whether it is healthy (and refresh its models while it is)."""
        was_healthy = upstream.healthy
        try:
            response = await client.get(upstream.url("/health"), headers=headers, timeout=timeout_s)
            healthy = response.status_code == 200
            reason = f"/health answered {response.status_code}"
        except httpx.HTTPError as exc:
            healthy, reason = False, type(exc).__name__
        now = time.monotonic()
        upstream.checked_at = now
        if healthy:
            recovered = not was_healthy or upstream.models_at is None
            if recovered or now - (upstream.models_at or 0.0) > self.models_refresh_s:
                await self._refresh_models(client, upstream, timeout_s=timeout_s, headers=headers)
            if not was_healthy:
                _log.info("upstream healthy", upstream=upstream.name, models=list(upstream.models))
            upstream.healthy = True
        else:
            self.mark_down(upstream, reason)
        return healthy

    async def _refresh_models(
        self,
        client: httpx.AsyncClient,
        upstream: Upstream,
        *,
        timeout_s: float,
        headers: dict[str, str],
    ) -> None:
        with contextlib.suppress(httpx.HTTPError, msgspec.DecodeError, msgspec.ValidationError):
            response = await client.get(
                upstream.url("/v1/models"), headers=headers, timeout=timeout_s
            )
            if response.status_code == 200:
                listing = _models_decoder.decode(response.content)
                cards = tuple(m for m in listing.data if isinstance(m.get("id"), str))
                models = tuple(str(m["id"]) for m in cards)
                first = upstream.models_at is None
                if first or models != upstream.models or cards != upstream.model_cards:
                    upstream.models, upstream.model_cards = models, cards
                    self.models_version += 1
                upstream.models_at = time.monotonic()

    async def check_all(
        self, client: httpx.AsyncClient, *, timeout_s: float, headers: dict[str, str]
    ) -> list[bool]:
        return list(
            await asyncio.gather(
                *(
                    self.check(client, u, timeout_s=timeout_s, headers=headers)
                    for u in self.upstreams
                )
            )
        )

    async def monitor(
        self,
        client: httpx.AsyncClient,
        *,
        interval_s: float,
        timeout_s: float,
        headers: dict[str, str],
    ) -> None:
        """Check every upstream forever (cancel the task to stop)."""
        while True:
            try:
                await self.check_all(client, timeout_s=timeout_s, headers=headers)
            except Exception:  # never let the monitor die; the next round tries again
                _log.exception("upstream health check failed")
            await asyncio.sleep(interval_s)
