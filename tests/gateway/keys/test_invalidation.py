"""Key changes announced over Redis pub/sub reach every subscribed gateway process; one that
lost Redis forgets its whole key cache when it is back (it may have missed announcements);
an announcer without Redis never fails the change it announces."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

from gateway.keys.invalidation import KeyInvalidation, publish_key_change
from tests.gateway.limits.support import own_redis

REDIS_URL = "redis://127.0.0.1:6379/0"  # pub/sub ignores the database number


class Seen:
    def __init__(self) -> None:
        self.evicted: list[str] = []
        self.cleared = 0

    def evict(self, key_id: str) -> None:
        self.evicted.append(key_id)

    def clear(self) -> None:
        self.cleared += 1


async def _until(condition: object, timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        await asyncio.sleep(0.02)
    return False


async def test_a_change_announced_by_one_process_reaches_every_subscriber() -> None:
    channel = f"tollgate:test:{uuid.uuid4().hex}"
    gateways = [Seen(), Seen()]
    subscribers = [
        KeyInvalidation(REDIS_URL, channel, evict=s.evict, clear=s.clear) for s in gateways
    ]
    for subscriber in subscribers:
        await subscriber.start()
    try:
        await subscribers[0].publish("key_a")  # a gateway's admin API
        assert await publish_key_change(REDIS_URL, channel, "key_b")  # the CLI
        assert await _until(lambda: all(s.evicted == ["key_a", "key_b"] for s in gateways))
        assert all(s.cleared == 0 for s in gateways)
    finally:
        for subscriber in subscribers:
            await subscriber.aclose()


async def test_a_subscriber_that_lost_redis_clears_its_cache_when_redis_is_back(
    tmp_path: Path,
) -> None:
    channel = f"tollgate:test:{uuid.uuid4().hex}"
    with own_redis(tmp_path) as server:
        seen = Seen()
        subscriber = KeyInvalidation(server.url, channel, evict=seen.evict, clear=seen.clear)
        await subscriber.start()
        try:
            server.kill()
            await asyncio.sleep(0.3)
            server.start()  # same port
            assert await _until(lambda: seen.cleared == 1, timeout_s=15)
            # ...and it listens again.
            assert await publish_key_change(server.url, channel, "key_c")
            assert await _until(lambda: seen.evicted == ["key_c"])
        finally:
            await subscriber.aclose()


async def test_an_announcement_without_redis_fails_softly() -> None:
    # False (logged), not an exception: the key was changed in the database all the same.
    assert not await publish_key_change("redis://127.0.0.1:9/0", "tollgate:test:none", "key_d")
