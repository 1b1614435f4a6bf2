from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from gateway.db import Database
from gateway.db.models import ApiKey
from gateway.keys.errors import KeyNotFound
from gateway.keys.service import KeyService
from gateway.keys.tokens import hash_key
from shared.schemas.keys import KeyCreate, KeyUpdate


async def test_a_created_key_is_stored_only_as_hash_and_prefix(db: Database) -> None:
    created = await KeyService(db.sessions).create(
        KeyCreate(name="alice", team="ml", tier="interactive", models=["a", "b"], rpm=60)
    )
    async with db.sessions() as session:
        row = (await session.execute(select(ApiKey))).scalar_one()
    assert row.key_hash == hash_key(created.key)
    assert row.prefix == created.prefix == created.key[:11]
    assert created.key not in str([getattr(row, c.key) for c in ApiKey.__table__.columns])
    assert (created.name, created.team, created.tier) == ("alice", "ml", "interactive")
    assert created.allowed_models == ["a", "b"]
    assert created.limits.rpm == 60 and created.limits.tpm is None
    assert created.id.startswith("key_") and not created.revoked


async def test_keys_are_listed_and_filtered(db: Database) -> None:
    keys = KeyService(db.sessions)
    a = await keys.create(KeyCreate(name="a", team="ml"))
    b = await keys.create(KeyCreate(name="b", team="web"))
    await keys.revoke(b.id)
    assert [k.id for k in await keys.list()] == [a.id, b.id]
    assert [k.id for k in await keys.list(team="ml")] == [a.id]
    assert [k.id for k in await keys.list(revoked=False)] == [a.id]
    assert [k.id for k in await keys.list(revoked=True)] == [b.id]
    assert await keys.count() == 2


async def test_an_update_changes_only_the_fields_given(db: Database) -> None:
    keys = KeyService(db.sessions)
    made = await keys.create(
        KeyCreate(name="a", team="ml", rpm=5, tpm=100, models=["m"], expires_in_days=1)
    )
    updated = await keys.update(made.id, KeyUpdate(rpm=10, tier="batch"))
    assert updated.limits.rpm == 10 and updated.limits.tpm == 100
    assert updated.tier == "batch" and updated.team == "ml" and updated.allowed_models == ["m"]
    assert updated.expires_at == made.expires_at


async def test_null_clears_team_models_limits_and_expiry(db: Database) -> None:
    keys = KeyService(db.sessions)
    made = await keys.create(KeyCreate(name="a", team="ml", rpm=5, models=["m"], expires_in_days=1))
    cleared = await keys.update(
        made.id,
        KeyUpdate.model_validate({"team": None, "rpm": None, "models": None, "expires_at": None}),
    )
    assert cleared.team is None and cleared.limits.rpm is None
    assert cleared.allowed_models is None and cleared.expires_at is None
    assert (await keys.get(made.id)).model_dump() == cleared.model_dump()


async def test_a_relative_expiry_counts_from_now(db: Database) -> None:
    now = datetime(2030, 5, 1, 12, tzinfo=UTC)
    keys = KeyService(db.sessions, clock=lambda: now)
    made = await keys.create(KeyCreate(name="a", expires_in_days=2.5))
    assert made.expires_at == now + timedelta(days=2.5)


async def test_revoking_is_soft_and_idempotent(db: Database) -> None:
    changed: list[str] = []
    keys = KeyService(db.sessions, on_change=changed.append)
    made = await keys.create(KeyCreate(name="a"))
    first = await keys.revoke(made.id)
    again = await keys.revoke(made.id)
    assert first.revoked and first.revoked_at is not None
    assert again.revoked_at == first.revoked_at
    assert (await keys.get(made.id)).revoked
    assert changed == [made.id, made.id]


async def test_unknown_ids_are_not_found(db: Database) -> None:
    keys = KeyService(db.sessions)
    for call in (keys.get, keys.revoke):
        with pytest.raises(KeyNotFound, match="key_nope") as caught:
            await call("key_nope")
        assert caught.value.status == 404
    with pytest.raises(KeyNotFound):
        await keys.update("x" * 500, KeyUpdate(rpm=1))


async def test_a_pasted_key_is_not_repeated_in_the_not_found_message(db: Database) -> None:
    keys = KeyService(db.sessions)
    made = await keys.create(KeyCreate(name="a"))
    with pytest.raises(KeyNotFound) as caught:
        await keys.get(made.key)
    assert made.key not in caught.value.message
    assert "not a key id" in caught.value.message


@pytest.mark.parametrize(
    "fields",
    [
        {"name": ""},
        {"name": "a", "rpm": 0},
        {"name": "a", "tpm": -5},
        {"name": "a", "tier": "gold"},
        {"name": "a", "models": []},
        {"name": "a", "expires_in_days": 0},
        {"name": "a", "expires_at": "2001-01-01T00:00:00Z"},
        {"name": "a", "expires_in_days": 1, "expires_at": "2099-01-01T00:00:00Z"},
        {"name": "a", "rpmm": 5},
    ],
)
def test_bad_fields_are_refused(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        KeyCreate.model_validate(fields)


@pytest.mark.parametrize("fields", [{}, {"name": None}, {"tier": None}])
def test_empty_or_null_required_updates_are_refused(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        KeyUpdate.model_validate(fields)
