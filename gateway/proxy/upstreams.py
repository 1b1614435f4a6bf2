"""The engines behind the gateway: their health, the models they serve, and which one to call.

A background monitor asks every engine's `/health` (and, while it is healthy, `/v1/models`)
every few seconds; a failed connection marks an engine down at once. The proxy asks an
`UpstreamSelector` for candidates in order and tries the next one only when a connection could
not even be opened (nothing was sent, so nothing runs twice). Balancing by outstanding requests
is a later selector; `Upstream.in_flight` is kept for it.
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

from shared.logging import get_logger

_log = get_logger("tollgate.upstreams")

# Models rarely change; ask again this often while healthy (and at once after recovering).
_MODELS_REFRESH_S = 60.0


class _Model(msgspec.Struct):
    id: str


class _ModelList(msgspec.Struct):
    data: list[_Model]


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

    def serves(self, model: str | None) -> bool:
        return model is None or not self.models or model in self.models


class UpstreamSelector(Protocol):
    def candidates(self, model: str | None) -> Sequence[Upstream]:
        """Upstreams to try for `model`, best first; empty means none is configured."""
        ...


class UpstreamPool:
    """The configured upstreams and what the monitor knows about them."""

    def __init__(self, urls: Sequence[str]) -> None:
        self.upstreams: tuple[Upstream, ...] = tuple(Upstream.from_url(u) for u in urls)

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
            if recovered or now - (upstream.models_at or 0.0) > _MODELS_REFRESH_S:
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
                upstream.models = tuple(m.id for m in listing.data)
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


class HealthyFirstSelector:
    """Healthy upstreams that serve the model, then the rest (their state may be stale)."""

    def __init__(self, pool: UpstreamPool) -> None:
        self._pool = pool

    def candidates(self, model: str | None) -> Sequence[Upstream]:
        upstreams = self._pool.upstreams
        if len(upstreams) == 1:  # the common case: nothing to choose
            return upstreams
        ranked = sorted(upstreams, key=lambda u: (not u.healthy, not u.serves(model)))
        return ranked
