"""Key changes announced to every gateway, so a revocation is not served from another
gateway's cache for up to its TTL.

With `TOLLGATE_REDIS_URL` set, whoever changes a key (a gateway's admin API, or the CLI, which
writes the database directly) publishes the key's id on one Redis pub/sub channel
(`keys.invalidation_channel`); every gateway process subscribes and drops that key from its
cache, so its next request reads the database again. Pub/sub delivers to the processes
connected at that moment only: a gateway that lost its Redis connection drops its whole cache
when it is back (it may have missed messages). Without Redis, and while Redis is down, the
cache TTL (`keys.cache_ttl_s`, 10 s) remains the bound.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.background import cancel_task
from gateway.db.engine import redact_url
from shared.logging import get_logger

_log = get_logger("gateway.keys.invalidation")

_CONNECT_TIMEOUT_S = 2.0
_RETRY_MAX_S = 5.0


def _client(url: str) -> Redis:
    # No socket timeout: a subscriber is idle between messages; Redis PINGs find dead links.
    return Redis.from_url(url, socket_connect_timeout=_CONNECT_TIMEOUT_S, health_check_interval=15)


async def publish_key_change(url: str, channel: str, key_id: str) -> bool:
    """Announce one changed key (one short connection: the CLI's way). False when Redis could
    not be told; the change then reaches other gateways within their cache TTL."""
    client = _client(url)
    try:
        await asyncio.wait_for(client.publish(channel, key_id), timeout=_CONNECT_TIMEOUT_S * 2)
        return True
    except (RedisError, OSError, TimeoutError) as exc:
        _log.warning(
            "could not announce a key change; other gateways see it within their cache TTL",
            redis=redact_url(url),
            error=type(exc).__name__,
        )
        return False
    finally:
        await client.aclose()


def change_announcer(
    redis_url: str | None, channel: str
) -> Callable[[str], Awaitable[bool]] | None:
    """The CLI's `on_change` for the key service: publish when Redis is configured."""
    if not redis_url:
        return None

    async def announce(key_id: str) -> bool:
        return await publish_key_change(redis_url, channel, key_id)

    return announce


class KeyInvalidation:
    """One gateway process's subscription, and its way to announce its own changes."""

    def __init__(
        self,
        url: str,
        channel: str,
        *,
        evict: Callable[[str], None],
        clear: Callable[[], None],
    ) -> None:
        self._url = url
        self._channel = channel
        self._evict = evict
        self._clear = clear
        self._client = _client(url)
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    async def start(self, *, wait_s: float = 3.0) -> None:
        """Subscribe in the background; wait a little for the first subscription so changes
        made right after start-up are heard (a Redis that is down does not stop the gateway)."""
        self._task = asyncio.create_task(self._listen_forever(), name="key-invalidation")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(), timeout=wait_s)

    async def aclose(self) -> None:
        await cancel_task(self._task)
        self._task = None
        await self._client.aclose()

    async def publish(self, key_id: str) -> None:
        try:
            await asyncio.wait_for(
                self._client.publish(self._channel, key_id), timeout=_CONNECT_TIMEOUT_S
            )
        except (RedisError, OSError, TimeoutError) as exc:
            _log.warning(
                "could not announce a key change; other gateways see it within their cache TTL",
                error=type(exc).__name__,
            )

    async def _listen_forever(self) -> None:
        delay = 0.1
        missed = False
        while True:
            try:
                async with self._client.pubsub() as pubsub:
                    await pubsub.subscribe(self._channel)
                    if missed:  # messages sent while we were away are lost: forget everything
                        self._clear()
                        _log.info("key invalidation resubscribed; key cache cleared")
                    self._subscribed.set()
                    delay = 0.1
                    async for message in pubsub.listen():
                        if message.get("type") != "message":
                            continue
                        data = message.get("data")
                        key_id = data.decode() if isinstance(data, bytes) else str(data)
                        self._evict(key_id)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis down or the link broke: retry, never die
                if not missed:
                    _log.warning(
                        "key invalidation lost its Redis subscription; retrying",
                        redis=redact_url(self._url),
                        error=type(exc).__name__,
                    )
                missed = True
                await asyncio.sleep(delay)
                delay = min(delay * 2, _RETRY_MAX_S)
