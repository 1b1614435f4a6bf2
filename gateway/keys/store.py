"""Authentication on the hot path: the presented key -> a `KeyPrincipal`, or a clear 401.

Lookups are cached in-process for `cache_ttl_s` (unknown keys too, so guessing cannot hammer
the database), concurrent misses for one key share one query, and last-used times are written
in batches by a background task instead of one UPDATE per request.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.background import cancel_task
from gateway.db.errors import DatabaseUnavailable, database_errors
from gateway.db.models import ApiKey
from gateway.keys import errors
from gateway.keys.principal import KeyLimits, KeyPrincipal, model_limits_from
from gateway.keys.repository import KeyRepository
from gateway.keys.tokens import hash_key, looks_like_key
from shared.logging import get_logger

log = get_logger("gateway.keys")

# While the database is down, a key checked within this many seconds keeps working.
MAX_STALE_S = 300.0
MAX_CACHED_KEYS = 50_000


@dataclass(slots=True)
class _Entry:
    key_hash: str
    principal: KeyPrincipal | None  # None: no such key (cached too)
    revoked: bool
    expires_ts: float | None  # POSIX seconds, compared per request (expiry needs no refresh)
    loaded_at: float  # monotonic; the entry is trusted until loaded_at + TTL
    verified_at: float  # monotonic; when the database last confirmed it


def principal_of(row: ApiKey) -> KeyPrincipal:
    return KeyPrincipal(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        team=row.team,
        allowed_models=tuple(row.allowed_models) if row.allowed_models is not None else None,
        expires_at=row.expires_at,
        limits=KeyLimits(
            rpm=row.rpm,
            tpm=row.tpm,
            max_concurrency=row.max_concurrency,
            daily_tokens=row.daily_tokens,
            monthly_tokens=row.monthly_tokens,
        ),
        model_limits=model_limits_from(row.model_limits),
        tier=row.tier,
    )


class KeyStore:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        cache_ttl_s: float = 10.0,
        flush_interval_s: float = 15.0,
        max_entries: int = MAX_CACHED_KEYS,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._sessions = sessions
        self._ttl = cache_ttl_s
        self._flush_interval = flush_interval_s
        self._max_entries = max_entries
        self._monotonic = monotonic
        self._wall = wall
        self._cache: dict[str, _Entry] = {}  # by key hash, oldest first
        self._hash_by_id: dict[str, str] = {}
        self._loading: dict[str, asyncio.Task[_Entry]] = {}
        # Bumped by every eviction: a lookup that started before it must not re-cache.
        self._generation = 0
        self._used: dict[str, float] = {}  # key id -> POSIX time, waiting to be written
        self._flusher: asyncio.Task[None] | None = None

    async def authenticate(self, key: str | None) -> KeyPrincipal:
        if not key:
            raise errors.missing_key()
        if not looks_like_key(key):
            raise errors.malformed_key()
        digest = hash_key(key)
        entry = self._cache.get(digest)
        if entry is None or self._monotonic() - entry.loaded_at > self._ttl:
            entry = await self._refresh(digest, entry)
        principal = entry.principal
        # The hash was found by equality; compare once more in constant time anyway, so no
        # code path's timing depends on how much of a guessed hash matched.
        if principal is None or not hmac.compare_digest(entry.key_hash, digest):
            raise errors.unknown_key()
        if entry.revoked:
            raise errors.revoked_key(principal.id)
        now = self._wall()
        if entry.expires_ts is not None and entry.expires_ts <= now:
            assert principal.expires_at is not None
            raise errors.expired_key(principal.id, principal.expires_at)
        self._used[principal.id] = now
        return principal

    def evict(self, key_id: str) -> None:
        """Forget a key at once (it was revoked or changed through this process)."""
        self._generation += 1
        digest = self._hash_by_id.pop(key_id, None)
        if digest is not None:
            self._cache.pop(digest, None)

    def clear(self) -> None:
        self._generation += 1
        self._cache.clear()
        self._hash_by_id.clear()

    async def _refresh(self, digest: str, stale: _Entry | None) -> _Entry:
        task = self._loading.get(digest)
        if task is None:
            task = asyncio.create_task(self._load(digest, self._generation))
            self._loading[digest] = task
            task.add_done_callback(functools.partial(self._loading_done, digest))
        try:
            # Shielded: a client that disconnects must not cancel the lookup others await.
            return await asyncio.shield(task)
        except DatabaseUnavailable as exc:
            now = self._monotonic()
            if stale is not None and now - stale.verified_at <= MAX_STALE_S:
                log.warning("key database unreachable; using cached key", error=exc.message)
                # Ask the database again after another TTL, not on every request meanwhile
                # (a hanging database would otherwise stall each one).
                stale.loaded_at = now
                return stale
            log.error("key database unreachable; refusing request", error=exc.message)
            raise errors.KeyStoreUnavailable() from exc

    def _loading_done(self, digest: str, task: asyncio.Task[_Entry]) -> None:
        self._loading.pop(digest, None)
        if not task.cancelled():
            task.exception()  # retrieved here, so a failure nobody awaited is not reported

    async def _load(self, digest: str, generation: int) -> _Entry:
        with database_errors("the key database"):
            async with self._sessions() as session:
                row = await KeyRepository(session).get_by_hash(digest)
        entry = _Entry(
            key_hash=digest,
            principal=principal_of(row) if row is not None else None,
            revoked=row.revoked if row is not None else False,
            expires_ts=row.expires_at.timestamp() if row and row.expires_at else None,
            loaded_at=self._monotonic(),
            verified_at=self._monotonic(),
        )
        if generation == self._generation and self._ttl > 0:
            self._remember(digest, entry)
        return entry

    def _remember(self, digest: str, entry: _Entry) -> None:
        self._cache.pop(digest, None)
        self._cache[digest] = entry
        if entry.principal is not None:
            self._hash_by_id[entry.principal.id] = digest
        while len(self._cache) > self._max_entries:
            oldest, dropped = next(iter(self._cache.items()))
            del self._cache[oldest]
            if dropped.principal is not None:
                self._hash_by_id.pop(dropped.principal.id, None)

    # -- last-used times, written off the request path -------------------------------------

    def start(self) -> None:
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush_forever(), name="key-last-used")

    async def aclose(self) -> None:
        """Stop the background writer and write what is pending (called at shutdown)."""
        await cancel_task(self._flusher)
        self._flusher = None
        await self.flush()

    async def flush(self) -> None:
        if not self._used:
            return
        batch, self._used = self._used, {}
        used = {key_id: datetime.fromtimestamp(ts, UTC) for key_id, ts in batch.items()}
        try:
            with database_errors("the key database"):
                async with self._sessions() as session, session.begin():
                    await KeyRepository(session).touch(used)
        except Exception as exc:
            # Keep them for the next round; a newer use that arrived meanwhile wins.
            for key_id, ts in batch.items():
                self._used[key_id] = max(ts, self._used.get(key_id, ts))
            log.warning("could not record keys' last use; will retry", error=str(exc))

    async def _flush_forever(self) -> None:
        while True:
            await asyncio.sleep(self._flush_interval)
            await self.flush()
