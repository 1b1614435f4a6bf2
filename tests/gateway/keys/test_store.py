from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from gateway.db import Database, create_engine, session_factory
from gateway.db.models import ApiKey
from gateway.errors import AuthenticationFailed
from gateway.keys.errors import KeyStoreUnavailable
from gateway.keys.service import KeyService
from gateway.keys.store import KeyStore
from shared.schemas.keys import KeyCreate, KeyUpdate
from tests.gateway.keys.helpers import count_statements


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _store(db: Database, clock: Clock | None = None, ttl: float = 10.0) -> KeyStore:
    return KeyStore(db.sessions, cache_ttl_s=ttl, monotonic=clock or time.monotonic)


async def _failure(store: KeyStore, key: str | None) -> AuthenticationFailed:
    with pytest.raises(AuthenticationFailed) as caught:
        await store.authenticate(key)
    assert caught.value.status == 401 and caught.value.code == "invalid_api_key"
    if key:
        assert key not in caught.value.message
    return caught.value


async def test_a_valid_key_authenticates_as_its_principal(db: Database) -> None:
    made = await KeyService(db.sessions).create(
        KeyCreate(name="alice", team="ml", tier="batch", models=["m"], rpm=3, monthly_tokens=10**12)
    )
    principal = await _store(db).authenticate(made.key)
    assert (principal.id, principal.name, principal.team) == (made.id, "alice", "ml")
    assert principal.prefix == made.prefix and principal.tier == "batch"
    assert principal.allowed_models == ("m",) and principal.may_use("m")
    assert not principal.may_use("other")
    assert principal.limits.rpm == 3 and principal.limits.monthly_tokens == 10**12


async def test_each_kind_of_bad_key_gets_its_own_message(db: Database) -> None:
    keys = KeyService(db.sessions)
    store = _store(db)
    revoked = await keys.create(KeyCreate(name="r"))
    await keys.revoke(revoked.id)
    expired = await keys.create(KeyCreate(name="e", expires_in_days=1))
    async with db.sessions() as session, session.begin():
        await session.execute(
            update(ApiKey)
            .where(ApiKey.id == expired.id)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    unknown = "tg-" + "A" * 43
    messages = {
        "missing": (await _failure(store, None)).message,
        "malformed": (await _failure(store, "sk-not-ours")).message,
        "unknown": (await _failure(store, unknown)).message,
        "revoked": (await _failure(store, revoked.key)).message,
        "expired": (await _failure(store, expired.key)).message,
    }
    assert "Missing API key" in messages["missing"]
    assert "Malformed API key" in messages["malformed"]
    assert "Invalid API key" in messages["unknown"]
    assert "revoked" in messages["revoked"] and revoked.id in messages["revoked"]
    assert "expired" in messages["expired"] and expired.id in messages["expired"]
    assert len(set(messages.values())) == 5


async def test_a_key_expires_while_cached(db: Database) -> None:
    made = await KeyService(db.sessions).create(KeyCreate(name="e", expires_in_days=1))
    wall = [time.time()]
    store = KeyStore(db.sessions, cache_ttl_s=3600, wall=lambda: wall[0])
    await store.authenticate(made.key)
    wall[0] += 2 * 86400
    assert "expired" in (await _failure(store, made.key)).message


async def test_cached_keys_need_no_sql(db: Database) -> None:
    made = await KeyService(db.sessions).create(KeyCreate(name="a"))
    store = _store(db)
    await store.authenticate(made.key)
    with count_statements(db.engine) as sql:
        for _ in range(100):
            await store.authenticate(made.key)
        await _failure(store, "tg-" + "B" * 43)
        await _failure(store, "tg-" + "B" * 43)  # unknown keys are cached too
    assert len(sql) == 1


async def test_the_cache_is_refreshed_after_its_ttl(db: Database) -> None:
    keys = KeyService(db.sessions)  # no eviction hook: like a change made by another process
    made = await keys.create(KeyCreate(name="a", rpm=1))
    clock = Clock()
    store = _store(db, clock, ttl=10)
    assert (await store.authenticate(made.key)).limits.rpm == 1
    await keys.update(made.id, KeyUpdate(rpm=2))
    await keys.revoke(made.id)
    clock.now += 9
    assert (await store.authenticate(made.key)).limits.rpm == 1  # still within the TTL
    clock.now += 2
    assert "revoked" in (await _failure(store, made.key)).message


async def test_revoking_through_this_process_takes_effect_at_once(db: Database) -> None:
    store = _store(db, Clock(), ttl=3600)
    keys = KeyService(db.sessions, on_change=store.evict)
    made = await keys.create(KeyCreate(name="a", rpm=1))
    await store.authenticate(made.key)
    assert (await store.authenticate(made.key)).limits.rpm == 1
    await keys.update(made.id, KeyUpdate(rpm=7))
    assert (await store.authenticate(made.key)).limits.rpm == 7
    await keys.revoke(made.id)
    assert "revoked" in (await _failure(store, made.key)).message


class _HeldSession:
    """A session whose queries answer only once `gate` opens (a slow database)."""

    def __init__(self, db: Database, gate: asyncio.Event) -> None:
        self._session = db.sessions()
        self._gate = gate

    async def __aenter__(self) -> _HeldSession:
        await self._session.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._session.__aexit__(*exc)

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        result = await self._session.execute(*args, **kwargs)
        await self._gate.wait()
        return result


async def test_a_revocation_racing_a_lookup_is_not_cached_over(db: Database) -> None:
    gate = asyncio.Event()
    store = KeyStore(lambda: _HeldSession(db, gate), cache_ttl_s=3600)  # type: ignore[arg-type]
    keys = KeyService(db.sessions, on_change=store.evict)
    made = await keys.create(KeyCreate(name="a"))
    lookup = asyncio.create_task(store.authenticate(made.key))
    await asyncio.sleep(0.05)  # the lookup has read the key, not yet revoked
    await keys.revoke(made.id)
    gate.set()
    assert (await lookup).id == made.id  # it read the key before the revocation
    store._sessions = db.sessions
    assert "revoked" in (await _failure(store, made.key)).message


async def test_concurrent_misses_for_one_key_share_one_query(db: Database) -> None:
    made = await KeyService(db.sessions).create(KeyCreate(name="a"))
    store = _store(db)
    with count_statements(db.engine) as sql:
        principals = await asyncio.gather(*(store.authenticate(made.key) for _ in range(20)))
    assert {p.id for p in principals} == {made.id}
    assert len([s for s in sql if "api_keys" in s]) == 1


async def test_last_use_is_written_in_batches_off_the_request_path(db: Database) -> None:
    keys = KeyService(db.sessions)
    a = await keys.create(KeyCreate(name="a"))
    b = await keys.create(KeyCreate(name="b"))
    store = _store(db)
    for _ in range(50):
        await store.authenticate(a.key)
        await store.authenticate(b.key)
    assert (await keys.get(a.id)).last_used_at is None  # nothing written per request
    with count_statements(db.engine) as sql:
        await store.flush()
    assert len([s for s in sql if s.lstrip().upper().startswith("UPDATE")]) == 1
    used = [(await keys.get(k.id)).last_used_at for k in (a, b)]
    assert all(u is not None and abs(u - datetime.now(UTC)) < timedelta(minutes=1) for u in used)


async def test_last_use_is_flushed_at_shutdown(db: Database) -> None:
    made = await KeyService(db.sessions).create(KeyCreate(name="a"))
    store = KeyStore(db.sessions, flush_interval_s=3600)
    store.start()
    await store.authenticate(made.key)
    await store.aclose()
    async with db.sessions() as session:
        row = (await session.execute(select(ApiKey))).scalar_one()
    assert row.last_used_at is not None


async def test_last_use_survives_a_failed_write(db: Database, tmp_path: object) -> None:
    made = await KeyService(db.sessions).create(KeyCreate(name="a"))
    broken = create_engine("postgresql+asyncpg://nobody@127.0.0.1:9/none")
    store = KeyStore(db.sessions)
    await store.authenticate(made.key)
    store._sessions = session_factory(broken)  # the database goes away
    await store.flush()  # logs a warning, keeps the time
    store._sessions = db.sessions
    await store.flush()
    await broken.dispose()
    assert (await KeyService(db.sessions).get(made.id)).last_used_at is not None


async def test_a_database_outage_is_a_503_not_a_crash(db: Database) -> None:
    made = await KeyService(db.sessions).create(KeyCreate(name="a"))
    broken = create_engine("postgresql+asyncpg://nobody@127.0.0.1:9/none")
    clock = Clock()
    store = KeyStore(session_factory(broken), cache_ttl_s=10, monotonic=clock)
    try:
        with pytest.raises(KeyStoreUnavailable) as caught:
            await store.authenticate(made.key)
        assert caught.value.status == 503 and made.key not in caught.value.message
        # A key seen shortly before the outage keeps working through it.
        store._sessions = db.sessions
        await store.authenticate(made.key)
        attempts: list[int] = []

        def broken_sessions() -> Any:
            attempts.append(1)
            return session_factory(broken)()

        store._sessions = broken_sessions  # type: ignore[assignment]
        clock.now += 60
        assert (await store.authenticate(made.key)).id == made.id
        clock.now += 5
        assert (await store.authenticate(made.key)).id == made.id
        assert len(attempts) == 1  # not one database attempt per request during the outage
        clock.now += 3600
        with pytest.raises(KeyStoreUnavailable):
            await store.authenticate(made.key)
    finally:
        await broken.dispose()
